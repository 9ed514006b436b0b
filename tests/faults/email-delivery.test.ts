import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import type { TestSmtpServer } from '../helpers/smtp';
import { useSystem } from '../helpers/system';

const WELCOME = `query($id: ID!) { user(id: $id) { welcomeEmail { status attempts lastError messageId } } }`;
const RESEND = `mutation($id: ID!) { resendWelcomeEmail(userId: $id) { delivery { status } errors { code message } } }`;

const recipients = (smtp: TestSmtpServer) =>
  smtp.messages.map((mail) => (Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address).sort();

describe('welcome emails when SMTP or a service fails', () => {
  const fixture = useSystem({ per: 'test' });

  const signUp = async (name: string, email: string): Promise<string> => {
    const response = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name, email } });
    expect(response.data.addUser.errors).toEqual([]);
    return response.data.addUser.user.id;
  };

  it('ends a welcome email refused with 550 as FAILED with the reason, and resendWelcomeEmail sends it once SMTP is fixed', async () => {
    fixture.smtp.setMode({ code: 550, message: 'Mailbox unavailable' });
    const id = await signUp('Mallory', 'mallory@example.com');
    const failed = await eventually(
      () => gql(fixture.system.gatewayUrl, WELCOME, { id }, fixture.system.operatorToken),
      (response) => response.data?.user?.welcomeEmail?.status === 'FAILED',
    );
    expect(failed.data.user.welcomeEmail).toMatchObject({ attempts: 1, lastError: expect.stringMatching(/^550: .*Mailbox unavailable/) });
    expect(fixture.smtp.refused()).toBe(1);

    const tooEarly = await gql(fixture.system.gatewayUrl, RESEND, { id: 'no-such-user' }, fixture.system.operatorToken);
    expect(tooEarly.data.resendWelcomeEmail.errors[0].code).toBe('UNKNOWN_USER');

    fixture.smtp.setMode('accept');
    const resent = await gql(fixture.system.gatewayUrl, RESEND, { id }, fixture.system.operatorToken);
    expect(resent.data.resendWelcomeEmail).toEqual({ delivery: { status: 'QUEUED' }, errors: [] });
    const [mail] = await fixture.smtp.waitForMessages(1);
    const sent = await eventually(
      () => gql(fixture.system.gatewayUrl, WELCOME, { id }, fixture.system.operatorToken),
      (response) => response.data?.user?.welcomeEmail?.status === 'SENT',
    );
    expect(sent.data.user.welcomeEmail).toMatchObject({ attempts: 2, lastError: null });
    expect(mail!.messageId).toBe(sent.data.user.welcomeEmail.messageId);

    const again = await gql(fixture.system.gatewayUrl, RESEND, { id }, fixture.system.operatorToken);
    expect(again.data.resendWelcomeEmail.errors).toEqual([{ code: 'NOT_FAILED', message: expect.stringContaining('SENT') }]);
  });

  it('retries a welcome email refused with 421 with backoff, showing attempts and lastError, until it is sent once', async () => {
    fixture.smtp.setMode({ code: 421, message: 'Try again later' });
    const id = await signUp('Retry', 'retry@example.com');
    const retrying = await eventually(
      () => gql(fixture.system.gatewayUrl, WELCOME, { id }, fixture.system.operatorToken),
      (response) => response.data?.user?.welcomeEmail?.attempts >= 2,
    );
    expect(retrying.data.user.welcomeEmail).toMatchObject({ status: 'QUEUED', lastError: expect.stringMatching(/^421: .*Try again later/) });

    fixture.smtp.setMode('accept');
    await fixture.smtp.waitForMessages(1);
    await eventually(
      () => gql(fixture.system.gatewayUrl, WELCOME, { id }, fixture.system.operatorToken),
      (response) => response.data?.user?.welcomeEmail?.status === 'SENT',
    );
    expect(recipients(fixture.smtp)).toEqual(['retry@example.com']);
  });

  it('sends every email once when the notifications service comes back after missing sign-ups', async () => {
    await fixture.system.stop('notifications');
    const emails = Array.from({ length: 6 }, (_, i) => `late${i}@example.com`);
    for (const [i, email] of emails.entries()) await signUp(`Late ${i}`, email);
    expect(fixture.smtp.messages).toHaveLength(0);

    await fixture.system.start('notifications');
    await fixture.smtp.waitForMessages(emails.length);
    const all = await eventually(
      () => gql(fixture.system.gatewayUrl, `{ users { edges { node { welcomeEmail { status } } } } }`, {}, fixture.system.operatorToken),
      (response) => response.data?.users?.edges?.every((edge: any) => edge.node.welcomeEmail?.status === 'SENT'),
    );
    expect(all.data.users.edges).toHaveLength(emails.length);
    expect(recipients(fixture.smtp)).toEqual([...emails].sort());
  });
});
