import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';
import { id, pageQuery, reason } from '../schemas.js';

/** The emergency stop: lock the org, one owner's agents, or one agent; release by lock id. */
export const killSwitchRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'POST',
    url: '/v1/killswitch',
    operationId: 'lock',
    summary:
      'Lock the org, every agent of one owner, or one agent: from when this returns, every decision under the lock is denied and every credential under it fails introspection (201 when created, 200 with the lock in force when already locked)',
    tag: 'killswitch',
    auth: 'org',
    body: z.strictObject({
      scope: z.enum(['org', 'owner', 'agent']),
      targetId: z.string().max(64).optional(),
      reason,
    }),
    handler: async ({ principal, body, reply }) => {
      const { lock, created } = await engine.killSwitch.lock(principal, body);
      reply.status(created ? 201 : 200);
      return lock;
    },
  }),
  route({
    method: 'GET',
    url: '/v1/killswitch',
    operationId: 'listLocks',
    summary: 'The locks in force (all locks, released too, with all=true)',
    tag: 'killswitch',
    auth: 'org',
    query: z.strictObject({ ...pageQuery, all: z.enum(['true', 'false']).optional() }),
    handler: async ({ principal, query }) =>
      engine.killSwitch.list(
        principal,
        { all: query.all === 'true' },
        { limit: query.limit, after: query.cursor },
      ),
  }),
  route({
    method: 'GET',
    url: '/v1/killswitch/:lockId',
    operationId: 'getLock',
    summary: 'Show one lock',
    tag: 'killswitch',
    auth: 'org',
    params: z.strictObject({ lockId: id('lck') }),
    handler: async ({ principal, params }) => engine.killSwitch.get(principal, params.lockId),
  }),
  route({
    method: 'POST',
    url: '/v1/killswitch/:lockId/release',
    operationId: 'releaseLock',
    summary: 'Release a lock (explicitly, with a reason); what it stopped is usable again',
    tag: 'killswitch',
    auth: 'org',
    params: z.strictObject({ lockId: id('lck') }),
    body: z.strictObject({ reason }),
    handler: async ({ principal, params, body }) => engine.killSwitch.release(principal, params.lockId, body),
  }),
];
