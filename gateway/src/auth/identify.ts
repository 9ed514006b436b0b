import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { RequestRefused } from '../../../lib/service';
import type { Viewer } from '../../../lib/viewer';
import type { GatewayConfig } from '../config';
import { InvalidTokenError, createTokenVerifier } from './tokens';

const refusal = (check: string, message: string) =>
  new RequestRefused(
    401,
    'UNAUTHENTICATED',
    message,
    // RFC 6750, section 3: what a client that sent a bearer token is told when it is refused.
    { 'www-authenticate': `Bearer error="invalid_token", error_description="${message.replace(/["\\]/g, '')}"` },
    { check },
  );

/**
 * Who the caller is, from `Authorization: Bearer <JWT>` only (never the query
 * string or a cookie): undefined without a token, a 401 for a token that fails
 * any check. Without an issuer configured, every token is refused.
 */
export const createIdentify = (config: GatewayConfig, logger: Logger): { identify: (req: IncomingMessage) => Promise<Viewer | undefined>; warmUp(): Promise<void> } => {
  if (!config.AUTH_ISSUER && !config.AUTH_JWKS_URL) {
    logger.warn('no token issuer configured (AUTH_ISSUER or AUTH_JWKS_URL): every caller is anonymous and every token is refused');
    return {
      identify: async (req) => {
        if (req.headers.authorization === undefined) return undefined;
        throw refusal('issuer', 'This gateway verifies no access tokens: it has no AUTH_ISSUER or AUTH_JWKS_URL.');
      },
      warmUp: async () => undefined,
    };
  }
  const verifier = createTokenVerifier({
    issuer: config.AUTH_ISSUER,
    jwksUrl: config.AUTH_JWKS_URL,
    audience: config.AUTH_AUDIENCE!,
    algorithms: config.AUTH_ALGORITHMS,
    clockToleranceS: config.AUTH_CLOCK_TOLERANCE_S,
    userClaim: config.AUTH_USER_CLAIM,
    jwksCooldownMs: config.AUTH_JWKS_COOLDOWN_MS,
    fetchTimeoutMs: 5000,
    logger,
  });
  return {
    identify: async (req) => {
      try {
        return await verifier.verify(req.headers.authorization);
      } catch (error) {
        if (error instanceof InvalidTokenError) throw refusal(error.check, error.message);
        throw error;
      }
    },
    warmUp: () => verifier.discover(),
  };
};
