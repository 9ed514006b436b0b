import { RemoteGraphQLDataSource } from '@apollo/gateway';
import { GraphQLError } from 'graphql';

/** A subgraph that could not be reached, or answered with something other than GraphQL. */
export const SUBGRAPH_UNAVAILABLE = 'SUBGRAPH_UNAVAILABLE';

/**
 * Calls one subgraph. When the call itself fails (refused, reset, not
 * GraphQL), the error names the service, so a client sees which part of its
 * answer is missing and why.
 */
export class SubgraphSource extends RemoteGraphQLDataSource {
  constructor(
    private readonly serviceName: string,
    url: string,
  ) {
    super({ url });
  }

  override didEncounterError(error: Error): void {
    if (error instanceof GraphQLError) throw error;
    throw new GraphQLError(`The ${this.serviceName} service is unavailable: ${error.message}`, {
      extensions: { code: SUBGRAPH_UNAVAILABLE, serviceName: this.serviceName },
      originalError: error,
    });
  }
}
