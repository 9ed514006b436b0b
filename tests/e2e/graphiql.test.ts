import { useSystem } from '../helpers/system';

const get = (base: string, route: string, init: RequestInit = {}) => fetch(new URL(route, base), { redirect: 'manual', ...init });

describe('the offline GraphiQL the gateway serves outside production', () => {
  const fixture = useSystem();
  const gateway = () => fixture.system.gatewayUrl;

  it('serves the page under a policy that lets it load from and talk to the gateway only', async () => {
    const response = await get(gateway(), 'graphiql/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy).toMatch(/default-src 'none'/);
    for (const directive of ['script-src', 'connect-src', 'worker-src']) expect(policy).toMatch(new RegExp(`${directive} 'self';`));
    const page = await response.text();
    expect(page).toMatch(/<title>GraphiQL/);
    // Nothing in the page names another host: every script and style is the gateway's.
    expect(page).not.toMatch(/https?:\/\//);
  });

  it('serves the hashed assets the page names, cached for good', async () => {
    const page = await (await get(gateway(), 'graphiql/')).text();
    const assets = [...page.matchAll(/(?:src|href)="(\/graphiql\/assets\/[^"]+)"/g)].map((match) => match[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const response = await get(gateway(), asset);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toMatch(/immutable/);
      expect(response.headers.get('content-type')).toMatch(/javascript|css/);
      await response.arrayBuffer();
    }
  });

  it('redirects the route without its slash, keeping the query string', async () => {
    const response = await get(gateway(), 'graphiql?tab=headers');
    expect(response.status).toBe(308);
    expect(response.headers.get('location')).toBe('/graphiql/?tab=headers');
  });

  it('answers 404, naming the path, for a file that is not there and for paths out of its folder', async () => {
    const missing = await get(gateway(), 'graphiql/assets/missing.js');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ errors: [{ message: 'No file at /graphiql/assets/missing.js.', extensions: { code: 'NOT_FOUND' } }] });
    // The built folder sits in dist/ beside the server's own code and the data; none of it is reachable.
    for (const route of ['graphiql/..%2f..%2fpackage.json', 'graphiql/%2e%2e/%2e%2e/package.json', 'graphiql/.%2e/system/start-all.js', 'graphiql/%2e%2e%5c..%5cpackage.json']) {
      const response = await get(gateway(), route);
      expect(response.status).toBe(404);
      expect(await response.text()).not.toMatch(/federated-signup|require\(/);
    }
  });

  it('serves only reads: a POST under the route is not GraphQL and not a file', async () => {
    const response = await get(gateway(), 'graphiql/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    expect(response.status).toBe(404);
  });
});
