import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Viewer } from '../viewer';

/** The header in which the gateway tells a subgraph who the caller is. */
export const IDENTITY_HEADER = 'x-caller-identity';

interface Claims {
  readonly u?: string;
  readonly s: readonly string[];
  /** Seconds since the epoch after which the header is refused: a captured copy is not good for long. */
  readonly e: number;
}

const LIFETIME_S = 60;

/** The key that signs identity headers, derived from the subgraph secret so neither can stand in for the other. */
const identityKey = (subgraphSecret: string): Buffer =>
  Buffer.from(hkdfSync('sha256', subgraphSecret, 'federated-signup', 'caller identity v1', 32));

const mac = (key: Buffer, payload: string) => createHmac('sha256', key).update(payload).digest();

/** Signs a viewer into the header value the gateway sends: `<payload>.<HMAC-SHA256>`, both base64url. */
export const identitySigner = (subgraphSecret: string): ((viewer: Viewer, nowMs?: number) => string) => {
  const key = identityKey(subgraphSecret);
  return (viewer, nowMs = Date.now()) => {
    const claims: Claims = { ...(viewer.userId === undefined ? {} : { u: viewer.userId }), s: [...viewer.scopes], e: Math.floor(nowMs / 1000) + LIFETIME_S };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${payload}.${mac(key, payload).toString('base64url')}`;
  };
};

export type IdentityCheck = { readonly ok: true; readonly viewer: Viewer | undefined } | { readonly ok: false; readonly reason: string };

const CACHE_LIMIT = 1000;

/**
 * Reads the identity header a subgraph received: absent means anonymous; a
 * header that is not signed with the subgraph secret, or has expired, is refused.
 * Without a secret nothing can be checked, so any header is refused. The
 * gateway signs a caller's header again only every half minute, so a header
 * once verified is remembered (its check cost about 5 µs a request).
 */
export const identityReader = (subgraphSecret: string | undefined): ((header: string | string[] | undefined, nowMs?: number) => IdentityCheck) => {
  const key = subgraphSecret === undefined ? undefined : identityKey(subgraphSecret);
  const verified = new Map<string, { viewer: Viewer; expiresAtMs: number }>();
  return (header, nowMs = Date.now()) => {
    if (header === undefined) return { ok: true, viewer: undefined };
    const known = typeof header === 'string' ? verified.get(header) : undefined;
    if (known && known.expiresAtMs >= nowMs) return { ok: true, viewer: known.viewer };
    if (!key) return { ok: false, reason: `${IDENTITY_HEADER} is accepted only from a gateway that shares SUBGRAPH_SECRET` };
    const [payload, signature, extra] = typeof header === 'string' ? header.split('.') : [];
    const given = Buffer.from(signature ?? '', 'base64url');
    const expected = payload === undefined ? undefined : mac(key, payload);
    if (extra !== undefined || !expected || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: `${IDENTITY_HEADER} is not signed by the gateway` };
    }
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Claims;
    if (claims.e * 1000 < nowMs) return { ok: false, reason: `${IDENTITY_HEADER} has expired` };
    const viewer: Viewer = { userId: claims.u, scopes: new Set(claims.s) };
    if (verified.size >= CACHE_LIMIT) verified.delete(verified.keys().next().value!);
    verified.set(header as string, { viewer, expiresAtMs: claims.e * 1000 });
    return { ok: true, viewer };
  };
};
