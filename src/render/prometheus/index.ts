export * from './config.ts';
export * from './rules.ts';
export * from './targets.ts';
