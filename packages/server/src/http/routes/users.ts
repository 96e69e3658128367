import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';
import { id, pageQuery, reason, roles } from '../schemas.js';

const userParams = z.strictObject({ userId: id('usr') });
const displayName = z.string().trim().min(1).max(128);
const email = z.email().max(254);

export const userRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'POST',
    url: '/v1/users',
    operationId: 'createUser',
    summary: 'Create a local user, or pre-register a user of a trusted OIDC issuer (issuer + subject)',
    tag: 'users',
    auth: 'org',
    status: 201,
    body: z.strictObject({
      displayName,
      email: email.optional(),
      roles: z.array(roles.element).max(5).optional(),
      issuer: z.url().optional(),
      subject: z.string().min(1).max(255).optional(),
    }),
    handler: async ({ principal, body }) => engine.users.create(principal, body),
  }),
  route({
    method: 'GET',
    url: '/v1/users',
    operationId: 'listUsers',
    summary: 'List users',
    tag: 'users',
    auth: 'org',
    query: z.strictObject({
      ...pageQuery,
      status: z.enum(['active', 'offboarded']).optional(),
      kind: z.enum(['local', 'oidc']).optional(),
    }),
    handler: async ({ principal, query }) =>
      engine.users.list(
        principal,
        { status: query.status, kind: query.kind },
        { limit: query.limit, after: query.cursor },
      ),
  }),
  route({
    method: 'GET',
    url: '/v1/users/:userId',
    operationId: 'getUser',
    summary: 'Show a user',
    tag: 'users',
    auth: 'org',
    params: userParams,
    handler: async ({ principal, params }) => engine.users.get(principal, params.userId),
  }),
  route({
    method: 'PATCH',
    url: '/v1/users/:userId',
    operationId: 'updateUser',
    summary: "Change a user's name, email or roles",
    tag: 'users',
    auth: 'org',
    params: userParams,
    body: z.strictObject({
      displayName: displayName.optional(),
      email: email.optional(),
      roles: z.array(roles.element).max(5).optional(),
    }),
    handler: async ({ principal, params, body }) => engine.users.update(principal, params.userId, body),
  }),
  route({
    method: 'POST',
    url: '/v1/users/:userId/offboard',
    operationId: 'offboardUser',
    summary: 'The user leaves (refused while they own live agents: transfer them first)',
    tag: 'users',
    auth: 'org',
    params: userParams,
    body: z.strictObject({ reason }),
    handler: async ({ principal, params, body }) =>
      engine.users.offboard(principal, params.userId, body.reason),
  }),
];
