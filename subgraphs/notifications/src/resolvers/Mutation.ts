import { resendWelcome } from '../domain';
import type { MutationResolvers } from '../generated/resolvers-types';

export const Mutation: MutationResolvers = {
  resendWelcomeEmail: async (_, { userId }, { store, sendSoon, logger, viewer }) => {
    const result = await store.execute(resendWelcome(userId, viewer));
    if (result.delivery) {
      logger.info({ deliveryId: result.delivery.id }, 'welcome email queued again');
      sendSoon(result.delivery.id);
    }
    return { delivery: result.delivery, errors: [...result.errors] };
  },
};
