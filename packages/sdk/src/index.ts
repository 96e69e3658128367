export * from './agent/agent-client.js';
export { loadPrivateKey, type PrivateKeyInput } from './agent/private-key.js';
export * from './agent-credentials.js';
export * from './client.js';
export * from './errors.js';
export type * from './types.js';
