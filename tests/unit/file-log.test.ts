import { appendFile, open, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { LogRecord, StreamLog } from '../../lib/log';
import { encodeRecord, segmentFile, LogCorruptError, LogLockedError, openFileLog, tailFileLog } from '../../lib/log/file';
import { aLogRecord } from '../helpers/builders';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';
import { recordingLogger, silentLogger, WARN } from '../helpers/logs';

let dir: string;
let file: string;
const opened: StreamLog[] = [];

beforeEach(async () => {
  dir = await makeTempDir('file-log-');
  file = segmentFile(dir, 1);
});
afterEach(async () => {
  for (const log of opened.splice(0)) await log.close().catch(() => undefined);
  await removeTempDir(dir);
});

/** Opens the log in `dir`, collecting what it replays; closed after the test. */
const openLog = async (logger: Logger = silentLogger()) => {
  const replayed: LogRecord[] = [];
  const log = await openFileLog({ dir, logger, replay: (records) => replayed.push(...records) });
  opened.push(log);
  return { log, replayed };
};

const close = async (log: StreamLog) => {
  opened.splice(opened.indexOf(log), 1);
  await log.close();
};

/** Writes records 1..n through a log and closes it. */
const writeRecords = async (n: number): Promise<LogRecord[]> => {
  const records = Array.from({ length: n }, (_, i) => aLogRecord(i + 1));
  const { log } = await openLog();
  for (const record of records) await log.append(record);
  await close(log);
  return records;
};

/** Flips the low bit of the byte at `offset` of the log file; returns the new contents. */
const flipByte = async (offset: number): Promise<Buffer> => {
  const bytes = await readFile(file);
  bytes.writeUInt8(bytes.readUInt8(offset) ^ 0x01, offset);
  await writeFile(file, bytes);
  return bytes;
};

/** This process's open file descriptors (Linux). */
const openDescriptors = async () => (await readdir('/proc/self/fd')).length;

/** Byte offset at which line `index` (0-based) of the log file starts. */
const lineOffset = async (index: number): Promise<number> => {
  const bytes = await readFile(file);
  let offset = 0;
  for (let i = 0; i < index; i++) offset = bytes.indexOf(0x0a, offset) + 1;
  return offset;
};

describe('openFileLog', () => {
  it('starts an empty log at version 0', async () => {
    const { log, replayed } = await openLog();
    expect(log.version).toBe(0);
    expect(replayed).toEqual([]);
  });

  it('replays what was appended, in order, when reopened', async () => {
    const records = await writeRecords(5);

    const { log, replayed } = await openLog();

    expect(replayed).toEqual(records);
    expect(log.version).toBe(5);
  });

  it('reports an appended version only once the append has resolved', async () => {
    const { log } = await openLog();
    const pending = log.append(aLogRecord(1));
    expect(log.version).toBe(0);
    await pending;
    expect(log.version).toBe(1);
  });

  it('keeps appending after the replayed records when reopened', async () => {
    await writeRecords(2);
    const { log } = await openLog();
    await log.append(aLogRecord(3));
    await close(log);

    const { replayed } = await openLog();
    expect(replayed.map((r) => r.version)).toEqual([1, 2, 3]);
  });

  it('commits 100 concurrent appends, all of them, sharing fsyncs', async () => {
    const { log } = await openLog();
    // Every FileHandle shares one prototype: count the fsyncs the log makes.
    const probe = await open(join(dir, 'probe'), 'w');
    const datasync = jest.spyOn(Object.getPrototypeOf(probe) as { datasync(): Promise<void> }, 'datasync');
    await probe.close();
    const records = Array.from({ length: 100 }, (_, i) => aLogRecord(i + 1));

    try {
      await Promise.all(records.map((record) => log.append(record)));
      expect(datasync.mock.calls.length).toBeLessThan(10);
    } finally {
      datasync.mockRestore();
    }
    expect(log.version).toBe(100);
    await close(log);

    const { replayed } = await openLog();
    expect(replayed).toEqual(records);
  });

  it('rejects an append with the wrong version and keeps expecting the right one', async () => {
    const { log } = await openLog();
    await expect(log.append(aLogRecord(2))).rejects.toThrow(/version 2, expected 1/);
    await log.append(aLogRecord(1));
    await expect(log.append(aLogRecord(1))).rejects.toThrow(/expected 2/);
    await log.append(aLogRecord(2));
    await close(log);

    const { replayed } = await openLog();
    expect(replayed.map((r) => r.version)).toEqual([1, 2]);
  });

  describe('a torn last record', () => {
    it('is cut off with a warning naming the file and byte offset when the last line was truncated', async () => {
      const records = await writeRecords(3);
      const lastLine = await lineOffset(2);
      await truncate(file, (await stat(file)).size - 10);
      const { logger, lines } = recordingLogger();

      const { log, replayed } = await openLog(logger);

      expect(replayed).toEqual(records.slice(0, 2));
      expect(log.version).toBe(2);
      const warnings = lines.filter((line) => line.level === WARN);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ file, offset: lastLine });
      expect((await stat(file)).size).toBe(lastLine);
    });

    it('is cut off when garbage without a newline follows the last record', async () => {
      const records = await writeRecords(3);
      const end = (await stat(file)).size;
      await appendFile(file, '0badc0de {"format":1,"vers');
      const { logger, lines } = recordingLogger();

      const { replayed } = await openLog(logger);

      expect(replayed).toEqual(records);
      expect(lines.filter((line) => line.level === WARN)).toEqual([expect.objectContaining({ file, offset: end })]);
    });

    it('leaves a log that takes the next record on a clean line', async () => {
      await writeRecords(3);
      await truncate(file, (await stat(file)).size - 10);
      const { log } = await openLog();
      await log.append(aLogRecord(3, 'again'));
      await close(log);

      const { logger, lines } = recordingLogger();
      const { replayed } = await openLog(logger);
      expect(replayed.map((r) => r.version)).toEqual([1, 2, 3]);
      expect(replayed[2]).toEqual(aLogRecord(3, 'again'));
      expect(lines.filter((line) => line.level === WARN)).toEqual([]);
    });
  });

  describe('a corrupt record before the end', () => {
    it('is refused with LogCorruptError naming the file and byte offset, and the file is left as it was', async () => {
      await writeRecords(3);
      const middle = await lineOffset(1);
      // Inside the JSON of the middle line, past its checksum.
      const bytes = await flipByte(middle + 20);

      const opening = openLog();

      await expect(opening).rejects.toThrow(LogCorruptError);
      await expect(opening).rejects.toThrow(`${file}: bad record at byte ${middle}`);
      expect(await readFile(file)).toEqual(bytes);
    });

    it('is refused when a middle line has lost its checksum', async () => {
      await writeRecords(3);
      const middle = await lineOffset(1);
      const bytes = await readFile(file);
      bytes[middle] = 0x7a; // 'z': not a hex digit
      await writeFile(file, bytes);

      await expect(openLog()).rejects.toThrow(LogCorruptError);
    });

    it('does not keep the log locked after refusing it', async () => {
      await writeRecords(3);
      await flipByte((await lineOffset(1)) + 20);

      await expect(openLog()).rejects.toThrow(LogCorruptError);
      await expect(openLog()).rejects.toThrow(LogCorruptError);
    });
  });

  it('closes the file again when it refuses a corrupt log', async () => {
    await writeRecords(3);
    await flipByte((await lineOffset(1)) + 20);
    const before = await openDescriptors();

    await expect(openLog()).rejects.toThrow(LogCorruptError);

    expect(await openDescriptors()).toEqual(before);
  });

  it('refuses a log whose versions have a gap', async () => {
    await writeFile(file, encodeRecord(aLogRecord(1)) + encodeRecord(aLogRecord(3)));

    await expect(openLog()).rejects.toThrow(LogCorruptError);
    await expect(openLog()).rejects.toThrow(/gap/);
  });

  describe('the lock', () => {
    it('refuses a second writer on the same directory with LogLockedError naming the LOCK file', async () => {
      await openLog();

      const second = openLog();

      await expect(second).rejects.toThrow(LogLockedError);
      await expect(second).rejects.toThrow(join(dir, 'LOCK'));
    });

    it('lets the log be opened again once it is closed', async () => {
      await writeRecords(1);
      const { log } = await openLog();
      await close(log);

      const { log: again, replayed } = await openLog();
      expect(again.version).toBe(1);
      expect(replayed).toHaveLength(1);
    });

    it('takes over a lock left by a process that no longer runs', async () => {
      await writeRecords(1);
      await writeFile(join(dir, 'LOCK'), '99999999\n');

      const { log } = await openLog();
      expect(log.version).toBe(1);
    });
  });
});

