import { createHash } from 'node:crypto';
import { readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

export class LogLockedError extends Error {
  override readonly name = 'LogLockedError';
}

/**
 * The kernel holds the lock, not a file: a Unix socket in Linux's abstract
 * namespace, named after the log folder. The kernel closes it with the
 * process's other descriptors the moment the process exits, so a writer
 * killed with -9 (still a zombie until its parent reaps it) or a pid reused
 * after a reboot never holds a log, and two writers cannot both bind it.
 */
const socketName = async (dir: string) =>
  `\0federated-signup-log-lock:${createHash('sha256').update(await realpath(dir)).digest('hex')}`;

const bind = (name: string) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(name, () => {
      server.off('error', reject);
      // The lock must not keep the process running.
      server.unref();
      resolve(server);
    });
  });

/**
 * Takes the lock of the log in `dir` for this process: one writer per log.
 * `<dir>/LOCK` names the holder's pid for people; it is not the lock itself.
 * Linux only (abstract sockets), like the rest of the embedded backend's promises.
 */
export const acquireLock = async (dir: string): Promise<{ release(): Promise<void> }> => {
  const file = join(dir, 'LOCK');
  let server: Server;
  try {
    server = await bind(await socketName(dir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    const holder = (await readFile(file, 'utf8').catch(() => '')).trim() || 'unknown';
    throw new LogLockedError(
      `${file} is held by process ${holder}${holder === String(process.pid) ? ' (this process)' : ''}: ` +
        'only one writer may open a log; stop that process or use another DATA_DIR',
    );
  }
  await writeFile(file, `${process.pid}\n`);
  return {
    async release() {
      await rm(file, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
