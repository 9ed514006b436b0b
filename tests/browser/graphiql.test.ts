import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeIfBrowser, launchBrowser } from '../helpers/browser';
import { gql, SIGN_UP } from '../helpers/graphql';
import { useSystem } from '../helpers/system';

const SCREENSHOT = path.resolve(__dirname, '../../test-artifacts/graphiql.png');
const UI_TIMEOUT_MS = 20_000;

/** Puts `text` in the headers editor in one input, replacing what is there, as a paste does (typing it would auto-close brackets). */
const pasteHeaders = async (page: Page, text: string) => {
  await page.locator('.monaco-editor[data-uri$="request-headers.json"]').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.insertText(text);
};

/** What the response pane shows, as one line of text. */
const shownResponse = (page: Page) => page.locator('.graphiql-response').innerText().then((text) => text.replace(/\s+/g, ' '));

describeIfBrowser()('the offline GraphiQL in headless chromium, every host but the gateway blocked', () => {
  const fixture = useSystem();
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const elsewhere: string[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    elsewhere.length = 0;
    problems.length = 0;
    context = await browser.newContext();
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    const gateway = new URL(fixture.system.gatewayUrl).origin;
    // The network beyond the gateway is gone, as on a plane: anything the page asks of it fails.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).origin === gateway) return route.continue();
      elsewhere.push(url);
      return route.abort('internetdisconnected');
    });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
  });

  afterEach(async () => {
    await context?.close();
  });

  it('loads, runs a query with a pasted token and shows the answer', async () => {
    const email = 'grace@example.com';
    const signUp = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Grace Hopper', email } });
    const userId: string = signUp.data.addUser.user.id;
    const token = await fixture.system.token(userId);

    await page.goto(new URL('graphiql', fixture.system.gatewayUrl).href);
    expect(new URL(page.url()).pathname).toBe('/graphiql/');
    // The schema arrived by introspection through the gateway: the query editor knows `me`.
    await page.locator('.graphiql-query-editor .monaco-editor').waitFor();
    await page.getByText('query Welcome').waitFor();

    // Headers is the tool shown first.
    await page.getByRole('button', { name: 'Headers', exact: true }).click();
    await pasteHeaders(page, `{"Authorization": "Bearer ${token}"}`);
    await page.getByRole('button', { name: /Execute query/ }).click();

    await page.locator('.graphiql-response').getByText(email).waitFor();
    const answer = await shownResponse(page);
    expect(answer).toContain(`"name": "Grace Hopper"`);
    expect(answer).toContain(`"email": "${email}"`);
    expect(answer).not.toMatch(/"errors"/);
    await page.screenshot({ path: SCREENSHOT });
    expect(elsewhere).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('without a token, shows the refusal the gateway answers', async () => {
    await page.goto(new URL('graphiql/', fixture.system.gatewayUrl).href);
    await page.getByText('query Welcome').waitFor();
    await page.getByRole('button', { name: /Execute query/ }).click();
    await page.locator('.graphiql-response').getByText('UNAUTHORIZED_FIELD_OR_TYPE').waitFor();
    expect(elsewhere).toEqual([]);
  });
});
