/** Child processes for the gateway benchmark: pinned to a CPU, their CPU time read from /proc. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export { freePort } from '../tests/helpers/processes';

const statOf = (pid: number): { ppid: number; ticks: number } | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
};

/** utime + stime, in seconds, of `pid` and every process descended from it. */
export const cpuSeconds = (pid: number): number => {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = statOf(Number(name));
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(name)]);
  }
  let ticks = 0;
  const pending = [pid];
  for (let guard = 0; pending.length && guard < 10_000; guard++) {
    const next = pending.pop()!;
    ticks += statOf(next)?.ticks ?? 0;
    pending.push(...(children.get(next) ?? []));
  }
  return ticks / CLOCK_TICKS;
};

export interface BenchProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Set when the process ended before `stop()` was called: the run cannot be trusted. */
  readonly died: () => string | undefined;
  stop(): Promise<void>;
}

/** Runs `command` pinned to `cpu` (when given), its output appended to `logFile`. */
export const startProcess = (
  name: string,
  command: readonly string[],
  { env, cpu, logFile, cwd }: { env: NodeJS.ProcessEnv; cpu: string | undefined; logFile: string; cwd?: string },
): BenchProcess => {
  const out = openSync(logFile, 'a');
  const [file, ...args] = cpu === undefined ? command : ['taskset', '-c', cpu, ...command];
  const child = spawn(file!, args, { env, cwd, stdio: ['ignore', out, out] });
  closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let died: string | undefined;
  child.once('exit', (code, signal) => {
    if (stopping) return;
    died = `${name} exited early (${code ?? signal}); see ${logFile}`;
    process.stderr.write(`${died}\n`);
  });
  let stopping = false;
  return {
    name,
    child,
    logFile,
    died: () => died,
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
};

/** Polls `check` every 100 ms until it holds, for at most `timeoutMs`. */
export const waitUntil = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> => {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not ready within ${timeoutMs} ms`);
};
