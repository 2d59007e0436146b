export { type BinaryPaths, locateBinaries } from './binaries.ts';
export { BACKENDS_HELP, parseBackends } from './choice.ts';
export { REAL_DAEMONS } from './daemons.ts';
export { assignReal, type RealAssignment } from './plan.ts';
export { instanceDir, realKind, startRealInstance } from './start.ts';
export { REAL_PROTOCOLS, type RealInstance, type RealProtocol } from './types.ts';
