import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { composeSupergraph, loadSupergraphConfig, renderSupergraphFile } from './src/compose';

const repoRoot = path.resolve(__dirname, '..');
const configFile = path.join(repoRoot, 'supergraph.yaml');
const outputFile = path.join(__dirname, 'supergraph.graphql');
const outputName = path.relative(repoRoot, outputFile);

function main(args: string[]): number {
  const unknown = args.filter((arg) => arg !== '--check');
  if (unknown.length > 0) {
    console.error(`Unknown argument ${unknown.join(' ')}. Usage: npm run compose [-- --check]`);
    return 1;
  }

  const contents = renderSupergraphFile(composeSupergraph(loadSupergraphConfig(configFile)).supergraphSdl);

  if (args.includes('--check')) {
    let committed: string | undefined;
    try {
      committed = readFileSync(outputFile, 'utf8');
    } catch {
      committed = undefined;
    }
    if (committed !== contents) {
      const problem = committed === undefined ? 'is missing' : 'differs from a fresh composition of supergraph.yaml';
      console.error(`${outputName} ${problem}. Run \`npm run compose\` and commit the result.`);
      return 1;
    }
    console.log(`${outputName} is up to date with supergraph.yaml.`);
    return 0;
  }

  writeFileSync(outputFile, contents);
  console.log(`Composed supergraph.yaml into ${outputName}.`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
