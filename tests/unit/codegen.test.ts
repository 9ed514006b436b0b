import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { codegenConfig } from '../../codegen';

const repoRoot = path.resolve(__dirname, '../..');

// @graphql-codegen/cli requires ESM-only packages (yargs, listr2), which jest's module
// runtime cannot load on Node 20, so `generate` runs in a plain Node child process.
const generateScript = `
  const { generate } = await import('@graphql-codegen/cli');
  const config = JSON.parse(process.argv[1]);
  const outputs = await generate({ ...config, cwd: process.cwd(), silent: true }, false);
  process.stdout.write(JSON.stringify(outputs));
`;

interface FileOutput {
  filename: string;
  content: string;
}

async function generateInMemory(config: typeof codegenConfig): Promise<FileOutput[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', generateScript, JSON.stringify(config)],
    { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as FileOutput[];
}

test('generated resolver types are up to date', async () => {
  const outputs = await generateInMemory(codegenConfig);
  expect(outputs.map((output) => path.relative(repoRoot, path.resolve(repoRoot, output.filename))).sort()).toEqual(
    Object.keys(codegenConfig.generates).sort(),
  );
  const stale = outputs
    .filter((output) => {
      try {
        return readFileSync(path.resolve(repoRoot, output.filename), 'utf8') !== output.content;
      } catch {
        return true;
      }
    })
    .map((output) => output.filename);
  if (stale.length > 0) {
    throw new Error(`Stale generated files: ${stale.join(', ')}. Run \`npm run codegen\` and commit the result.`);
  }
});
