import { randomBytes } from 'node:crypto';
import { gql, eventually } from '../helpers/graphql';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver';
import { freePort, spawnService, type ServiceProcess } from '../helpers/processes';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp';
import { startTokenIssuer, type TokenIssuer } from '../helpers/system';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

const SIGN_UP_WITH_EMAIL = /* GraphQL */ `
  mutation SignUp($input: AddUserInput!) {
    addUser(input: $input) {
      user { id welcomeEmail { status } }
      errors { code }
    }
  }
`;

describe('one trace per sign-up, across the three services and the log', () => {
  let receiver: OtlpReceiver;
  let smtp: TestSmtpServer;
  let issuer: TokenIssuer;
  let dataDir: string;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    dataDir = await makeTempDir('signup-tracing-');
    [receiver, smtp, issuer] = await Promise.all([startOtlpReceiver(), startSmtpServer(), startTokenIssuer(dataDir)]);
  });

  afterAll(async () => {
    await Promise.all(processes.map((service) => service.kill()));
    await Promise.all([receiver.close(), smtp.close(), issuer.close()]);
    await removeTempDir(dataDir);
  });

  it('the client’s traceparent runs through gateway, users and notifications; the email’s spans link to the sign-up; no span holds personal data', async () => {
    const [gatewayPort, usersPort, notificationsPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const env = { ...issuer.env, DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' };
    const spawn = (entry: string, extra: Record<string, string>, ready: RegExp) => {
      const service = spawnService(entry, { ...env, ...extra });
      processes.push(service);
      return service.waitFor(ready, 60_000);
    };
    await Promise.all([
      spawn('system/start-subgraph.ts users', { USERS_PORT: String(usersPort) }, /users listening/),
      spawn('system/start-subgraph.ts notifications', { NOTIFICATIONS_PORT: String(notificationsPort), SMTP_URL: smtp.url }, /notifications listening/),
    ]);
    await spawn(
      'gateway/src/main.ts',
      {
        GATEWAY_PORT: String(gatewayPort),
        USERS_URL: `http://127.0.0.1:${usersPort}/graphql`,
        NOTIFICATIONS_URL: `http://127.0.0.1:${notificationsPort}/graphql`,
      },
      /gateway listening/,
    );

    const traceId = randomBytes(16).toString('hex');
    const clientSpanId = randomBytes(8).toString('hex');
    const email = 'ada.tracing@example.com';
    const name = 'Ada Tracing';
    const answer = await gql(
      `http://127.0.0.1:${gatewayPort}/`,
      SIGN_UP_WITH_EMAIL,
      { input: { name, email } },
      { authorization: `Bearer ${issuer.operatorToken}`, traceparent: `00-${traceId}-${clientSpanId}-01` },
    );
    // welcomeEmail makes the gateway ask the notifications subgraph too. Its answer races the email's queue:
    // null until notifications has read the UserAdded record, then a status.
    const { user, errors } = answer.data.addUser;
    expect({ id: user.id, errors }).toEqual({ id: expect.any(String), errors: [] });
    expect([null, 'QUEUED', 'SENT']).toContain(user.welcomeEmail?.status ?? null);
    await smtp.waitForMessages(1);
    const exported = (spanName: string) => eventually(async () => receiver.spans.find((span) => span.name === spanName), Boolean);
    const deliver = (await exported('welcome-email deliver'))!;

    const inTrace = receiver.spans.filter((span) => span.traceId === traceId);
    const one = (service: string, spanName: string): ReceivedSpan => {
      const found = inTrace.filter((span) => span.service === service && span.name === spanName);
      expect(found.map((span) => `${span.service} ${span.name}`)).toEqual([`${service} ${spanName}`]);
      return found[0]!;
    };
    // The gateway continues the client's trace; @apollo/gateway's own spans hang below its server span.
    const gatewayServer = one('gateway', 'POST /');
    expect(gatewayServer.parentSpanId).toBe(clientSpanId);
    expect(gatewayServer.attributes['http.response.status_code']).toBe(200);
    const request = one('gateway', 'gateway.request');
    expect(request.parentSpanId).toBe(gatewayServer.spanId);
    const fetches = inTrace.filter((span) => span.name === 'gateway.fetch');
    expect(fetches.map((span) => span.attributes.service).sort()).toEqual(['notifications', 'users']);
    // Each subgraph's server span is the child of the gateway's fetch of it: traceparent went over HTTP.
    const usersServer = one('users', 'POST /graphql');
    expect(usersServer.parentSpanId).toBe(fetches.find((span) => span.attributes.service === 'users')!.spanId);
    const notificationsServer = one('notifications', 'POST /graphql');
    expect(notificationsServer.parentSpanId).toBe(fetches.find((span) => span.attributes.service === 'notifications')!.spanId);
    // The command, and its append to the log under it.
    const command = one('users', 'users signUp');
    expect(command.parentSpanId).toBe(usersServer.spanId);
    const append = one('users', 'log.append');
    expect(append.parentSpanId).toBe(command.spanId);
    expect(append.attributes).toMatchObject({ 'log.stream': 'users', 'log.backend': 'file', 'log.version': 1 });

    // Across the log: the record carried the command's trace context, and the email's spans link to it.
    const signUpLink = { traceId, spanId: command.spanId };
    const consumed = (await exported('users process'))!;
    expect(consumed.service).toBe('notifications');
    expect(consumed.links).toContainEqual(signUpLink);
    expect(deliver.service).toBe('notifications');
    expect(deliver.traceId).not.toBe(traceId);
    expect(deliver.parentSpanId).toBeUndefined();
    expect(deliver.links).toEqual([signUpLink]);
    const send = receiver.spans.find((span) => span.name === 'smtp send')!;
    expect(send).toMatchObject({ traceId: deliver.traceId, parentSpanId: deliver.spanId, status: { code: 0 } });

    // No personal data anywhere in what was exported: not the address, not the name, not the document.
    for (const body of receiver.bodies) {
      expect(body).not.toContain(email);
      expect(body).not.toContain(name);
      expect(body).not.toContain('addUser');
    }
  });
});
