import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';
import { id, isoDateTime, pageQuery, reason, roles } from '../schemas.js';

const keyParams = z.strictObject({ keyId: id('key') });

export const apiKeyRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'POST',
    url: '/v1/api-keys',
    operationId: 'createApiKey',
    summary: 'Create an API key; the secret is in this answer only',
    tag: 'api-keys',
    auth: 'org',
    status: 201,
    body: z.strictObject({
      name: z.string().trim().min(1).max(128),
      roles,
      userId: id('usr').optional(),
      expiresAt: isoDateTime.optional(),
    }),
    handler: async ({ principal, body }) => engine.apiKeys.create(principal, body),
  }),
  route({
    method: 'GET',
    url: '/v1/api-keys',
    operationId: 'listApiKeys',
    summary: 'List API keys (never their secrets)',
    tag: 'api-keys',
    auth: 'org',
    query: z.strictObject(pageQuery),
    handler: async ({ principal, query }) =>
      engine.apiKeys.list(principal, { limit: query.limit, after: query.cursor }),
  }),
  route({
    method: 'GET',
    url: '/v1/api-keys/:keyId',
    operationId: 'getApiKey',
    summary: 'Show an API key',
    tag: 'api-keys',
    auth: 'org',
    params: keyParams,
    handler: async ({ principal, params }) => engine.apiKeys.get(principal, params.keyId),
  }),
  route({
    method: 'POST',
    url: '/v1/api-keys/:keyId/revoke',
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key (it stops working at once)',
    tag: 'api-keys',
    auth: 'org',
    params: keyParams,
    body: z.strictObject({ reason: reason.optional() }),
    handler: async ({ principal, params, body }) =>
      engine.apiKeys.revoke(principal, params.keyId, body.reason),
  }),
];
