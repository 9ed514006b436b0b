import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../lib/logger';
import { PROJECT_ROOT } from '../../lib/paths';
import type { StaticFiles } from '../../lib/service';

/** Where the offline IDE is served; Apollo Sandbox, which loads from Apollo's servers, stays at `/`. */
export const GRAPHIQL_ROUTE = '/graphiql';

/**
 * The GraphiQL page web/graphiql builds (`npm run build:graphiql`; `npm start`
 * builds it when missing): every script, style, font and worker comes from
 * the gateway itself, and the page may talk to nothing else.
 */
export const offlineGraphiql = (logger: Logger): StaticFiles => {
  const dir = path.join(PROJECT_ROOT, 'dist', 'graphiql');
  const missingHint = 'run `npm run build:graphiql` (`npm start` builds it when missing).';
  if (!existsSync(path.join(dir, 'index.html'))) logger.warn({ dir }, `offline GraphiQL is not built: ${missingHint}`);
  return {
    route: GRAPHIQL_ROUTE,
    dir,
    missingHint,
    contentSecurityPolicy: [
      "default-src 'none'",
      "script-src 'self'",
      "worker-src 'self'",
      "connect-src 'self'",
      // Monaco sets styles from script; GraphiQL's icons and fonts are inlined as data: URLs.
      "style-src 'self' 'unsafe-inline'",
      "font-src 'self' data:",
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
  };
};
