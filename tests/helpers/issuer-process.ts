// An OpenID Connect issuer in a process of its own (oauth2-mock-server checks its keys' prototypes, which
// jest's module sandbox breaks). Commands arrive as JSON lines on stdin; each answer is a JSON line on stdout.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

type Command =
  | { id: number; cmd: 'token'; claims: Record<string, unknown>; header?: Record<string, unknown>; expiresIn?: number }
  | { id: number; cmd: 'rotate' }
  | { id: number; cmd: 'stop' }
  | { id: number; cmd: 'start' }
  | { id: number; cmd: 'stats' };

const ALGORITHM = 'RS256';
let issuer = new OAuth2Issuer();
let service = new OAuth2Service(issuer);
const fetches = { jwks: 0, discovery: 0 };

const server = createServer((req, res) => {
  if (req.url?.startsWith('/jwks')) fetches.jwks++;
  if (req.url?.startsWith('/.well-known/openid-configuration')) fetches.discovery++;
  service.requestHandler(req, res);
});

const listen = (port: number) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });

const main = async () => {
  await issuer.keys.generate(ALGORITHM);
  const port = await listen(0);
  const url = `http://127.0.0.1:${port}`;
  issuer.url = url;
  process.stdout.write(`${JSON.stringify({ ready: url })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line) as Command;
    let answer: unknown = null;
    if (command.cmd === 'token') {
      answer = await issuer.buildToken({
        expiresIn: command.expiresIn ?? 3600,
        scopesOrTransform: (header, payload) => {
          Object.assign(header, command.header ?? {});
          for (const [claim, value] of Object.entries(command.claims)) {
            if (value === null) delete payload[claim];
            else payload[claim] = value;
          }
        },
      });
    } else if (command.cmd === 'rotate') {
      // A new key in place of the old one, as an identity provider's rotation leaves it.
      issuer = new OAuth2Issuer();
      issuer.url = url;
      answer = (await issuer.keys.generate(ALGORITHM)).kid;
      service = new OAuth2Service(issuer);
    } else if (command.cmd === 'stop') {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    } else if (command.cmd === 'start') {
      await listen(port);
    } else if (command.cmd === 'stats') {
      answer = { ...fetches };
    }
    process.stdout.write(`${JSON.stringify({ id: command.id, answer })}\n`);
  }
};

void main();
