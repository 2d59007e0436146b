export * from './checks.ts';
export * from './core.ts';
export * from './hold-down.ts';
export * from './scheduler.ts';
export * from './types.ts';
