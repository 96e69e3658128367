import { MandateError } from '@mandate/engine';
import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';
import { id, narrowedScope, pageQuery, reason, scope } from '../schemas.js';

const delegationParams = z.strictObject({ delegationId: id('dlg') });

/**
 * Delegations granted by users (in person, or recorded by an admin for a named user).
 */
export const delegationRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'POST',
    url: '/v1/delegations',
    operationId: 'grantDelegation',
    summary: 'Grant an agent scoped authority for a purpose, until an expiry',
    tag: 'delegations',
    auth: 'org',
    status: 201,
    body: z.strictObject({
      delegateAgentId: id('agt'),
      purpose: z.string().trim().min(1).max(1000),
      scope,
      onBehalfOf: id('usr').optional(),
      standing: z.boolean().optional(),
      // Who besides the root user may approve this chain's actions that need a human.
      approvers: z
        .array(
          z
            .string()
            .regex(
              /^(usr_[0-9A-Z]{26}|role:(admin|operator|approver|auditor))$/,
              'a user id (usr_…) or role:<admin|operator|approver|auditor>',
            ),
        )
        .max(20)
        .optional(),
    }),
    handler: async ({ principal, body }) => engine.delegations.grant(principal, body),
  }),
  route({
    method: 'GET',
    url: '/v1/delegations',
    operationId: 'listDelegations',
    summary: 'List delegations, with filters',
    tag: 'delegations',
    auth: 'org',
    query: z.strictObject({
      ...pageQuery,
      agent: id('agt').optional(),
      user: id('usr').optional(),
      status: z.enum(['active', 'revoked']).optional(),
      parent: id('dlg').optional(),
    }),
    handler: async ({ principal, query }) =>
      engine.delegations.list(
        principal,
        {
          delegateAgentId: query.agent,
          rootUserId: query.user,
          status: query.status,
          parentId: query.parent,
        },
        { limit: query.limit, after: query.cursor },
      ),
  }),
  route({
    method: 'GET',
    url: '/v1/delegations/:delegationId',
    operationId: 'getDelegation',
    summary: 'Show a delegation, with whether its whole chain is usable now',
    tag: 'delegations',
    auth: 'org',
    params: delegationParams,
    handler: async ({ principal, params }) => engine.delegations.get(principal, params.delegationId),
  }),
  route({
    method: 'GET',
    url: '/v1/delegations/:delegationId/tree',
    operationId: 'getDelegationTree',
    summary: 'The delegation and every re-delegation below it',
    tag: 'delegations',
    auth: 'org',
    params: delegationParams,
    handler: async ({ principal, params }) => ({
      items: await engine.delegations.tree(principal, params.delegationId),
    }),
  }),
  route({
    method: 'POST',
    url: '/v1/delegations/:delegationId/revoke',
    operationId: 'revokeDelegation',
    summary: 'Revoke a delegation and its whole subtree (an admin, or the root user)',
    tag: 'delegations',
    auth: 'org',
    params: delegationParams,
    body: z.strictObject({ reason }),
    handler: async ({ principal, params, body }) => ({
      revoked: await engine.delegations.revoke(principal, params.delegationId, body.reason),
    }),
  }),
];

/** Re-delegation: an agent passes part of its own delegation on, authenticated by its token. */
export const agentDelegationRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'POST',
    url: '/v1/delegations/:delegationId/redelegate',
    operationId: 'redelegate',
    summary:
      "An agent passes a narrower part of its delegation to another agent (the agent's own access token " +
      'for this delegation, with DPoP when key-bound)',
    tag: 'delegations',
    auth: 'agent',
    status: 201,
    params: delegationParams,
    body: z.strictObject({
      delegateAgentId: id('agt'),
      purpose: z.string().trim().min(1).max(1000),
      scope: narrowedScope.default({}),
    }),
    handler: async ({ principal, params, body }) => {
      if (principal.token.claims.dlg !== params.delegationId) {
        throw new MandateError('forbidden', 'the access token is not for this delegation');
      }
      const detail = principal.token.claims.authorization_details?.[0];
      // Every token Mandate issues carries its scope; one that does not is not trusted to re-delegate.
      if (detail?.type !== 'mandate_scope' || typeof detail.scope !== 'object' || detail.scope === null)
        throw new MandateError('forbidden', 'the access token carries no scope');
      const credentialScope = detail.scope;
      return engine.delegations.redelegate(principal.orgId, principal.agentId, params.delegationId, body, {
        credentialScope,
      });
    },
  }),
];
