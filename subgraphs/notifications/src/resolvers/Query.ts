import { GraphQLError } from 'graphql';
import { mayReadPoisoned, poisonedEvents, WRITE_NOTIFICATIONS_SCOPE } from '../domain';
import { NotificationsErrorCode } from '../errors';
import type { QueryResolvers } from '../generated/resolvers-types';

export const Query: QueryResolvers = {
  poisonedUserEvents: (_, __, { store, viewer }) => {
    if (!mayReadPoisoned(viewer)) {
      throw new GraphQLError(`Reading poisoned events needs the ${WRITE_NOTIFICATIONS_SCOPE} scope.`, { extensions: { code: NotificationsErrorCode.FORBIDDEN } });
    }
    return [...poisonedEvents(store.state)];
  },
};
