import { GraphQLError } from 'graphql';

/** Codes of the GraphQL errors this subgraph raises on purpose (sign-up refusals are `UserError` values instead). */
export const UsersErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
} as const;

export const badArgument = (argumentName: string, message: string) =>
  new GraphQLError(message, { extensions: { code: UsersErrorCode.BAD_USER_INPUT, argumentName } });
