/**
 * The floor the users subgraph is measured against: the same schema served by
 * a bare `@apollo/subgraph` server, users in a plain `Map`, no log, no
 * logging, no metrics, no secret. Started by bench/gateways.ts.
 *
 *   PORT=4101 FLOOR_SEED='[{"id":…,"name":…,"email":…,"createdAt":…}]' node dist/bench/floor-server.js   (after npm run build && npm run build:bench)
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { PROJECT_ROOT } from '../lib/paths';

interface FloorUser {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly createdAt: string;
}

const typeDefs = parse(readFileSync(join(PROJECT_ROOT, 'subgraphs', 'users', 'schema.graphql'), 'utf8'));
const byId = new Map<string, FloorUser>();
const idByEmail = new Map<string, string>();
const order: FloorUser[] = [];

const add = (user: FloorUser) => {
  byId.set(user.id, user);
  idByEmail.set(user.email.toLowerCase(), user.id);
  order.push(user);
};
for (const user of JSON.parse(process.env.FLOOR_SEED ?? '[]') as FloorUser[]) add(user);

const cursorOf = (index: number) => Buffer.from(`user:${index + 1}`).toString('base64url');
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const resolvers = {
  Query: {
    user: (_: unknown, { id }: { id: string }) => byId.get(id) ?? null,
    users: (_: unknown, { first, after }: { first?: number | null; after?: string | null }) => {
      const start = after ? Number(Buffer.from(after, 'base64url').toString('utf8').slice(5)) : 0;
      const size = Math.min(first ?? 20, 100);
      const edges = order.slice(start, start + size).map((node, i) => ({ cursor: cursorOf(start + i), node }));
      return {
        edges,
        pageInfo: { hasNextPage: start + size < order.length, endCursor: edges.at(-1)?.cursor ?? null },
        totalCount: order.length,
      };
    },
  },
  Mutation: {
    addUser: (_: unknown, { input }: { input: { name: string; email: string } }) => {
      if (!EMAIL.test(input.email)) return { user: null, errors: [{ code: 'INVALID_EMAIL', field: 'email', message: 'Not an email address.' }] };
      if (idByEmail.has(input.email.toLowerCase())) return { user: null, errors: [{ code: 'EMAIL_TAKEN', field: 'email', message: 'Taken.' }] };
      const user = { id: randomUUID(), name: input.name, email: input.email, createdAt: new Date().toISOString() };
      add(user);
      return { user, errors: [] };
    },
  },
  User: {
    __resolveReference: ({ id }: { id: string }) => byId.get(id) ?? null,
  },
};

const main = async () => {
  const server = new ApolloServer({
    schema: buildSubgraphSchema({ typeDefs, resolvers: resolvers as never }),
    nodeEnv: 'production',
    introspection: false,
    allowBatchedHttpRequests: false,
  });
  const { url } = await startStandaloneServer(server, { listen: { port: Number(process.env.PORT ?? 0), host: '127.0.0.1' } });
  process.stdout.write(`floor listening at ${url}\n`);
  process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
};

void main();
