import { GraphQLError } from 'graphql';
import { LogUnavailableError } from '../../../../lib/log';
import { signUp } from '../domain';
import { UsersErrorCode } from '../errors';
import type { MutationResolvers } from '../generated/resolvers-types';

const unavailable = (originalError: Error) =>
  new GraphQLError('The sign-up could not be confirmed because storage is unavailable; try again shortly', {
    extensions: { code: UsersErrorCode.UNAVAILABLE },
    originalError,
  });

export const Mutation: MutationResolvers = {
  addUser: async (_, { input }, { store, newId, now, logger, onSignUp }) => {
    const result = await store.execute(signUp(input, { id: newId(), createdAt: now().toISOString() })).catch((error: unknown) => {
      if (error instanceof LogUnavailableError) throw unavailable(error);
      throw error;
    });
    onSignUp?.(result.user ? 'created' : (result.errors[0]?.code ?? 'refused'));
    if (result.user) logger.info({ userId: result.user.id, version: store.version }, 'user signed up');
    else logger.info({ codes: result.errors.map((error) => error.code) }, 'sign-up refused');
    return { user: result.user, errors: [...result.errors] };
  },
};
