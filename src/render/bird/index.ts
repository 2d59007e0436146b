export * from './config.ts';
export * from './protocols.ts';
