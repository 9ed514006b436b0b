import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export class LogLockedError extends Error {
  override readonly name = 'LogLockedError';
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Takes `<dir>/LOCK` for this process: one writer per log. A lock left by a
 * process that no longer runs (killed, power cut) is taken over.
 */
export const acquireLock = async (dir: string): Promise<{ release(): Promise<void> }> => {
  const file = join(dir, 'LOCK');
  for (let tries = 0; tries < 3; tries++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return { release: () => rm(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    if (Number.isSafeInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new LogLockedError(
        `${file} is held by process ${holder}${holder === process.pid ? ' (this process)' : ''}: ` +
          'only one writer may open a log; stop that process or use another DATA_DIR',
      );
    }
    await rm(file, { force: true });
  }
  throw new LogLockedError(`${file}: could not take the lock, another process keeps taking it`);
};
