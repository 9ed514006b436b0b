import { ConfigError, loadConfig, type CommonConfig, type CommonKeys, type ConfigOf, type ConfigSpec } from './config';
import { createLogger, type Logger } from './logger';
import type { RunningService } from './service';

/**
 * Runs services until SIGINT or SIGTERM, then stops them in reverse order:
 * each stops accepting, finishes what is in flight (up to SHUTDOWN_GRACE_MS)
 * and closes its log. A shutdown that overruns all grace periods exits with 1.
 * The one place that exits the process; it reads the environment through `loadConfig`.
 */
export const runMain = async <T extends CommonKeys>(
  name: string,
  /** A function: called first, inside the config check (the spec itself is read from a file). */
  spec: ConfigSpec<T> | (() => ConfigSpec<T>),
  start: (config: ConfigOf<ConfigSpec<T>>, logger: Logger, fatal: (error: Error) => void) => Promise<RunningService[]>,
): Promise<void> => {
  let config: ConfigOf<ConfigSpec<T>>;
  try {
    config = loadConfig(typeof spec === 'function' ? spec() : spec, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exit(1);
  }
  // Every spec includes the common keys (T extends CommonKeys); TypeScript cannot resolve them through the generic.
  const common = config as unknown as CommonConfig;
  const logger = createLogger({ level: common.LOG_LEVEL, pretty: common.NODE_ENV === 'development' });
  // A service that cannot go on (its log cannot be written) exits; a restart replays the log.
  const fatal = (error: Error) => {
    logger.fatal({ err: error }, `${name} cannot continue; exiting`);
    logger.flush();
    process.exit(1);
  };
  let services: RunningService[];
  try {
    services = await start(config, logger, fatal);
  } catch (error) {
    logger.fatal({ err: error }, `${name} failed to start`);
    logger.flush();
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
    return;
  }
  const shutdown = async (signal: string) => {
    logger.info({ signal, graceMs: common.SHUTDOWN_GRACE_MS }, `${name}: shutting down`);
    const deadline = setTimeout(
      () => {
        logger.fatal('shutdown overran its grace period; exiting');
        logger.flush();
        process.exit(1);
      },
      common.SHUTDOWN_GRACE_MS * services.length + 5_000,
    );
    deadline.unref();
    for (const running of [...services].reverse()) await running.stop(common.SHUTDOWN_GRACE_MS);
    clearTimeout(deadline);
    logger.info(`${name}: shutdown complete`);
    logger.flush();
  };
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      // A terminal's Ctrl-C can reach us twice (directly and relayed by npm): the deadline bounds the wait instead.
      if (stopping) return;
      stopping = true;
      shutdown(signal).then(
        () => process.exit(0),
        (error: unknown) => {
          logger.fatal({ err: error }, 'shutdown failed');
          logger.flush();
          process.exit(1);
        },
      );
    });
  }
};
