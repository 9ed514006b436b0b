import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { useSystem } from '../helpers/system';

const WELCOME = /* GraphQL */ `
  query Welcome($id: ID!) {
    user(id: $id) { id name welcomeEmail { status attempts messageId to subject sentAt lastError } }
  }
`;

describe('sign-up through the gateway, end to end', () => {
  const fixture = useSystem();

  it('signs a user up and delivers one welcome email over SMTP, with the name escaped in the HTML', async () => {
    const signUp = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: '  Ada <Lovelace> & Co ', email: ' ada@example.com ' } });
    expect(signUp.errors).toBeUndefined();
    const user = signUp.data.addUser.user;
    expect(user).toMatchObject({ name: 'Ada <Lovelace> & Co' });
    expect(signUp.data.addUser.errors).toEqual([]);

    const [mail] = await fixture.smtp.waitForMessages(1);
    expect(mail!.to).toMatchObject({ value: [{ address: 'ada@example.com', name: 'Ada <Lovelace> & Co' }] });
    expect(mail!.subject).toBe('Welcome, Ada <Lovelace> & Co!');
    expect(mail!.html).toContain('Hello Ada &lt;Lovelace&gt; &amp; Co,');
    expect(mail!.html).not.toContain('<Lovelace>');
    expect(mail!.text).toContain('Hello Ada <Lovelace> & Co,');
    expect(mail!.from?.value[0]?.address).toBe('welcome@localhost');

    const read = await eventually(
      () => gql(fixture.system.gatewayUrl, WELCOME, { id: user.id }, fixture.system.operatorToken),
      (response) => response.data?.user?.welcomeEmail?.status === 'SENT',
    );
    expect(read.data.user.welcomeEmail).toMatchObject({ attempts: 1, to: 'ada@example.com', lastError: null });
    expect(mail!.messageId).toBe(read.data.user.welcomeEmail.messageId);
  });

  it('answers one query with fields from both subgraphs', async () => {
    const response = await gql(
      fixture.system.gatewayUrl,
      `{ users(first: 10) { totalCount edges { node { email welcomeEmail { status } notifications { kind } } } } }`, {}, fixture.system.operatorToken,
    );
    expect(response.errors).toBeUndefined();
    expect(response.data.users.totalCount).toBe(1);
    expect(response.data.users.edges[0].node).toEqual({
      email: 'ada@example.com',
      welcomeEmail: { status: 'SENT' },
      notifications: [{ kind: 'WELCOME' }],
    });
  });

  it('refuses a second sign-up with the same email in other case, and sends nothing', async () => {
    const response = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Imposter', email: 'ADA@Example.COM' } });
    expect(response.data.addUser).toEqual({
      user: null,
      errors: [{ code: 'EMAIL_TAKEN', field: 'email', message: expect.any(String) }],
    });
    const count = await gql(fixture.system.gatewayUrl, `{ users { totalCount } }`, {}, fixture.system.operatorToken);
    expect(count.data.users.totalCount).toBe(1);
    expect(fixture.smtp.messages).toHaveLength(1);
  });

  it('answers with the users data and an error naming the notifications service while it is down, and recovers', async () => {
    await fixture.system.stop('notifications');
    const partial = await gql(fixture.system.gatewayUrl, `{ users { edges { node { email welcomeEmail { status } } } } }`, {}, fixture.system.operatorToken);
    expect(partial.status).toBe(200);
    expect(partial.data.users.edges[0].node.email).toBe('ada@example.com');
    expect(partial.data.users.edges[0].node.welcomeEmail).toBeNull();
    expect(partial.errors).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/^The notifications service is unavailable: .*ECONNREFUSED/),
        extensions: expect.objectContaining({ code: 'SUBGRAPH_UNAVAILABLE', serviceName: 'notifications' }),
      }),
    ]);

    await fixture.system.start('notifications');
    const whole = await gql(fixture.system.gatewayUrl, `{ users { edges { node { welcomeEmail { status } } } } }`, {}, fixture.system.operatorToken);
    expect(whole.errors).toBeUndefined();
    expect(whole.data.users.edges[0].node.welcomeEmail.status).toBe('SENT');
  });

  it('keeps every user and sends no second email across a restart of the whole system', async () => {
    for (const n of [1, 2, 3]) {
      const response = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: `User ${n}`, email: `user${n}@example.com` } });
      expect(response.data.addUser.errors).toEqual([]);
    }
    await fixture.smtp.waitForMessages(4);
    const before = await gql(fixture.system.gatewayUrl, `{ users { totalCount edges { node { id email createdAt } } } }`, {}, fixture.system.operatorToken);

    await fixture.restart();

    const after = await gql(fixture.system.gatewayUrl, `{ users { totalCount edges { node { id email createdAt } } } }`, {}, fixture.system.operatorToken);
    expect(after.data).toEqual(before.data);
    expect(after.data.users.totalCount).toBe(4);
    const again = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Again', email: 'USER2@example.com' } });
    expect(again.data.addUser.errors[0].code).toBe('EMAIL_TAKEN');
    const welcome = await gql(fixture.system.gatewayUrl, `{ users { edges { node { welcomeEmail { status attempts } } } } }`, {}, fixture.system.operatorToken);
    expect(welcome.data.users.edges.map((edge: any) => edge.node.welcomeEmail)).toEqual(
      Array(4).fill({ status: 'SENT', attempts: 1 }),
    );
    expect(fixture.smtp.messages).toHaveLength(4);
  });
});
