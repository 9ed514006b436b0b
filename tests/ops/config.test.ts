import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../../lib/config';
import { readSubgraphList, subgraphNamed } from '../../lib/subgraph-list';
import { listedSubgraph } from '../../system/subgraph-services';
import { systemConfig } from '../../system/system';
import { gatewayConfig, gatewayHost } from '../../gateway/src/config';
import { notificationsConfig } from '../../subgraphs/notifications/src/config';
import { usersConfig } from '../../subgraphs/users/src/config';

/** An issuer and audience, which a production gateway cannot start without. */
const AUTH = { AUTH_ISSUER: 'https://id.example.com', AUTH_AUDIENCE: 'https://api.example.com' };

describe('loadConfig', () => {
  it('gives every variable its default, in a frozen object', () => {
    const config = loadConfig(systemConfig(), {});
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      GATEWAY_PORT: 4000,
      // From supergraph.yaml's routing URLs.
      USERS_PORT: 4001,
      NOTIFICATIONS_PORT: 4002,
      DATA_DIR: resolve('.data'),
      SUBGRAPH_TIMEOUT_MS: 10_000,
      MAX_BODY_BYTES: 65_536,
      MAX_QUERY_DEPTH: 8,
      MAX_QUERY_ALIASES: 15,
      MAX_QUERY_TOKENS: 1000,
      MAX_QUERY_COST: 5000,
      MAX_QUERY_DIRECTIVES: 20,
      SIGNUP_RATE_PER_IP: 1000,
      SIGNUP_RATE_GLOBAL: 100_000,
      SIGNUP_RATE_WINDOW_MS: 600_000,
      SIGNUP_RATE_IPV6_PREFIX: 64,
      SHUTDOWN_GRACE_MS: 10_000,
      TRUST_PROXY: false,
      SUBGRAPH_MERGE_QUERIES: 'off',
      LOG_FSYNC: 'on',
    });
    expect(config.SUPERGRAPH_PATH).toBe(resolve(__dirname, '..', '..', 'gateway', 'supergraph.graphql'));
    expect(config.SUBGRAPH_SECRET).toBeUndefined();
    expect(config.CORS_ORIGINS).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('keeps the strict sign-up limits in production, and out of reach of a person trying the system elsewhere', () => {
    const production = loadConfig(gatewayConfig, { NODE_ENV: 'production', SUBGRAPH_SECRET: 'a-long-enough-secret', ...AUTH });
    expect([production.SIGNUP_RATE_PER_IP, production.SIGNUP_RATE_GLOBAL]).toEqual([10, 600]);
    for (const NODE_ENV of ['development', 'test']) {
      const config = loadConfig(systemConfig(), { NODE_ENV });
      expect([config.SIGNUP_RATE_PER_IP, config.SIGNUP_RATE_GLOBAL]).toEqual([1000, 100_000]);
    }
    const chosen = loadConfig(gatewayConfig, { NODE_ENV: 'production', SUBGRAPH_SECRET: 'a-long-enough-secret', ...AUTH, SIGNUP_RATE_PER_IP: '3', SIGNUP_RATE_GLOBAL: '50' });
    expect([chosen.SIGNUP_RATE_PER_IP, chosen.SIGNUP_RATE_GLOBAL]).toEqual([3, 50]);
  });

  it('treats empty variables as unset', () => {
    const config = loadConfig(systemConfig(), { GATEWAY_PORT: '', SUBGRAPH_SECRET: '' });
    expect(config.GATEWAY_PORT).toBe(4000);
    expect(config.SUBGRAPH_SECRET).toBeUndefined();
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      loadConfig(systemConfig(), {
        NODE_ENV: 'staging',
        GATEWAY_PORT: '99999',
        SUBGRAPH_SECRET: 'short',
        SUBGRAPH_TIMEOUT_MS: '0',
        CORS_ORIGINS: 'https://ok.example.com,https://bad.example.com/path',
        TRUST_PROXY: 'everyone',
        SIGNUP_RATE_PER_IP: 'many',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const key of ['NODE_ENV', 'GATEWAY_PORT', 'SUBGRAPH_SECRET', 'SUBGRAPH_TIMEOUT_MS', 'CORS_ORIGINS', 'TRUST_PROXY', 'SIGNUP_RATE_PER_IP']) {
      expect(message).toMatch(new RegExp(`^  ${key}: `, 'm'));
    }
    expect(message).toMatch(/"https:\/\/bad\.example\.com\/path" is not an origin/);
  });

  it('takes a PostgreSQL DATABASE_URL, refuses any other among the other problems, and never echoes it', () => {
    expect(loadConfig(systemConfig(), {}).DATABASE_URL).toBeUndefined();
    expect(loadConfig(systemConfig(), { DATABASE_URL: 'postgres://app:pw@db:5432/signup' }).DATABASE_URL).toBe('postgres://app:pw@db:5432/signup');
    expect(loadConfig(systemConfig(), { DATABASE_URL: 'postgresql://app@db/signup' }).DATABASE_URL).toBe('postgresql://app@db/signup');

    const refuse = () => loadConfig(systemConfig(), { DATABASE_URL: 'mysql://app:secret-pw@db/signup', GATEWAY_PORT: 'x' });

    expect(refuse).toThrow(/^  DATABASE_URL: must be a URL like postgres:\/\//m);
    expect(refuse).toThrow(/^  GATEWAY_PORT: /m);
    expect(refuse).not.toThrow(/secret-pw/);
  });

  it('parses the lists and the proxy setting', () => {
    expect(loadConfig(systemConfig(), { CORS_ORIGINS: 'https://a.example.com, http://localhost:5173' }).CORS_ORIGINS).toEqual(['https://a.example.com', 'http://localhost:5173']);
    expect(loadConfig(systemConfig(), { TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(loadConfig(systemConfig(), { TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    const production = { NODE_ENV: 'production', SUBGRAPH_SECRET: 'a-long-enough-secret' };
    expect(() => loadConfig(usersConfig, { ...production, TRUST_PROXY: 'true' })).toThrow(/TRUST_PROXY: true trusts the leftmost X-Forwarded-For entry, which any client writes/);
    expect(loadConfig(usersConfig, { ...production, TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(loadConfig(systemConfig(), { TRUST_PROXY: 'loopback, 10.0.0.0/8' }).TRUST_PROXY).toBe('loopback, 10.0.0.0/8');
    expect(loadConfig(usersConfig, {}).LOG_READERS).toEqual(['notifications']);
    expect(loadConfig(usersConfig, { LOG_READERS: 'notifications, audit' }).LOG_READERS).toEqual(['notifications', 'audit']);
    expect(loadConfig(usersConfig, { LOG_READERS: 'none' }).LOG_READERS).toEqual([]);
    expect(() => loadConfig(usersConfig, { LOG_READERS: 'notifications,,audit' })).toThrow(/LOG_READERS\.1: each reader must be 1-100 characters/);
    expect(loadConfig(gatewayConfig, { SIGNUP_RATE_IPV6_PREFIX: '56' }).SIGNUP_RATE_IPV6_PREFIX).toBe(56);
    for (const prefix of ['16', '129', '64.5']) expect(() => loadConfig(gatewayConfig, { SIGNUP_RATE_IPV6_PREFIX: prefix })).toThrow(/SIGNUP_RATE_IPV6_PREFIX: /);
  });

  it('listens on every interface unless a hop count trusts whoever connects: then on loopback, or where GATEWAY_HOST says', () => {
    const hostOf = (env: Record<string, string>) => gatewayHost(loadConfig(gatewayConfig, env));
    expect(hostOf({})).toBeUndefined();
    expect(hostOf({ TRUST_PROXY: '0' })).toBeUndefined();
    expect(hostOf({ TRUST_PROXY: '10.0.0.0/8' })).toBeUndefined();
    expect(hostOf({ TRUST_PROXY: '1' })).toBe('127.0.0.1');
    expect(hostOf({ TRUST_PROXY: 'true' })).toBe('127.0.0.1');
    expect(hostOf({ TRUST_PROXY: '2', GATEWAY_HOST: '10.1.2.3' })).toBe('10.1.2.3');
  });

  it('reads in each service only the keys that service declares', () => {
    const broken = { SMTP_URL: 'not a url', SUPERGRAPH_PATH: '', USERS_PORT: 'x', GATEWAY_PORT: 'y' };
    // What `npm run start:subgraph -- users` reads: the service's keys and its port from the subgraph list.
    const users = listedSubgraph(subgraphNamed(readSubgraphList(), 'users')).config;
    expect(() => loadConfig(users, broken)).toThrow(/^ {2}USERS_PORT: /m);
    expect(() => loadConfig(users, broken)).not.toThrow(/SMTP_URL|GATEWAY_PORT/);
    expect(Object.keys(loadConfig(users, {}))).not.toContain('SMTP_URL');
    expect(loadConfig(users, {})).toMatchObject({ USERS_PORT: 4001 });
    expect(Object.keys(loadConfig(gatewayConfig, {}))).not.toContain('DATA_DIR');
    expect(() => loadConfig(systemConfig(), broken)).toThrow(/SMTP_URL[\s\S]*USERS_PORT|USERS_PORT[\s\S]*SMTP_URL/);
  });

  it('demands in production what each service needs, and only that', () => {
    const secret = { SUBGRAPH_SECRET: 'a-long-enough-secret' };
    expect(() => loadConfig(usersConfig, { NODE_ENV: 'production' })).toThrow(/SUBGRAPH_SECRET: required in production/);
    expect(() => loadConfig(usersConfig, { NODE_ENV: 'production', ...secret })).not.toThrow();
    expect(() => loadConfig(systemConfig(), { NODE_ENV: 'production', ...secret })).toThrow(/SMTP_URL: required in production/);
    expect(() => loadConfig(systemConfig(), { NODE_ENV: 'production', ...secret, SMTP_URL: 'smtp://mail.example.com:587' })).toThrow(
      /AUTH_ISSUER: required in production \(or AUTH_JWKS_URL\)[\s\S]*AUTH_AUDIENCE: required/,
    );
    expect(() => loadConfig(systemConfig(), { NODE_ENV: 'production', ...secret, ...AUTH, SMTP_URL: 'smtp://mail.example.com:587' })).not.toThrow();
    expect(() => loadConfig(gatewayConfig, { NODE_ENV: 'production', ...secret, AUTH_JWKS_URL: AUTH.AUTH_ISSUER })).toThrow(/AUTH_AUDIENCE: required/);
    expect(() => loadConfig(gatewayConfig, { NODE_ENV: 'production', ...secret, AUTH_JWKS_URL: 'https://id.example.com/jwks', AUTH_AUDIENCE: 'api' })).not.toThrow();
    expect(() => loadConfig(gatewayConfig, { NODE_ENV: 'production', ...secret, AUTH_ISSUER: 'http://id.example.com', AUTH_AUDIENCE: 'api' })).toThrow(
      /AUTH_ISSUER: must be https in production \(plain http only to this machine\), got http:\/\/id\.example\.com/,
    );
    for (const local of ['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080']) {
      expect(() => loadConfig(gatewayConfig, { NODE_ENV: 'production', ...secret, AUTH_ISSUER: local, AUTH_AUDIENCE: 'api' })).not.toThrow();
    }
    expect(loadConfig(gatewayConfig, { AUTH_ISSUER: 'http://id.example.com', AUTH_AUDIENCE: 'api' }).AUTH_ISSUER).toBe('http://id.example.com');
  });

  it('refuses a delivery lease shorter than an SMTP conversation, and gives deferred emails five days', () => {
    expect(loadConfig(notificationsConfig, {}).DELIVERY_LEASE_MS).toBe(60_000);
    expect(loadConfig(notificationsConfig, { DELIVERY_LEASE_MS: '5000' }).DELIVERY_LEASE_MS).toBe(5_000);
    expect(() => loadConfig(notificationsConfig, { DELIVERY_LEASE_MS: '3000' })).toThrow(/DELIVERY_LEASE_MS: must be at least 5000 \(ms\)/);
    expect(loadConfig(notificationsConfig, {}).SMTP_RETRY_MAX_AGE_MS).toBe(5 * 24 * 3_600_000);
  });

  it('bounds slow clients by default, keeps idle connections past a balancer\'s 60 s, and refuses a headers timeout past the request timeout', () => {
    expect(loadConfig(usersConfig, {})).toMatchObject({
      HTTP_HEADERS_TIMEOUT_MS: 10_000,
      HTTP_REQUEST_TIMEOUT_MS: 30_000,
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 72_000,
      HTTP_MAX_CONNECTIONS: 10_000,
    });
    expect(loadConfig(gatewayConfig, { HTTP_MAX_CONNECTIONS: '500' }).HTTP_MAX_CONNECTIONS).toBe(500);
    expect(() => loadConfig(notificationsConfig, { HTTP_HEADERS_TIMEOUT_MS: '40000' })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS \(30000\), got 40000/,
    );
  });

  it('refuses the benchmark-only LOG_FSYNC=off in production', () => {
    const secret = { SUBGRAPH_SECRET: 'a-long-enough-secret' };
    expect(loadConfig(usersConfig, {}).LOG_FSYNC).toBe('on');
    expect(loadConfig(usersConfig, { NODE_ENV: 'test', LOG_FSYNC: 'off' }).LOG_FSYNC).toBe('off');
    expect(() => loadConfig(usersConfig, { NODE_ENV: 'production', ...secret, LOG_FSYNC: 'off' })).toThrow(/LOG_FSYNC: off is for benchmarks only/);
  });

  it('accepts only asymmetric token algorithms, and an audience with any issuer, outside production too', () => {
    expect(loadConfig(gatewayConfig, {}).AUTH_ALGORITHMS).toEqual(['RS256', 'PS256', 'ES256', 'EdDSA']);
    expect(loadConfig(gatewayConfig, { AUTH_ALGORITHMS: 'ES256, RS256' }).AUTH_ALGORITHMS).toEqual(['ES256', 'RS256']);
    for (const refused of ['none', 'HS256', 'RS256,HS512', ',']) {
      expect(() => loadConfig(gatewayConfig, { AUTH_ALGORITHMS: refused })).toThrow(/AUTH_ALGORITHMS: .*(never none, never HMAC|names no algorithm)/);
    }
    expect(() => loadConfig(gatewayConfig, { AUTH_ISSUER: 'http://127.0.0.1:9' })).toThrow(/AUTH_AUDIENCE: required with a token issuer/);
    expect(() => loadConfig(gatewayConfig, { AUTH_ISSUER: 'not a url', AUTH_CLOCK_TOLERANCE_S: '3600' })).toThrow(/AUTH_ISSUER[\s\S]*AUTH_CLOCK_TOLERANCE_S/);
  });
});
