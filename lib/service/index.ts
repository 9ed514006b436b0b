export { listenService, type ListenOptions, type RunningService } from './listen';
export { startSubgraph, type SubgraphDefinition, type SubgraphParts } from './subgraph';
export { defineSubgraphService, type SubgraphKeys, type SubgraphService, type SubgraphStartOptions } from './subgraph-service';
export { createSubgraphServer, type SubgraphServerOptions } from './subgraph-server';
export { IDENTITY_HEADER, identitySigner } from './identity';
export { RequestRefused } from './answers';
export { REQUEST_ID_HEADER, requestIdFrom, type RequestScope } from './request-scope';
export { SUBGRAPH_SECRET_HEADER, sameSecret } from './secret';
export type { StaticFiles } from './static-files';
