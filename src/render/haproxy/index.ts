export * from './instance.ts';
export * from './paths.ts';
