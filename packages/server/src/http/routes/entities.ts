import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';
import { pageQuery } from '../schemas.js';

const entityType = z
  .string()
  .min(1)
  .max(256)
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$/,
    'a Cedar entity type (Name or Namespace::Name)',
  );
const uid = z.strictObject({ type: entityType, id: z.string().max(1024) });
const entityParams = z.strictObject({ type: entityType, id: z.string().max(1024) });

/** The entities an org keeps for its policies, in Cedar's JSON entity format. */
export const entityRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'PUT',
    url: '/v1/entities',
    operationId: 'putEntities',
    summary:
      'Store entities (Cedar JSON entity format: uid, attrs, parents); each replaces the one with its uid',
    tag: 'entities',
    auth: 'org',
    body: z.strictObject({
      entities: z
        .array(
          z.strictObject({
            uid,
            attrs: z.record(z.string(), z.unknown()).optional(),
            parents: z.array(uid).max(100).optional(),
          }),
        )
        .min(1)
        .max(1000),
    }),
    handler: async ({ principal, body }) => engine.entities.put(principal, body.entities),
  }),
  route({
    method: 'GET',
    url: '/v1/entities',
    operationId: 'listEntities',
    summary: 'List stored entities, optionally of one type',
    tag: 'entities',
    auth: 'org',
    query: z.strictObject({ ...pageQuery, type: entityType.optional() }),
    handler: async ({ principal, query }) =>
      engine.entities.list(principal, query.type, { limit: query.limit, after: query.cursor }),
  }),
  route({
    method: 'GET',
    url: '/v1/entities/:type/:id',
    operationId: 'getEntity',
    summary: 'Show one stored entity (type and id URL-encoded)',
    tag: 'entities',
    auth: 'org',
    params: entityParams,
    handler: async ({ principal, params }) => engine.entities.get(principal, params.type, params.id),
  }),
  route({
    method: 'DELETE',
    url: '/v1/entities/:type/:id',
    operationId: 'deleteEntity',
    summary: 'Delete one stored entity',
    tag: 'entities',
    auth: 'org',
    params: entityParams,
    handler: async ({ principal, params }) => {
      await engine.entities.delete(principal, params.type, params.id);
      return { deleted: true };
    },
  }),
];
