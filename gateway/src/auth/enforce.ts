import { createHash } from 'node:crypto';
import type { ApolloGateway, SupergraphSdlHook } from '@apollo/gateway';
import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';
import { print, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import type { Viewer } from '../../../lib/viewer';
import { authorizeOperation, nullDenied, unauthorizedError, type Authorization } from './authorize';
import { secureSupergraph, type Policy } from './policy';

/**
 * The supergraph as `@apollo/gateway` can load it, and the policy its
 * security directives declare, looked up by the SDL the gateway reports.
 */
export class PolicySource {
  private readonly policies = new Map<string, Policy>();

  /** The executable SDL of `supergraphSdl`, its policy remembered for `policyFor`. */
  secure(supergraphSdl: string): string {
    const { executable, policy } = secureSupergraph(supergraphSdl);
    this.policies.set(executable, policy);
    return executable;
  }

  /** Forgets the policies of every supergraph but the one the gateway now serves (others were replaced, or failed to load). */
  retain(executableSdl: string): void {
    for (const sdl of this.policies.keys()) if (sdl !== executableSdl) this.policies.delete(sdl);
  }

  policyFor(executableSdl: string): Policy {
    const policy = this.policies.get(executableSdl);
    if (!policy) throw new Error('the gateway loaded a supergraph whose policy was never read');
    return policy;
  }

  /** The supergraph option for `ApolloGateway`, every version passed through `secure`. */
  wrap(supergraph: string | SupergraphSdlHook): string | SupergraphSdlHook {
    if (typeof supergraph === 'string') return this.secure(supergraph);
    return async (options) => {
      const loaded = await supergraph({ ...options, update: (sdl) => options.update(this.secure(sdl)) });
      return { ...loaded, supergraphSdl: this.secure(loaded.supergraphSdl) };
    };
  }
}

type GatewayInterface = ApolloServerOptionsWithGateway<BaseContext>['gateway'];
type GatewayExecutor = NonNullable<Awaited<ReturnType<GatewayInterface['load']>>['executor']>;

/** What the enforcing executor needs of each request's context. */
export interface ViewerContext {
  readonly viewer: Viewer | undefined;
}

const CACHE_LIMIT = 2000;

const standings = new WeakMap<Viewer, string>();

/** The viewer's standing as far as a policy can tell: anonymous, or signed in with these scopes (viewers come from the token cache, so this is made once a token). */
const standingOf = (viewer: Viewer | undefined): string => {
  if (!viewer) return '-';
  let standing = standings.get(viewer);
  if (standing === undefined) standings.set(viewer, (standing = `+${[...viewer.scopes].sort().join(' ')}`));
  return standing;
};

/**
 * `@apollo/gateway` with the supergraph's `@authenticated` and
 * `@requiresScopes` enforced as Apollo Router enforces them: unauthorized
 * fields are taken out before planning (so no subgraph is asked for them),
 * answered with null and an UNAUTHORIZED_FIELD_OR_TYPE error at their path;
 * an operation with nothing authorized, or with anything unauthorized when
 * `rejectUnauthorized` is set, is refused whole.
 */
export const enforcingGateway = (gateway: ApolloGateway, policies: PolicySource, rejectUnauthorized: boolean): GatewayInterface => {
  let current: { schema: GraphQLSchema; sdl: string } | undefined;
  gateway.onSchemaLoadOrUpdate(({ apiSchema, coreSupergraphSdl }) => {
    current = { schema: apiSchema, sdl: coreSupergraphSdl };
    policies.retain(coreSupergraphSdl);
  });
  let decided: { policy: Policy; decisions: Map<string, Authorization & { queryHash: string }> } | undefined;

  const decide = (requestContext: Parameters<GatewayExecutor>[0], viewer: Viewer | undefined) => {
    const { schema, sdl } = current!;
    // Looked up per request: a new supergraph that changes only the policy leaves what @apollo/gateway loads unchanged, so it reports no update.
    const policy = policies.policyFor(sdl);
    if (decided?.policy !== policy) decided = { policy, decisions: new Map() };
    const { decisions } = decided;
    const key = `${standingOf(viewer)}\n${requestContext.request.operationName ?? ''}\n${requestContext.queryHash}`;
    let decision = decisions.get(key);
    if (!decision) {
      const authorization = authorizeOperation(schema, policy, requestContext.document, requestContext.request.operationName ?? undefined, viewer);
      const queryHash = authorization.denied.length ? createHash('sha256').update(print(authorization.document)).digest('hex') : requestContext.queryHash;
      decision = { ...authorization, queryHash };
      if (decisions.size >= CACHE_LIMIT) decisions.delete(decisions.keys().next().value!);
      decisions.set(key, decision);
    }
    return decision;
  };

  const wrapExecutor =
    (execute: GatewayExecutor): GatewayExecutor =>
    async (requestContext) => {
      const { viewer } = requestContext.context as unknown as ViewerContext;
      const decision = decide(requestContext, viewer);
      if (decision.denied.length === 0) return execute(requestContext);
      const errors = decision.denied.map(unauthorizedError);
      if (decision.nothingAuthorized || rejectUnauthorized) return { errors };
      // A new context object: Apollo's plugins keep seeing the operation the client sent.
      const result = await execute({ ...requestContext, document: decision.document, queryHash: decision.queryHash });
      const operation = (requestContext.operation as OperationDefinitionNode).operation;
      const data = result.data ? nullDenied(current!.schema, decision, operation, result.data) : result.data;
      return { ...result, data, errors: [...errors, ...(result.errors ?? [])] };
    };

  return {
    onSchemaLoadOrUpdate: (callback) => gateway.onSchemaLoadOrUpdate(callback),
    load: async (options) => {
      const { executor } = await gateway.load(options);
      return { executor: executor && wrapExecutor(executor) };
    },
    stop: () => gateway.stop(),
  };
};
