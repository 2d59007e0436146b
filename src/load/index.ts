export * from './load.ts';
export * from './site-fs.ts';
export * from './source-file.ts';
