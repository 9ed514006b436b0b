import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import serveStatic from 'serve-static';

/** A folder of built files (a single-page app) served under one route. */
export interface StaticFiles {
  /** Where, without a trailing slash: `/graphiql` serves `dir`'s index.html at `/graphiql/`. */
  readonly route: string;
  readonly dir: string;
  /** The Content-Security-Policy every file is served with. */
  readonly contentSecurityPolicy: string;
  /** Said in the 404 while `dir` has no index.html (not built yet, say). */
  readonly missingHint: string;
}

export type StaticFilesHandler = (req: IncomingMessage, res: ServerResponse, route: string, notFound: (message: string) => void) => void;

/**
 * Serves `files` with the library Express serves files with (ETags, ranges,
 * no dotfiles, nothing outside `dir`): hashed assets are cached for good,
 * index.html is revalidated on each load.
 */
export const staticFilesHandler = (files: StaticFiles): StaticFilesHandler => {
  const assets = `${path.sep}assets${path.sep}`;
  const serve = serveStatic(files.dir, {
    index: ['index.html'],
    redirect: false,
    dotfiles: 'ignore',
    setHeaders: (res, file) => {
      res.setHeader('content-security-policy', files.contentSecurityPolicy);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
      res.setHeader('cache-control', file.includes(assets) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const index = path.join(files.dir, 'index.html');
  return (req, res, route, notFound) => {
    const url = req.url ?? route;
    if (route === files.route) {
      // Relative asset URLs in the page resolve against the folder, so the page lives at the route with a slash.
      res.statusCode = 308;
      res.setHeader('location', `${files.route}/${url.slice(route.length)}`);
      res.end();
      return;
    }
    if (!existsSync(index)) return notFound(`Nothing is built at ${files.route}/: ${files.missingHint}`);
    req.url = url.slice(files.route.length);
    serve(req, res, () => notFound(`No file at ${route}.`));
  };
};

/** Whether `route` is `files.route` or under it. */
export const underRoute = (files: StaticFiles, route: string): boolean => route === files.route || route.startsWith(`${files.route}/`);
