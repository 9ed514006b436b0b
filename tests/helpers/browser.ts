import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './paths';


const isExecutable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** Debian's chromium (installed by `.ci/run`): the first `chromium` on PATH, else /usr/bin/chromium. */
export const findChromium = (): string | undefined =>
  [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'chromium')), '/usr/bin/chromium'].find(
    isExecutable,
  );

/**
 * `describe` when chromium is installed. Without it: in CI (`CI=true`) it throws, so a missing
 * browser fails the run; elsewhere it warns loudly and skips the suite.
 */
export const describeIfBrowser = (): jest.Describe => {
  if (findChromium()) return describe;
  const message = 'chromium not found on PATH or at /usr/bin/chromium; install it with `apt-get install -y chromium`.';
  if (process.env.CI === 'true') throw new Error(`Browser tests cannot run: ${message}`);
  console.warn(`\n\n*** SKIPPING BROWSER TESTS: ${message} ***\n\n`);
  return describe.skip;
};

/** Headless chromium with nothing running in the background (no network beyond what the test asks for). */
export const launchBrowser = (): Promise<Browser> => {
  const executablePath = findChromium();
  if (!executablePath) throw new Error('chromium not found');
  return chromium.launch({
    executablePath,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
};

// Vite is ESM-only, which jest's module runtime cannot load: build in a plain Node child process.
const buildScript = `
  const { build } = await import('vite');
  const [configFile, outDir] = process.argv.slice(1);
  await build({ configFile, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
`;

/** Builds web/ with Vite's JS API into `outDir`, its client pointed at `gatewayUrl`. */
export const buildWebPage = async (outDir: string, gatewayUrl: string): Promise<void> => {
  await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', buildScript, path.join(ROOT, 'web', 'vite.config.ts'), outDir],
    { cwd: ROOT, env: { ...process.env, VITE_GATEWAY_URL: gatewayUrl }, timeout: 60_000 },
  );
};

export interface StaticServer {
  /** The origin, e.g. `http://127.0.0.1:40123`, with no trailing slash. */
  readonly origin: string;
  close(): Promise<void>;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Serves the files under `root` on 127.0.0.1 (another origin than the gateway's `localhost`),
 * plus any `extraPages` (path -> HTML) the test needs on that origin.
 */
export const serveStatic = async (root: string, extraPages: Record<string, string> = {}): Promise<StaticServer> => {
  const server = createServer(async (req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    const extra = extraPages[pathname];
    if (extra !== undefined) {
      res.writeHead(200, { 'content-type': contentTypes['.html']! }).end(extra);
      return;
    }
    const file = path.join(root, pathname === '/' ? 'index.html' : pathname);
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': contentTypes[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
