import { parseArgs } from 'node:util';
import { defineConfig, loadConfig, path } from '../lib/config';
import { mintDevToken } from './src/auth/dev-issuer';

/** Where `npm start` keeps the development issuer's key: the same DATA_DIR the services read. */
const tokenConfig = defineConfig({ keys: () => ({ DATA_DIR: path('.data') }) });

const USAGE = 'Usage: npm run token -- --sub <user id> [--scope users:read] [--scope notifications:write] [--expires-in 3600]';

/** Prints a development access token for Sandbox's Authorization header; what `npm run token` runs. */
const main = async (args: string[]): Promise<number> => {
  let values: { sub?: string; scope?: string[]; 'expires-in'?: string };
  try {
    ({ values } = parseArgs({ args, options: { sub: { type: 'string' }, scope: { type: 'string', multiple: true }, 'expires-in': { type: 'string' } } }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 1;
  }
  const expiresInS = Number(values['expires-in'] ?? 3600);
  if (!values.sub || !Number.isInteger(expiresInS) || expiresInS <= 0) {
    process.stderr.write(`${values.sub ? '--expires-in must be a whole number of seconds' : '--sub is required'}\n${USAGE}\n`);
    return 1;
  }
  try {
    const dataDir = loadConfig(tokenConfig).DATA_DIR;
    const token = await mintDevToken({ dataDir, subject: values.sub, scopes: (values.scope ?? []).flatMap((scope) => scope.split(' ')).filter(Boolean), expiresInS });
    process.stdout.write(`${token}\n`);
    process.stderr.write(`In Sandbox, add the header  Authorization: Bearer <the token above>  (valid ${expiresInS} s).\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
};

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
