import { MandateError } from '@mandate/engine';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';

export const healthRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'GET',
    url: '/healthz',
    operationId: 'health',
    summary: 'The process is up',
    tag: 'meta',
    auth: 'none',
    handler: async () => ({ status: 'ok' }),
  }),
  route({
    method: 'GET',
    url: '/readyz',
    operationId: 'ready',
    summary: 'The store answers; requests can be served',
    tag: 'meta',
    auth: 'none',
    handler: async () => {
      try {
        await engine.store.ping();
      } catch {
        throw new MandateError('unavailable', 'the store is not reachable');
      }
      return { status: 'ready' };
    },
  }),
];
