export * from './objects.ts';
export * from './values.ts';
