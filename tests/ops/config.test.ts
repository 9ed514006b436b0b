import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../../lib/config';

describe('loadConfig', () => {
  it('gives every variable its default, in a frozen object', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      GATEWAY_PORT: 4000,
      DATA_DIR: resolve('.data'),
      SUBGRAPH_TIMEOUT_MS: 10_000,
      MAX_BODY_BYTES: 65_536,
      MAX_QUERY_DEPTH: 8,
      MAX_QUERY_ALIASES: 15,
      MAX_QUERY_TOKENS: 1000,
      MAX_QUERY_COST: 5000,
      MAX_QUERY_DIRECTIVES: 20,
      SIGNUP_RATE_PER_IP: 10,
      SIGNUP_RATE_GLOBAL: 600,
      SIGNUP_RATE_WINDOW_MS: 600_000,
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

  it('treats empty variables as unset', () => {
    const config = loadConfig({ GATEWAY_PORT: '', SUBGRAPH_SECRET: '' });
    expect(config.GATEWAY_PORT).toBe(4000);
    expect(config.SUBGRAPH_SECRET).toBeUndefined();
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({
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

  it('parses the lists and the proxy setting', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example.com, http://localhost:5173' }).CORS_ORIGINS).toEqual(['https://a.example.com', 'http://localhost:5173']);
    expect(loadConfig({ TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).TRUST_PROXY).toBe('loopback, 10.0.0.0/8');
  });

  it('demands in production what each service needs, and only that', () => {
    const secret = { SUBGRAPH_SECRET: 'a-long-enough-secret' };
    expect(() => loadConfig({ NODE_ENV: 'production' }, 'users')).toThrow(/SUBGRAPH_SECRET: required in production/);
    expect(() => loadConfig({ NODE_ENV: 'production', ...secret }, 'users')).not.toThrow();
    expect(() => loadConfig({ NODE_ENV: 'production', ...secret }, 'all')).toThrow(/SMTP_URL: required in production/);
    expect(() => loadConfig({ NODE_ENV: 'production', ...secret, SMTP_URL: 'smtp://mail.example.com:587' }, 'all')).not.toThrow();
  });

  it('refuses the benchmark-only LOG_FSYNC=off in production', () => {
    const secret = { SUBGRAPH_SECRET: 'a-long-enough-secret' };
    expect(loadConfig({}).LOG_FSYNC).toBe('on');
    expect(loadConfig({ NODE_ENV: 'test', LOG_FSYNC: 'off' }).LOG_FSYNC).toBe('off');
    expect(() => loadConfig({ NODE_ENV: 'production', ...secret, LOG_FSYNC: 'off' }, 'users')).toThrow(/LOG_FSYNC: off is for benchmarks only/);
  });
});
