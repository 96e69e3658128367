import { DATA_CLASSES } from '@mandate/core';
import { ENFORCEMENT_EVENT_TYPES, MandateError, UnauthenticatedDecision } from '@mandate/engine';
import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';
import { environment } from '../schemas.js';

const properties = z.record(z.string(), z.unknown());
const decisionIdParams = z.strictObject({
  decisionId: z.string().regex(/^\d{1,15}$/, 'a decision id (a number)'),
});
const outcomeBody = z.strictObject({
  status: z.enum(['success', 'error']),
  resultDigest: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'a SHA-256, hex')
    .optional(),
  durationMs: z.number().int().min(0).max(86_400_000).optional(),
  error: z.string().max(1000).optional(),
});

/**
 * The native check before an action (`POST /v1/decisions`, with the agent's access token) and
 * what happened after it (`POST /v1/decisions/{id}/outcome`, by the agent).
 */
export const decisionRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'POST',
    url: '/v1/decisions',
    operationId: 'decide',
    summary:
      "Decide an agent's action before it runs: the agent's token (Authorization: DPoP with a DPoP proof of this " +
      'call, or Bearer for an unbound token) and the action request; the answer is allow or deny with reasons, ' +
      'recorded durably first',
    tag: 'decisions',
    auth: 'token',
    body: z.strictObject({
      action: z.string().min(1).max(256),
      // Scope patterns see `type:id`: the type is one plain name, and the id has no `..` segment,
      // so `doc::Admin` or `alice/../bob` cannot pass for what a pattern names.
      resource: z.strictObject({
        type: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'a plain type name (letters, digits, _)'),
        id: z
          .string()
          .min(1)
          .max(1024)
          .refine((id) => !id.split('/').includes('..'), 'no .. path segment'),
        properties: properties.optional(),
      }),
      dataClass: z.enum(DATA_CLASSES).optional(),
      environment: environment.optional(),
      arguments: properties.optional(),
      context: properties.optional(),
      // What the enforcement point observed (a risk factor: untrusted content before an external action).
      signals: z.strictObject({ untrustedInput: z.boolean().optional() }).optional(),
    }),
    handler: async ({ body, request, reply }) => {
      const match = /^(DPoP|Bearer) ([^\s]+)$/i.exec(request.headers.authorization ?? '');
      if (!match) {
        reply.header('www-authenticate', 'DPoP');
        throw new MandateError(
          'unauthorized',
          'token_invalid: send the agent token as Authorization: DPoP (or Bearer)',
        );
      }
      const dpop = request.headers.dpop;
      try {
        return await engine.decisions.decide({
          token: match[2] as string,
          scheme: (match[1] as string).toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer',
          dpop: typeof dpop === 'string' ? dpop : undefined,
          proofMethod: request.method,
          proofUrl: engine.oauth.url(request.url.split('?')[0] as string),
          ...body,
        });
      } catch (error) {
        if (!(error instanceof UnauthenticatedDecision)) throw error;
        reply.header('www-authenticate', `${match[1]} error="invalid_token"`);
        throw new MandateError('unauthorized', error.message);
      }
    },
  }),
  route({
    method: 'POST',
    url: '/v1/decisions/:decisionId/outcome',
    operationId: 'recordOutcome',
    summary: 'Record what happened after an allowed decision (once, by the agent it was about)',
    tag: 'decisions',
    auth: 'agent',
    status: 201,
    params: decisionIdParams,
    body: outcomeBody,
    handler: async ({ principal, params, body }) =>
      engine.decisions.recordOutcome(principal, params.decisionId, body),
  }),
  route({
    method: 'POST',
    url: '/v1/enforcement/decisions/:decisionId/outcome',
    operationId: 'recordEnforcementOutcome',
    summary:
      'Record what happened after an allowed agent decision, by the enforcement point that asked for it ' +
      '(AuthZEN with context.agent_credential; its own API key, role pep), once',
    tag: 'decisions',
    auth: 'org',
    status: 201,
    params: decisionIdParams,
    body: outcomeBody,
    handler: async ({ principal, params, body }) =>
      engine.decisions.recordOutcomeForEnforcementPoint(principal, params.decisionId, body),
  }),
  route({
    method: 'POST',
    url: '/v1/enforcement/events',
    operationId: 'recordEnforcementEvent',
    summary:
      'Append an event an enforcement point observed to the audit log (the MCP gateway: a tool pinned, ' +
      'changed and blocked, accepted); role pep',
    tag: 'decisions',
    auth: 'org',
    status: 201,
    body: z.strictObject({
      type: z.enum(ENFORCEMENT_EVENT_TYPES),
      // The events are about MCP tools only: an enforcement point cannot write about an agent or a user.
      target: z.strictObject({
        type: z.literal('mcp_tool'),
        id: z.string().regex(/^[^\s/]{1,128}\/\S{1,256}$/, '<upstream>/<tool>'),
      }),
      detail: z.record(z.string(), z.unknown()).default({}),
    }),
    handler: async ({ principal, body }) => engine.decisions.recordEnforcementEvent(principal, body),
  }),
];
