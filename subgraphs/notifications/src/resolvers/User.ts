import { deliveriesOf, welcomeOf } from '../domain';
import type { UserResolvers } from '../generated/resolvers-types';

export const User: UserResolvers = {
  __resolveReference: ({ id }) => ({ id }),
  welcomeEmail: ({ id }, _, { store }) => welcomeOf(store.state, id) ?? null,
  notifications: ({ id }, _, { store }) => deliveriesOf(store.state, id),
};
