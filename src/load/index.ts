export * from './limits.ts';
export * from './load.ts';
export * from './site-fs.ts';
export * from './source-file.ts';
