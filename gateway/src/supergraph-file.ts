import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { SupergraphSdlHook } from '@apollo/gateway';
import type { Logger } from 'pino';

export interface SupergraphFileOptions {
  readonly file: string;
  readonly logger: Logger;
  /** Told the outcome of each reload attempt. */
  readonly onReload?: (result: 'updated' | 'failed') => void;
  /** Changes closer together than this are read once. */
  readonly debounceMs?: number;
}

/**
 * Loads the supergraph from a file and follows it: a changed file replaces the
 * schema without a restart; a file that does not load (half written, invalid)
 * is logged and the previous schema stays.
 */
export const supergraphFromFile =
  ({ file, logger, onReload, debounceMs = 100 }: SupergraphFileOptions): SupergraphSdlHook =>
  async ({ update }) => {
    let current = await readFile(file, 'utf8');
    let timer: NodeJS.Timeout | undefined;
    const reload = async () => {
      let next: string;
      try {
        next = await readFile(file, 'utf8');
      } catch (error) {
        logger.error({ err: error, file }, 'supergraph not reloaded: cannot read the file; keeping the previous one');
        onReload?.('failed');
        return;
      }
      if (next === current) return;
      try {
        update(next);
        current = next;
        logger.info({ file }, 'supergraph reloaded');
        onReload?.('updated');
      } catch (error) {
        logger.error({ err: error, file }, 'supergraph not reloaded: it does not load; keeping the previous one');
        onReload?.('failed');
      }
    };
    // The directory, not the file: editors and `npm run compose` may replace the file by a rename.
    const watcher = watch(dirname(file), (_event, changed) => {
      if (changed !== null && changed !== basename(file)) return;
      clearTimeout(timer);
      timer = setTimeout(() => void reload(), debounceMs);
    });
    watcher.on('error', (error) => logger.error({ err: error, file }, 'watching the supergraph file failed'));
    return {
      supergraphSdl: current,
      cleanup: async () => {
        clearTimeout(timer);
        watcher.close();
      },
    };
  };
