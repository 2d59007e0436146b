export * from './codes.ts';
export * from './diagnostic.ts';
export * from './format.ts';
export * from './visible.ts';
