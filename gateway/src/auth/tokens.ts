import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import type { Viewer } from '../../../lib/viewer';

export interface TokenVerifierOptions {
  /** `iss` every token must carry; with no `jwksUrl`, its discovery document names the JWKS. */
  readonly issuer: string | undefined;
  readonly jwksUrl: string | undefined;
  /** `aud` every token must carry. */
  readonly audience: string;
  /** Asymmetric algorithms only: the config refuses `none` and HMAC. */
  readonly algorithms: readonly string[];
  readonly clockToleranceS: number;
  /** The claim that holds this system's user id (`sub` unless the identity provider's subjects are its own). */
  readonly userClaim: string;
  /** After a JWKS fetch, an unknown `kid` waits this long before the next one: a stream of bad tokens costs the issuer nothing. */
  readonly jwksCooldownMs: number;
  /** Bound on one discovery or JWKS fetch. */
  readonly fetchTimeoutMs: number;
  readonly logger: Logger;
}

/** A token that failed verification: `check` names which check, `message` says it to the client. */
export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';

  constructor(
    readonly check: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TokenVerifier {
  /** The viewer an `Authorization` header names; undefined without one; InvalidTokenError for anything else. */
  verify(authorization: string | undefined): Promise<Viewer | undefined>;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** Scopes from `scope` (space-separated, RFC 6749 and RFC 9068) or `scp` (a list, or a string, as some providers send). */
const scopesOf = (payload: JWTPayload): ReadonlySet<string> => {
  const raw = payload.scope ?? payload.scp;
  const list = Array.isArray(raw) ? raw.filter((item): item is string => typeof item === 'string') : typeof raw === 'string' ? raw.split(' ') : [];
  return new Set(list.filter(Boolean));
};

const explain = (error: unknown, options: TokenVerifierOptions): InvalidTokenError => {
  if (error instanceof InvalidTokenError) return error;
  if (error instanceof errors.JWTExpired) return new InvalidTokenError('exp', 'The access token has expired.');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return new InvalidTokenError('nbf', 'The access token is not valid yet (nbf is in the future).');
    if (error.claim === 'iss') return new InvalidTokenError('iss', `The access token was not issued by ${options.issuer}.`);
    if (error.claim === 'aud') return new InvalidTokenError('aud', `The access token is not meant for this API (audience ${options.audience}).`);
    return new InvalidTokenError(error.claim, `The access token's "${error.claim}" claim is invalid: ${error.reason}.`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new InvalidTokenError('alg', `The access token's algorithm is not allowed here (allowed: ${options.algorithms.join(', ')}).`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return new InvalidTokenError('signature', 'The access token signature does not verify.');
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new InvalidTokenError('kid', 'The access token is signed with a key the issuer does not publish.');
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid || error instanceof errors.JOSENotSupported) {
    return new InvalidTokenError('format', 'The access token is not a well-formed signed JWT.');
  }
  // Timeouts and unreachable issuers: nothing proves the token, so it is refused; the cause goes to the log.
  return new InvalidTokenError('keys', "The access token's signing key could not be fetched from the issuer.");
};

/**
 * The JWKS, found once through the issuer's discovery document unless its URL
 * is configured. A failed discovery is retried, at most once per cooldown.
 */
const keySource = (options: TokenVerifierOptions): (() => Promise<JWTVerifyGetKey>) => {
  const remote = (url: string) =>
    createRemoteJWKSet(new URL(url), { cooldownDuration: options.jwksCooldownMs, timeoutDuration: options.fetchTimeoutMs });
  if (options.jwksUrl) {
    const keys = remote(options.jwksUrl);
    return async () => keys;
  }
  const issuer = options.issuer!;
  let found: Promise<JWTVerifyGetKey> | undefined;
  let failedAt = -Infinity;
  const discover = async (): Promise<JWTVerifyGetKey> => {
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const response = await fetch(url, { signal: AbortSignal.timeout(options.fetchTimeoutMs), redirect: 'error' });
    if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
    const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery 1.0, section 4.3: the document must name the issuer it was fetched for.
    if (document.issuer !== issuer) throw new Error(`${url} names the issuer ${String(document.issuer)}, not ${issuer}`);
    if (typeof document.jwks_uri !== 'string') throw new Error(`${url} names no jwks_uri`);
    options.logger.info({ issuer, jwksUri: document.jwks_uri }, 'token issuer discovered');
    return remote(document.jwks_uri);
  };
  return () => {
    if (!found && performance.now() - failedAt < options.jwksCooldownMs) {
      return Promise.reject(new InvalidTokenError('keys', "The access token's signing key could not be fetched from the issuer."));
    }
    found ??= discover().catch((error: unknown) => {
      options.logger.warn({ err: error, issuer }, 'token issuer discovery failed');
      found = undefined;
      failedAt = performance.now();
      throw error;
    });
    return found;
  };
};

const CACHE_LIMIT = 10_000;

/**
 * Verifies bearer tokens with jose against the issuer's published keys
 * (cached, refetched for an unknown `kid` at most once per cooldown). A
 * verified token is remembered until it expires, so a client that sends the
 * same token on every request pays for one signature check.
 */
export const createTokenVerifier = (options: TokenVerifierOptions): TokenVerifier & { discover(): Promise<void> } => {
  const keys = keySource(options);
  const verified = new Map<string, { viewer: Viewer; expiresAtMs: number }>();
  const toleranceMs = options.clockToleranceS * 1000;

  const check = async (token: string): Promise<Viewer> => {
    const { payload } = await jwtVerify(token, await keys(), {
      algorithms: [...options.algorithms],
      audience: options.audience,
      ...(options.issuer ? { issuer: options.issuer } : {}),
      clockTolerance: options.clockToleranceS,
      requiredClaims: ['exp'],
    });
    const user = payload[options.userClaim];
    const viewer: Viewer = { userId: typeof user === 'string' && user !== '' ? user : undefined, scopes: scopesOf(payload) };
    if (verified.size >= CACHE_LIMIT) verified.delete(verified.keys().next().value!);
    verified.set(token, { viewer, expiresAtMs: payload.exp! * 1000 + toleranceMs });
    return viewer;
  };

  return {
    async discover() {
      await keys().catch(() => undefined);
    },
    async verify(authorization) {
      if (authorization === undefined) return undefined;
      const token = BEARER.exec(authorization)?.[1];
      if (!token) throw new InvalidTokenError('format', 'The Authorization header must be "Bearer <access token>".');
      const known = verified.get(token);
      if (known && Date.now() <= known.expiresAtMs) return known.viewer;
      if (known) verified.delete(token);
      try {
        return await check(token);
      } catch (error) {
        const invalid = explain(error, options);
        if (invalid.check === 'keys') options.logger.warn({ err: error }, 'access token refused: keys unavailable');
        throw invalid;
      }
    },
  };
};
