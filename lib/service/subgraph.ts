import type { ApolloServerOptions, ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';

export interface SubgraphServerOptions<C extends BaseContext> {
  /** No introspection, no stack traces in answers. */
  readonly production?: boolean;
  readonly plugins?: readonly ApolloServerPlugin<C>[];
}

/** What every subgraph's Apollo server shares: only the gateway calls it, so no landing page and no CORS. */
export const subgraphServerOptions = <C extends BaseContext>({ production = false, plugins = [] }: SubgraphServerOptions<C>) =>
  ({
    introspection: !production,
    includeStacktraceInErrorResponses: !production,
    nodeEnv: production ? 'production' : 'development',
    allowBatchedHttpRequests: false,
    // Inline traces are for Apollo's hosted reporting, which this system does not use.
    plugins: [ApolloServerPluginInlineTraceDisabled(), ApolloServerPluginLandingPageDisabled(), ...plugins],
    // The process owner (lib/main.ts) stops services in order on SIGINT/SIGTERM.
    stopOnTerminationSignals: false,
  }) satisfies Partial<ApolloServerOptions<C>>;
