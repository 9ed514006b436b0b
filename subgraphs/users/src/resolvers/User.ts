import { userById } from '../domain';
import type { UserResolvers } from '../generated/resolvers-types';

export const User: UserResolvers = {
  __resolveReference: ({ id }, { store }) => {
    const user = userById(store.state, id);
    // A copy: @apollo/subgraph defines `__typename` on the returned object, and stored users are frozen.
    return user ? { ...user } : null;
  },
};