describe('tailFileLog', () => {
  /** Collects what a tail receives; `until(v)` resolves once version `v` has arrived. */
  const collector = () => {
    const batches: number[][] = [];
    let waiting: { version: number; resolve: () => void } | undefined;
    const seen = () => batches.flat();
    return {
      batches,
      versions: seen,
      onRecords: async (records: LogRecord[]) => {
        batches.push(records.map((r) => r.version));
        if (waiting && seen().includes(waiting.version)) waiting.resolve();
      },
      until: (version: number) =>
        new Promise<void>((resolve) => {
          if (seen().includes(version)) resolve();
          else waiting = { version, resolve };
        }),
    };
  };

  it('hands over the records after `after`, then the ones appended later, in order', async () => {
    const { log } = await openLog();
    for (let v = 1; v <= 3; v++) await log.append(aLogRecord(v));
    const seen = collector();
    const tail = tailFileLog({ dir, after: 2, onRecords: seen.onRecords, logger: silentLogger(), pollMs: 20 });

    try {
      await seen.until(3);
      await log.append(aLogRecord(4));
      await Promise.all([log.append(aLogRecord(5)), log.append(aLogRecord(6))]);
      await seen.until(6);
    } finally {
      await tail.close();
    }

    expect(seen.versions()).toEqual([3, 4, 5, 6]);
    expect(tail.version).toBe(6);
  });

  it('picks up a log created after it started', async () => {
    const seen = collector();
    const tail = tailFileLog({ dir, after: 0, onRecords: seen.onRecords, logger: silentLogger(), pollMs: 20 });

    try {
      const { log } = await openLog();
      await log.append(aLogRecord(1));
      await log.append(aLogRecord(2));
      await seen.until(2);
    } finally {
      await tail.close();
    }

    expect(seen.versions()).toEqual([1, 2]);
  });

  it('hands a batch over again when its handler throws', async () => {
    await writeRecords(2);
    const received: number[][] = [];
    let failures = 0;
    let done!: () => void;
    const delivered = new Promise<void>((resolve) => (done = resolve));
    const tail = tailFileLog({
      dir,
      after: 0,
      logger: silentLogger(),
      pollMs: 20,
      onRecords: async (records) => {
        received.push(records.map((r) => r.version));
        if (failures++ === 0) throw new Error('not yet');
        done();
      },
    });

    try {
      await delivered;
    } finally {
      await tail.close();
    }

    expect(received).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(tail.version).toBe(2);
  });
});
