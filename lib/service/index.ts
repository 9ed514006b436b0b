export { listenService, type ListenOptions, type RunningService } from './listen';
export { createSubgraphServer, startSubgraph, type SubgraphDefinition, type SubgraphParts, type SubgraphServerOptions } from './subgraph';
export { IDENTITY_HEADER, identitySigner } from './identity';
export { REQUEST_ID_HEADER, RequestRefused, SUBGRAPH_SECRET_HEADER, requestIdFrom, sameSecret, type RequestScope } from './request';
