import { GraphQLError } from 'graphql';
import { mayListUsers, READ_USERS_SCOPE, userById, usersAfter } from '../domain';
import { decodeCursor, encodeCursor } from '../cursor';
import { UsersErrorCode } from '../errors';
import type { QueryResolvers } from '../generated/resolvers-types';

export const MAX_PAGE_SIZE = 100;

const badArgument = (argumentName: string, message: string) =>
  new GraphQLError(message, { extensions: { code: UsersErrorCode.BAD_USER_INPUT, argumentName } });

export const Query: QueryResolvers = {
  user: (_, { id }, { store }) => userById(store.state, id) ?? null,
  me: (_, __, { store, viewer }) => (viewer?.userId === undefined ? null : (userById(store.state, viewer.userId) ?? null)),
  users: (_, { first, after }, { store, viewer }) => {
    if (!mayListUsers(viewer)) {
      throw new GraphQLError(`Listing users needs the ${READ_USERS_SCOPE} scope.`, { extensions: { code: UsersErrorCode.FORBIDDEN } });
    }
    const size = first ?? 20;
    if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
      throw badArgument('first', `"first" must be between 0 and ${MAX_PAGE_SIZE}, got ${size}.`);
    }
    const afterSeq = after == null ? 0 : decodeCursor(after);
    if (afterSeq === undefined) throw badArgument('after', '"after" is not a cursor returned by this API.');
    const page = usersAfter(store.state, afterSeq, size);
    const edges = page.users.map((user) => ({ cursor: encodeCursor(user.seq), node: user }));
    return {
      edges,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
      totalCount: page.totalCount,
    };
  },
};
