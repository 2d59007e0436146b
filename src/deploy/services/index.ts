export { BIRD_NICE, birdSocket } from './bird.ts';
export { HEALTHD_ENV, HEALTHD_NODE_OPTIONS, healthdSocket, runsHealthd } from './healthd.ts';
export { nodeService, nodeServices, registerNodeService, unitServiceNames, unknownUnit } from './registry.ts';
export type { NodeFlags, NodeService, ServiceContext, ServicePhase, ServiceUnit } from './types.ts';
