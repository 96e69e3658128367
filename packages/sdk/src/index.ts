export * from './agent-credentials.js';
export * from './client.js';
export * from './errors.js';
export type * from './types.js';
