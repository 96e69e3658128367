import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';
import { isoDateTime, pageQuery } from '../schemas.js';

export const auditRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'GET',
    url: '/v1/audit/events',
    operationId: 'listAuditEvents',
    summary: "The org's audit events in sequence order, with filters",
    tag: 'audit',
    auth: 'org',
    query: z.strictObject({
      ...pageQuery,
      type: z.string().max(64).optional(),
      agent: z.string().max(64).optional(),
      user: z.string().max(64).optional(),
      delegation: z.string().max(64).optional(),
      decision: z.string().max(64).optional(),
      since: isoDateTime.optional(),
      until: isoDateTime.optional(),
      cursor: z
        .string()
        .regex(/^\d{1,15}$/, 'must be a sequence number')
        .optional(),
    }),
    handler: async ({ principal, query }) =>
      engine.auditReader.list(
        principal,
        {
          type: query.type,
          agentId: query.agent,
          userId: query.user,
          delegationId: query.delegation,
          decisionId: query.decision,
          since: query.since ? new Date(query.since).toISOString() : undefined,
          until: query.until ? new Date(query.until).toISOString() : undefined,
        },
        { limit: query.limit, after: query.cursor },
      ),
  }),
  route({
    method: 'GET',
    url: '/v1/audit/events/:seq',
    operationId: 'getAuditEvent',
    summary: 'One audit event by sequence number',
    tag: 'audit',
    auth: 'org',
    params: z.strictObject({
      seq: z
        .string()
        .regex(/^\d{1,15}$/, 'must be a sequence number')
        .transform(Number),
    }),
    handler: async ({ principal, params }) => engine.auditReader.get(principal, params.seq),
  }),
];
