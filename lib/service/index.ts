export { listenService, type ListenOptions, type RunningService } from './listen';
export { createSubgraphServer, startSubgraph, type SubgraphDefinition, type SubgraphParts, type SubgraphServerOptions } from './subgraph';
export { REQUEST_ID_HEADER, SUBGRAPH_SECRET_HEADER, requestIdFrom, sameSecret, type RequestScope } from './request';
