export * from './config/load.js';
export * from './config/schema.js';
export * from './http/app.js';
export * from './http/route.js';
export * from './runtime/open-engine.js';
export * from './runtime/start-server.js';
export { VERSION } from './version.js';
