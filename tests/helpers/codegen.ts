import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './paths';


// @graphql-codegen/cli requires ESM-only packages (yargs, listr2), which jest's module
// runtime cannot load on Node 20, so `generate` runs in a plain Node child process.
const generateScript = `
  const { generate } = await import('@graphql-codegen/cli');
  const config = JSON.parse(process.argv[1]);
  const outputs = await generate({ ...config, cwd: process.cwd(), silent: true }, false);
  process.stdout.write(JSON.stringify(outputs));
`;

/**
 * Runs codegen with `config` without writing, and returns the files it would
 * write (relative to the repository) and those whose committed text differs.
 */
export const checkGenerated = async (config: object): Promise<{ files: string[]; stale: string[] }> => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', generateScript, JSON.stringify(config)],
    { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
  );
  const outputs = JSON.parse(stdout) as { filename: string; content: string }[];
  const committed = (file: string) => {
    try {
      return readFileSync(path.resolve(ROOT, file), 'utf8');
    } catch {
      return undefined;
    }
  };
  return {
    files: outputs.map((output) => path.relative(ROOT, path.resolve(ROOT, output.filename))).sort(),
    stale: outputs.filter((output) => committed(output.filename) !== output.content).map((output) => output.filename),
  };
};
