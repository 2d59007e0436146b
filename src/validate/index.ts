export * from './certs.ts';
export * from './site.ts';
