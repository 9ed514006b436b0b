import { ConfigError, loadConfig, type Config } from './config';
import { createLogger, type Logger } from './logger';
import type { RunningService } from './service';

/**
 * Runs services until SIGINT or SIGTERM, then stops them in reverse order.
 * The one place that reads the environment and exits the process.
 */
export const runMain = async (
  name: string,
  start: (config: Config, logger: Logger) => Promise<RunningService[]>,
): Promise<void> => {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exit(1);
  }
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.NODE_ENV !== 'production' });
  let services: RunningService[];
  try {
    services = await start(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, `${name} failed to start`);
    logger.flush();
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
    return;
  }
  const shutdown = async (signal: string) => {
    logger.info({ signal }, `${name} stopping`);
    for (const service of [...services].reverse()) await service.stop();
    logger.flush();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      shutdown(signal).then(
        () => process.exit(0),
        (error: unknown) => {
          logger.fatal({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
};
