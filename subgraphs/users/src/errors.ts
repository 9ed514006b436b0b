import { GraphQLError } from 'graphql';

/** Codes of the GraphQL errors this subgraph raises on purpose (sign-up refusals are `UserError` values instead). */
export const UsersErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /**
   * The log could not be reached (its database is down): the sign-up was not
   * confirmed. It may still have been stored, so a retry can meet EMAIL_TAKEN.
   */
  UNAVAILABLE: 'UNAVAILABLE',
} as const;

export const badArgument = (argumentName: string, message: string) =>
  new GraphQLError(message, { extensions: { code: UsersErrorCode.BAD_USER_INPUT, argumentName } });

export const unavailable = (originalError: Error) =>
  new GraphQLError('The sign-up could not be confirmed because storage is unavailable; try again shortly', {
    extensions: { code: UsersErrorCode.UNAVAILABLE },
    originalError,
  });
