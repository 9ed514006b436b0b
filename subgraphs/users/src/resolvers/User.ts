import { GraphQLError } from 'graphql';
import { mayReadEmail, READ_USERS_SCOPE, userById } from '../domain';
import { UsersErrorCode } from '../errors';
import type { UserResolvers } from '../generated/resolvers-types';

export const User: UserResolvers = {
  __resolveReference: ({ id }, { store }) => {
    const user = userById(store.state, id);
    // A copy: @apollo/subgraph defines `__typename` on the returned object, and stored users are frozen.
    return user ? { ...user } : null;
  },
  email: ({ id, email }, _, { viewer }) => {
    if (mayReadEmail(viewer, id)) return email;
    throw new GraphQLError(`Only the user themselves, or a caller with the ${READ_USERS_SCOPE} scope, may read this address.`, {
      extensions: { code: UsersErrorCode.FORBIDDEN },
    });
  },
};
