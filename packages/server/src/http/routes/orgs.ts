import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';
import { id, pageQuery } from '../schemas.js';

const orgParams = z.strictObject({ orgId: id('org') });
const orgName = z.string().trim().min(1).max(128);

/** The platform API: orgs are created and seen only with a platform key. */
export const orgRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'POST',
    url: '/v1/orgs',
    operationId: 'createOrg',
    summary: 'Create an org; the answer holds its first admin API key, shown once',
    tag: 'orgs',
    auth: 'platform',
    status: 201,
    body: z.strictObject({ name: orgName }),
    handler: async ({ principal, body }) => engine.orgs.create(principal, body.name),
  }),
  route({
    method: 'GET',
    url: '/v1/orgs',
    operationId: 'listOrgs',
    summary: 'List orgs',
    tag: 'orgs',
    auth: 'platform',
    query: z.strictObject(pageQuery),
    handler: async ({ query }) => engine.orgs.list({ limit: query.limit, after: query.cursor }),
  }),
  route({
    method: 'GET',
    url: '/v1/orgs/:orgId',
    operationId: 'getOrg',
    summary: 'Show an org',
    tag: 'orgs',
    auth: 'platform',
    params: orgParams,
    handler: async ({ params }) => engine.orgs.get(params.orgId),
  }),
  route({
    method: 'PATCH',
    url: '/v1/orgs/:orgId',
    operationId: 'updateOrg',
    summary: 'Rename an org',
    tag: 'orgs',
    auth: 'platform',
    params: orgParams,
    body: z.strictObject({ name: orgName }),
    handler: async ({ principal, params, body }) => engine.orgs.rename(principal, params.orgId, body.name),
  }),
];
