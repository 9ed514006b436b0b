import { userById } from '../domain';
import type { UserResolvers } from '../generated/resolvers-types';

export const User: UserResolvers = {
  __resolveReference: ({ id }, { store }) => userById(store.state, id) ?? null,
};
