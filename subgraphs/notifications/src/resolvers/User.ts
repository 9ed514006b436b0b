import { GraphQLError } from 'graphql';
import { deliveriesOf, mayReadEmails, READ_USERS_SCOPE, welcomeOf } from '../domain';
import { NotificationsErrorCode } from '../errors';
import type { UserResolvers } from '../generated/resolvers-types';

const forbidden = () =>
  new GraphQLError(`Only the user themselves, or a caller with the ${READ_USERS_SCOPE} scope, may read their emails.`, {
    extensions: { code: NotificationsErrorCode.FORBIDDEN },
  });

export const User: UserResolvers = {
  __resolveReference: ({ id }) => ({ id }),
  welcomeEmail: ({ id }, _, { store, viewer }) => {
    if (!mayReadEmails(viewer, id)) throw forbidden();
    return welcomeOf(store.state, id) ?? null;
  },
  notifications: ({ id }, _, { store, viewer }) => {
    if (!mayReadEmails(viewer, id)) throw forbidden();
    return deliveriesOf(store.state, id);
  },
};
