import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Logger } from 'pino';

/** The audience development tokens carry, and the gateway accepts when none is configured. */
export const DEV_AUDIENCE = 'federated-signup';
const ALGORITHM = 'ES256';

interface StoredKey {
  readonly kid: string;
  readonly privateJwk: JWK;
}

interface IssuerFile {
  readonly issuer: string;
  readonly audience: string;
}

const folderOf = (dataDir: string) => join(dataDir, 'dev-issuer');

const writeAtomically = async (file: string, contents: string) => {
  await writeFile(`${file}.tmp`, contents, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
};

/** The signing key made at first start and kept under DATA_DIR, so tokens outlive restarts. */
const loadOrCreateKey = async (dataDir: string): Promise<StoredKey> => {
  const file = join(folderOf(dataDir), 'signing-key.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as StoredKey;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
  const key: StoredKey = { kid: randomUUID(), privateJwk: await exportJWK(privateKey) };
  await mkdir(folderOf(dataDir), { recursive: true, mode: 0o700 });
  await writeAtomically(file, JSON.stringify(key));
  return key;
};

const publicJwkOf = ({ kid, privateJwk }: StoredKey): JWK => {
  const { d: _private, ...publicJwk } = privateJwk;
  return { ...publicJwk, kid, alg: ALGORITHM, use: 'sig' };
};

export interface DevIssuer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * A local OpenID Connect issuer for development, on loopback: the discovery
 * document and the JWKS, nothing else. Tokens are minted by `mintDevToken`
 * (`npm run token`) from the key it keeps under DATA_DIR.
 */
export const startDevIssuer = async ({ dataDir, port, logger }: { dataDir: string; port: number; logger: Logger }): Promise<DevIssuer> => {
  const key = await loadOrCreateKey(dataDir);
  let issuer = '';
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const body =
      path === '/.well-known/openid-configuration'
        ? { issuer, jwks_uri: `${issuer}/jwks.json`, id_token_signing_alg_values_supported: [ALGORITHM], subject_types_supported: ['public'], response_types_supported: ['token'] }
        : path === '/jwks.json'
          ? { keys: [publicJwkOf(key)] }
          : undefined;
    res.statusCode = body ? 200 : 404;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body ?? { error: 'not_found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  issuer = `http://127.0.0.1:${actual}`;
  const description: IssuerFile = { issuer, audience: DEV_AUDIENCE };
  await writeAtomically(join(folderOf(dataDir), 'issuer.json'), JSON.stringify(description));
  logger.info({ issuer }, 'development token issuer listening');
  return {
    url: issuer,
    port: actual,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

export interface DevTokenRequest {
  readonly dataDir: string;
  /** The user id the token names (`sub`). */
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly expiresInS: number;
}

/** A token from the development issuer under `dataDir`: what `npm run token` prints. */
export const mintDevToken = async ({ dataDir, subject, scopes, expiresInS }: DevTokenRequest): Promise<string> => {
  let key: StoredKey;
  let description: IssuerFile;
  try {
    key = JSON.parse(await readFile(join(folderOf(dataDir), 'signing-key.json'), 'utf8')) as StoredKey;
    description = JSON.parse(await readFile(join(folderOf(dataDir), 'issuer.json'), 'utf8')) as IssuerFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new Error(`No development issuer under ${folderOf(dataDir)}: start the system once with \`npm start\` (same DATA_DIR).`);
  }
  return new SignJWT({ ...(scopes.length ? { scope: scopes.join(' ') } : {}) })
    .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: 'at+jwt' })
    .setIssuer(description.issuer)
    .setAudience(description.audience)
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(`${expiresInS}s`)
    .sign(await importJWK(key.privateJwk, ALGORITHM));
};
