import { GraphQLError } from 'graphql';
import { LogUnavailableError } from '../../../../lib/log';
import { ContentionError } from '../../../../lib/store';
import { signUp } from '../domain';
import { UsersErrorCode } from '../errors';
import type { MutationResolvers } from '../generated/resolvers-types';

const unavailable = (originalError: Error) =>
  new GraphQLError('The sign-up could not be confirmed because storage is unavailable; try again shortly', {
    extensions: { code: UsersErrorCode.UNAVAILABLE },
    originalError,
  });

export const Mutation: MutationResolvers = {
  addUser: async (_, { input }, { store, newId, now, logger, onSignUp, keyRetentionMs, signal }) => {
    const command = signUp(input, { id: newId(), createdAt: now().toISOString() }, keyRetentionMs === undefined ? {} : { keyRetentionMs });
    const result = await store.execute(command, { signal, name: 'signUp' }).catch((error: unknown) => {
      if (error instanceof LogUnavailableError || error instanceof ContentionError) throw unavailable(error);
      throw error;
    });
    if (result.user) {
      onSignUp?.(result.replayed ? 'replayed' : 'created');
      logger.info({ userId: result.user.id, version: store.version }, result.replayed ? 'sign-up replayed for its idempotency key' : 'user signed up');
    } else {
      onSignUp?.(result.errors[0]?.code ?? 'refused');
      logger.info({ codes: result.errors.map((error) => error.code) }, 'sign-up refused');
    }
    return { user: result.user, errors: [...result.errors] };
  },
};
