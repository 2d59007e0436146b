export * from './agent.ts';
export * from './objects.ts';
export * from './site.ts';
export * from './values.ts';
