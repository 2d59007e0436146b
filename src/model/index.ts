export * from './instances.ts';
export type * from './types.ts';
