export * from './config.ts';
export * from './paths.ts';
export * from './protocols.ts';
