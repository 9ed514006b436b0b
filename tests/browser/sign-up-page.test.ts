import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildWebPage, describeIfBrowser, launchBrowser, serveStatic, type StaticServer } from '../helpers/browser';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { useSystem } from '../helpers/system';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

const SCREENSHOT = path.resolve(__dirname, '../../test-artifacts/sign-up-page.png');
const UI_TIMEOUT_MS = 15_000;

/** A classic CSRF attack: a plain HTML form, which browsers send cross-origin without a preflight. */
const csrfPage = (gatewayUrl: string) => `<!doctype html>
<form method="POST" enctype="text/plain" action="${gatewayUrl}">
  <input type="hidden"
    name='{"query":"mutation { addUser(input: {name: \\"Mallory\\", email: \\"mallory@example.com\\"}) { user { id } } }","x":"'
    value='"}'>
</form>
<script>document.forms[0].submit()</script>`;

const listEmails = async (gatewayUrl: string, token: string): Promise<string[]> => {
  const response = await gql(gatewayUrl, `{ users(first: 100) { edges { node { email } } } }`, {}, token);
  return response.data.users.edges.map((edge: { node: { email: string } }) => edge.node.email);
};

/** Pastes a token into the page's sign-in form, as a developer does with one from `npm run token`. */
const signIn = async (page: Page, token: string) => {
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
};

