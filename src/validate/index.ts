export * from './certs.ts';
export * from './site.ts';
export * from './validate-file.ts';
