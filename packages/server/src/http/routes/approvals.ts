import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';
import { id, pageQuery } from '../schemas.js';

const STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled', 'used'] as const;
const decideBody = z.strictObject({ comment: z.string().trim().min(1).max(1000).optional() });
const params = z.strictObject({ approvalId: id('apr') });

/** Human approval of one exact action (docs/approvals.md). */
export const approvalRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'GET',
    url: '/v1/approvals',
    operationId: 'listApprovals',
    summary: 'Approval requests, optionally by status (pending, approved, denied, expired, cancelled, used)',
    tag: 'approvals',
    auth: 'org',
    query: z.strictObject({ ...pageQuery, status: z.enum(STATUSES).optional() }),
    handler: async ({ principal, query }) =>
      engine.approvals.list(principal, { status: query.status }, { limit: query.limit, after: query.cursor }),
  }),
  route({
    method: 'GET',
    url: '/v1/approvals/webhook',
    operationId: 'getApprovalWebhook',
    summary: 'The URL approval events are sent to (never the secret)',
    tag: 'approvals',
    auth: 'org',
    handler: async ({ principal }) => engine.approvals.getWebhook(principal),
  }),
  route({
    method: 'PUT',
    url: '/v1/approvals/webhook',
    operationId: 'setApprovalWebhook',
    summary:
      'Send approval events to this URL, signed (Mandate-Signature: t=…,v1=HMAC-SHA256(secret, t.body)); ' +
      'answers the new signing secret once',
    tag: 'approvals',
    auth: 'org',
    body: z.strictObject({ url: z.string().max(2048) }),
    handler: async ({ principal, body }) => engine.approvals.setWebhook(principal, body.url),
  }),
  route({
    method: 'GET',
    url: '/v1/approvals/:approvalId',
    operationId: 'getApproval',
    summary: 'One approval request; with ?wait=N (at most 60), waits while it is pending (long-poll)',
    tag: 'approvals',
    auth: 'org',
    params,
    query: z.strictObject({ wait: z.coerce.number().int().min(0).max(60).optional() }),
    handler: async ({ principal, params, query }) =>
      engine.approvals.get(principal, params.approvalId, query.wait ?? 0),
  }),
  route({
    method: 'GET',
    url: '/v1/approvals/:approvalId/status',
    operationId: 'getApprovalStatusForAgent',
    summary:
      "The status of an approval request, for the agent whose action it is (the agent's token, with DPoP); " +
      'with ?wait=N (at most 60), waits while it is pending (long-poll). Used by the SDK guard.',
    tag: 'approvals',
    auth: 'agent',
    params,
    query: z.strictObject({ wait: z.coerce.number().int().min(0).max(60).optional() }),
    handler: async ({ principal, params, query }) =>
      engine.approvals.statusForAgent(principal, params.approvalId, query.wait ?? 0),
  }),
  route({
    method: 'POST',
    url: '/v1/approvals/:approvalId/approve',
    operationId: 'approve',
    summary:
      "Approve: the agent's next call of exactly this action is allowed once (the chain's root user, or an approver the request names)",
    tag: 'approvals',
    auth: 'org',
    params,
    body: decideBody,
    handler: async ({ principal, params, body }) =>
      engine.approvals.approve(principal, params.approvalId, body.comment),
  }),
  route({
    method: 'POST',
    url: '/v1/approvals/:approvalId/cancel',
    operationId: 'cancelApproval',
    summary:
      'Withdraw a pending request (whoever may decide it, or an admin or operator); the next call files a fresh one',
    tag: 'approvals',
    auth: 'org',
    params,
    body: decideBody,
    handler: async ({ principal, params, body }) =>
      engine.approvals.cancel(principal, params.approvalId, body.comment),
  }),
  route({
    method: 'POST',
    url: '/v1/approvals/:approvalId/deny',
    operationId: 'denyApproval',
    summary:
      'Deny, with a comment: the action stays refused (approval_denied) until the request would have expired',
    tag: 'approvals',
    auth: 'org',
    params,
    body: decideBody,
    handler: async ({ principal, params, body }) =>
      engine.approvals.deny(principal, params.approvalId, body.comment),
  }),
];