describeIfBrowser()('the sign-up page in headless chromium, served from its own origin', () => {
  const fixture = useSystem();
  let webDir: string;
  let site: StaticServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    webDir = await makeTempDir('web-build-');
    await buildWebPage(webDir, fixture.system.gatewayUrl);
    site = await serveStatic(webDir, { '/csrf.html': csrfPage(fixture.system.gatewayUrl) });
    browser = await launchBrowser();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    if (webDir) await removeTempDir(webDir);
  });

  beforeEach(async () => {
    // A fresh context per test: its own cookies and its own CORS preflight cache.
    context = await browser.newContext();
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    page = await context.newPage();
  });

  afterEach(async () => {
    await context?.close();
  });

  it('shows the error for a bad email next to the email field, and signs nobody up', async () => {
    await page.goto(`${site.origin}/`);
    await page.getByLabel('Name', { exact: true }).fill('Ada');
    await page.getByLabel('Email', { exact: true }).fill('not-an-email');
    await page.getByRole('button', { name: 'Sign up' }).click();

    const email = page.getByLabel('Email', { exact: true });
    const error = page.locator('#signup-email-error');
    await error.waitFor();
    expect(await error.getAttribute('role')).toBe('alert');
    expect(await error.getAttribute('data-code')).toBe('INVALID_EMAIL');
    expect(await error.textContent()).toMatch(/email/i);
    expect(await email.getAttribute('aria-describedby')).toBe('signup-email-error');
    expect(await email.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#signup-name-error').count()).toBe(0);
    expect(await listEmails(fixture.system.gatewayUrl, fixture.system.operatorToken)).toEqual([]);
  });

  it('signs a visitor up anonymously, and shows them no list of users and no one\'s address but the one they typed', async () => {
    const posted: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url() === fixture.system.gatewayUrl) {
        posted.push((request.postDataJSON() as { operationName: string }).operationName);
        expect(request.headers()['authorization']).toBeUndefined();
      }
    });
    await page.goto(`${site.origin}/`);
    await page.getByText('Sign in with a token that has the users:read scope').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Alan Turing');
    await page.getByLabel('Email', { exact: true }).fill('alan@example.com');
    await page.getByRole('button', { name: 'Sign up' }).click();

    await page.locator('[role="status"][data-status="SIGNED_UP"]').waitFor();
    expect(await page.getByRole('status').textContent()).toBe('Signed up. A welcome email is on its way to alan@example.com.');
    expect(await page.locator('table').count()).toBe(0);
    expect(posted).toEqual(['SignUp']);
    await eventually(
      async () => [...fixture.smtp.messages],
      (all) => all.some((mail) => JSON.stringify(mail.to).includes('alan@example.com')),
    );
  });

  it('retries a sign-up whose answer was lost, or that timed out, with the same idempotency key: one user, and the page shows them signed up', async () => {
    const sent: { idempotencyKey: string; name: string; email: string }[] = [];
    let attempt = 0;
    await page.route(fixture.system.gatewayUrl, async (route) => {
      const body = route.request().postDataJSON() as { operationName?: string; variables?: { input: (typeof sent)[number] } };
      if (route.request().method() !== 'POST' || body.operationName !== 'SignUp') return route.continue();
      sent.push(body.variables!.input);
      attempt += 1;
      // Each attempt reaches the gateway for real; the first two answers are lost on the way back.
      const answer = await route.fetch();
      if (attempt === 1) return route.abort('connectionreset');
      if (attempt === 2) {
        const timedOut = { message: 'users did not answer within 10000 ms', extensions: { code: 'SUBGRAPH_UNAVAILABLE', serviceName: 'users', reason: 'timeout' } };
        return route.fulfill({ response: answer, json: { data: null, errors: [timedOut] } });
      }
      return route.fulfill({ response: answer });
    });
    await page.goto(`${site.origin}/`);
    await page.getByLabel('Name', { exact: true }).fill('Katherine Johnson');
    await page.getByLabel('Email', { exact: true }).fill('katherine@example.com');
    await page.getByRole('button', { name: 'Sign up' }).click();

    await page.locator('[role="status"][data-status="SIGNED_UP"]').waitFor();
    expect(sent).toHaveLength(3);
    expect(sent[0]!.idempotencyKey).toMatch(/^[0-9a-f]{32}$/);
    expect(sent.map((input) => input.idempotencyKey)).toEqual(Array(3).fill(sent[0]!.idempotencyKey));
    expect(await page.getByRole('alert').count()).toBe(0);
    expect((await listEmails(fixture.system.gatewayUrl, fixture.system.operatorToken)).filter((email) => email === 'katherine@example.com')).toHaveLength(1);

    // The next sign-up is another one: a new key.
    await page.getByLabel('Name', { exact: true }).fill('Dorothy Vaughan');
    await page.getByLabel('Email', { exact: true }).fill('dorothy@example.com');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByText('A welcome email is on its way to dorothy@example.com.').waitFor();
    expect(sent.at(-1)!.idempotencyKey).not.toBe(sent[0]!.idempotencyKey);
  });

  it('keeps the key when the visitor clicks again after the client gave up, and refuses nothing it already did', async () => {
    const keys: string[] = [];
    let down = true;
    await page.route(fixture.system.gatewayUrl, async (route) => {
      const body = route.request().postDataJSON() as { operationName?: string; variables?: { input: { idempotencyKey: string } } };
      if (route.request().method() !== 'POST' || body.operationName !== 'SignUp') return route.continue();
      keys.push(body.variables!.input.idempotencyKey);
      const answer = await route.fetch();
      return down ? route.abort('connectionreset') : route.fulfill({ response: answer });
    });
    await page.goto(`${site.origin}/`);
    await page.getByLabel('Name', { exact: true }).fill('Mary Jackson');
    await page.getByLabel('Email', { exact: true }).fill('mary@example.com');
    await page.getByRole('button', { name: 'Sign up' }).click();

    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 30_000 });
    expect(await alert.textContent()).toBe('Cannot reach the server. Check your connection and try again.');
    expect(keys).toHaveLength(4); // the first try and three retries
    down = false;
    await page.getByRole('button', { name: 'Sign up' }).click();

    await page.locator('[role="status"][data-status="SIGNED_UP"]').waitFor();
    expect(new Set(keys)).toEqual(new Set([keys[0]]));
    expect(await page.locator('#signup-email-error').count()).toBe(0);
    expect((await listEmails(fixture.system.gatewayUrl, fixture.system.operatorToken)).filter((email) => email === 'mary@example.com')).toHaveLength(1);
  });

  it('says the service is unavailable once the retries of a sign-up its storage could not confirm run out', async () => {
    const keys: string[] = [];
    await page.route(fixture.system.gatewayUrl, async (route) => {
      const body = route.request().postDataJSON() as { operationName?: string; variables?: { input: { idempotencyKey: string } } };
      if (route.request().method() !== 'POST' || body.operationName !== 'SignUp') return route.continue();
      keys.push(body.variables!.input.idempotencyKey);
      const unavailable = { message: 'The sign-up could not be confirmed because storage is unavailable; try again shortly', extensions: { code: 'UNAVAILABLE' } };
      return route.fulfill({ status: 200, contentType: 'application/json', json: { data: null, errors: [unavailable] } });
    });
    await page.goto(`${site.origin}/`);
    await page.getByLabel('Name', { exact: true }).fill('Annie Easley');
    await page.getByLabel('Email', { exact: true }).fill('annie@example.com');
    await page.getByRole('button', { name: 'Sign up' }).click();

    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 30_000 });
    expect(await alert.textContent()).toBe('Part of the service is unavailable right now. Please try again shortly.');
    expect(keys).toHaveLength(4);
    expect(new Set(keys).size).toBe(1);
  });

  it('tells a visitor whose token the gateway refuses why, and lists nothing', async () => {
    await page.goto(`${site.origin}/`);
    await signIn(page, 'not-a-jwt');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe('Your access token was refused: The access token is not a well-formed signed JWT.');
    expect(await page.locator('tbody tr').count()).toBe(0);
  });

  it('signed in, sends the token with every request, signs a user up cross-origin after a CORS preflight, polls the welcome email until SENT, and lists the user', async () => {
    // Playwright's own events leave preflights out; the DevTools protocol shows them.
    const preflights = new Map<string, { url: string; requestHeaders: Record<string, string>; status?: number }>();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.requestWillBeSent', ({ requestId, request }) => {
      if (request.method === 'OPTIONS') preflights.set(requestId, { url: request.url, requestHeaders: request.headers });
    });
    cdp.on('Network.responseReceived', ({ requestId, type, response }) => {
      const preflight = preflights.get(requestId);
      if (preflight && type === 'Preflight') preflight.status = response.status;
    });
    const graphqlPosts: { operationName: string; origin: Promise<string | null>; authorization: string | undefined; allowOrigin: string | undefined }[] = [];
    page.on('response', (response) => {
      const request = response.request();
      if (request.method() !== 'POST' || response.url() !== fixture.system.gatewayUrl) return;
      graphqlPosts.push({
        operationName: (request.postDataJSON() as { operationName: string }).operationName,
        // The browser's network stack adds Origin; only the async header read sees it.
        origin: request.headerValue('origin'),
        authorization: request.headers()['authorization'],
        allowOrigin: response.headers()['access-control-allow-origin'],
      });
    });

    await page.goto(`${site.origin}/`);
    await signIn(page, fixture.system.operatorToken);
    await page.getByRole('heading', { name: /^Users/ }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Grace Hopper');
    await page.getByLabel('Email', { exact: true }).fill('grace@example.com');
    await page.getByRole('button', { name: 'Sign up' }).click();

    const status = page.getByRole('status');
    await page.locator('[role="status"][data-status="SENT"]').waitFor();
    expect(await status.textContent()).toBe('Welcome email sent to grace@example.com.');
    const row = page.getByRole('row').filter({ hasText: 'grace@example.com' });
    await row.getByRole('cell', { name: 'SENT' }).waitFor();
    expect(await row.getByRole('cell').first().textContent()).toBe('Grace Hopper');
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    const [preflight] = [...preflights.values()].filter((p) => p.url === fixture.system.gatewayUrl);
    expect(preflight).toBeDefined();
    expect(preflight!.status).toBeGreaterThanOrEqual(200);
    expect(preflight!.status).toBeLessThan(300);
    expect(preflight!.requestHeaders['Access-Control-Request-Method']).toBe('POST');
    expect(preflight!.requestHeaders['Access-Control-Request-Headers']).toMatch(/authorization/);
    expect(preflight!.requestHeaders['Access-Control-Request-Headers']).toMatch(/content-type/);
    expect(graphqlPosts.map((post) => post.operationName)).toEqual(expect.arrayContaining(['UserList', 'SignUp', 'WelcomeEmail']));
    for (const post of graphqlPosts) {
      expect(post.authorization).toBe(`Bearer ${fixture.system.operatorToken}`);
      expect(await post.origin).toBe(site.origin);
      expect(post.allowOrigin === '*' || post.allowOrigin === site.origin).toBe(true);
    }
    const mails = await eventually(
      async () => [...fixture.smtp.messages],
      (all) => all.some((mail) => JSON.stringify(mail.to).includes('grace@example.com')),
    );
    expect(mails.filter((mail) => JSON.stringify(mail.to).includes('grace@example.com'))).toHaveLength(1);

    // Settled: the page stops polling (three poll intervals of 500 ms without a request).
    const polls = () => graphqlPosts.filter((post) => post.operationName === 'WelcomeEmail').length;
    const settledAt = polls();
    await page.waitForTimeout(1_500);
    expect(polls()).toBe(settledAt);
  });

  it('pages through every user in sign-up order', async () => {
    for (const n of [1, 2, 3, 4, 5]) {
      const response = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: `Reader ${n}`, email: `reader${n}@example.com` } });
      expect(response.data.addUser.errors).toEqual([]);
    }
    const expected = await listEmails(fixture.system.gatewayUrl, fixture.system.operatorToken);

    await page.goto(`${site.origin}/`);
    await signIn(page, fixture.system.operatorToken);
    await page.getByRole('heading', { name: `Users (${expected.length})` }).waitFor();
    const seen: string[][] = [];
    const next = page.getByRole('button', { name: 'Next' });
    for (let pageNumber = 1; ; pageNumber++) {
      await page.getByText(`Page ${pageNumber}`, { exact: true }).waitFor();
      await page.locator('tbody tr').first().waitFor();
      seen.push(await page.locator('tbody tr td:nth-child(2)').allTextContents());
      if (await next.isDisabled()) break;
      await next.click();
    }
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((emails) => emails.length > 0)).toBe(true);
    expect(seen.flat()).toEqual(expected);

    await page.getByRole('button', { name: 'Previous' }).click();
    await page.getByText(`Page ${seen.length - 1}`, { exact: true }).waitFor();
    expect(await page.locator('tbody tr td:nth-child(2)').allTextContents()).toEqual(seen[seen.length - 2]);
  });

  it('refuses a text/plain form POST from another origin as a potential CSRF, and signs nobody up', async () => {
    const before = await listEmails(fixture.system.gatewayUrl, fixture.system.operatorToken);
    const refused = page.waitForResponse((response) => response.url() === fixture.system.gatewayUrl && response.request().method() === 'POST');
    await page.goto(`${site.origin}/csrf.html`);
    const response = await refused;

    expect(response.request().headers()['content-type']).toBe('text/plain');
    expect(response.status()).toBe(400);
    const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]).toMatchObject({
      message: expect.stringContaining('Cross-Site Request Forgery'),
      extensions: { code: 'BAD_REQUEST' },
    });
    expect(await listEmails(fixture.system.gatewayUrl, fixture.system.operatorToken)).toEqual(before);
  });

  it('serves Apollo Sandbox on GET / with the gateway itself as the initial endpoint', async () => {
    // The Sandbox app comes from Apollo's CDN; stand in for it to see how the gateway's page configures it.
    const cdnRequests: string[] = [];
    await context.route(/^https:\/\//, (route) => route.abort());
    await context.route('https://embeddable-sandbox.cdn.apollographql.com/**', (route) => {
      cdnRequests.push(route.request().url());
      return route.fulfill({
        contentType: 'text/javascript',
        body: 'window.EmbeddedSandbox = function (config) { window.sandboxConfig = config; };',
      });
    });

    const response = await page.goto(fixture.system.gatewayUrl);
    expect(response!.status()).toBe(200);
    expect(response!.headers()['content-type']).toMatch(/^text\/html/);
    const config = (await (await page.waitForFunction('window.sandboxConfig')).jsonValue()) as Record<string, unknown>;

    expect(config).toMatchObject({ initialEndpoint: fixture.system.gatewayUrl, endpointIsEditable: false, target: '#embeddableSandbox' });
    expect(cdnRequests).toHaveLength(1);
    expect(cdnRequests[0]).toMatch(/^https:\/\/embeddable-sandbox\.cdn\.apollographql\.com\/.+\/embeddable-sandbox\.umd\.production\.min\.js/);
  });
});
