import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { webCodegenConfig } from '../../web/codegen';

const repoRoot = path.resolve(__dirname, '../..');

// As in codegen.test.ts: @graphql-codegen/cli is ESM-only inside, so `generate` runs in a plain Node child process.
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

const generateInMemory = async (): Promise<FileOutput[]> => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', generateScript, JSON.stringify(webCodegenConfig)],
    { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as FileOutput[];
};

test('generated web operation types are up to date with the supergraph and the page', async () => {
  const outputs = await generateInMemory();
  expect(outputs.map((output) => path.relative(repoRoot, path.resolve(repoRoot, output.filename))).sort()).toEqual([
    'web/src/graphql/gql.ts',
    'web/src/graphql/graphql.ts',
    'web/src/graphql/index.ts',
  ]);
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
    throw new Error(`Stale generated files: ${stale.join(', ')}. Run \`npm run codegen:web\` and commit the result.`);
  }
});
