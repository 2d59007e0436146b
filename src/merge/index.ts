export * from './locks.ts';
export * from './merge.ts';
