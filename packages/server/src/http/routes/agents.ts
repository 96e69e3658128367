import { LIFECYCLE_COMMANDS, type LifecycleCommand } from '@mandate/core';
import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { type RouteSpec, route } from '../route.js';
import {
  agentStatus,
  boundaries,
  boundariesReplacement,
  description,
  environment,
  id,
  isoDateTime,
  label,
  metadata,
  pageQuery,
  reason,
} from '../schemas.js';

const agentParams = z.strictObject({ agentId: id('agt') });
const name = z.string().trim().min(1).max(128);
const jwk = z.record(z.string(), z.unknown());

const SUMMARIES: Record<LifecycleCommand, string> = {
  activate: 'Activate a pending agent (its owner or an admin)',
  suspend: 'Suspend an active agent',
  resume: 'Resume a suspended agent',
  revoke: 'Revoke an agent for good (its owner or an admin)',
  renew: 'Extend the expiry (default 90 days from now); an expired agent returns to its previous status',
};

export const agentRoutes = ({ engine }: AppDeps): RouteSpec[] => [
  route({
    method: 'POST',
    url: '/v1/agents',
    operationId: 'registerAgent',
    summary: 'Register an agent (active if its owner registers it, otherwise pending)',
    tag: 'agents',
    auth: 'org',
    status: 201,
    body: z.strictObject({
      name,
      ownerId: id('usr'),
      description: description.optional(),
      labels: z.array(label).max(32).optional(),
      metadata: metadata.optional(),
      environments: z.array(environment).max(16).optional(),
      boundaries,
      expiresAt: isoDateTime.optional(),
      keys: z.array(jwk).min(1).max(10),
    }),
    handler: async ({ principal, body }) => engine.agents.register(principal, body),
  }),
  route({
    method: 'GET',
    url: '/v1/agents',
    operationId: 'listAgents',
    summary: 'List agents, with filters',
    tag: 'agents',
    auth: 'org',
    query: z.strictObject({
      ...pageQuery,
      status: agentStatus.optional(),
      owner: id('usr').optional(),
      label: label.optional(),
      environment: environment.optional(),
      name: z.string().min(1).max(128).optional(),
    }),
    handler: async ({ principal, query }) =>
      engine.agents.list(
        principal,
        {
          status: query.status,
          ownerId: query.owner,
          label: query.label,
          environment: query.environment,
          namePrefix: query.name,
        },
        { limit: query.limit, after: query.cursor },
      ),
  }),
  route({
    method: 'GET',
    url: '/v1/agents/:agentId',
    operationId: 'getAgent',
    summary: 'Show an agent',
    tag: 'agents',
    auth: 'org',
    params: agentParams,
    handler: async ({ principal, params }) => engine.agents.get(principal, params.agentId),
  }),
  route({
    method: 'PATCH',
    url: '/v1/agents/:agentId',
    operationId: 'updateAgent',
    summary: 'Change name, description, labels, metadata, environments, or (admin) boundaries',
    tag: 'agents',
    auth: 'org',
    params: agentParams,
    body: z.strictObject({
      name: name.optional(),
      description: description.optional(),
      labels: z.array(label).max(32).optional(),
      metadata: metadata.optional(),
      environments: z.array(environment).max(16).optional(),
      boundaries: boundariesReplacement.optional(),
    }),
    handler: async ({ principal, params, body }) => engine.agents.update(principal, params.agentId, body),
  }),
  ...LIFECYCLE_COMMANDS.map((command) =>
    route({
      method: 'POST',
      url: `/v1/agents/:agentId/${command}`,
      operationId: `${command}Agent`,
      summary: SUMMARIES[command],
      tag: 'agents',
      auth: 'org',
      params: agentParams,
      body:
        command === 'renew'
          ? z.strictObject({ reason: reason.optional(), expiresAt: isoDateTime.optional() })
          : command === 'revoke' || command === 'suspend'
            ? z.strictObject({ reason })
            : z.strictObject({ reason: reason.optional() }),
      handler: async ({ principal, params, body }) =>
        engine.agents.transition(
          principal,
          params.agentId,
          command,
          body as { reason?: string; expiresAt?: string },
        ),
    }),
  ),
  route({
    method: 'GET',
    url: '/v1/agents/:agentId/keys',
    operationId: 'listAgentKeys',
    summary: "The agent's public keys, active and retired",
    tag: 'agents',
    auth: 'org',
    params: agentParams,
    handler: async ({ principal, params }) => ({
      items: (await engine.agents.get(principal, params.agentId)).keys,
    }),
  }),
  route({
    method: 'POST',
    url: '/v1/agents/:agentId/keys',
    operationId: 'addAgentKey',
    summary: 'Add a public key (rotation step 1)',
    tag: 'agents',
    auth: 'org',
    status: 201,
    params: agentParams,
    body: z.strictObject({ jwk }),
    handler: async ({ principal, params, body }) => engine.agents.addKey(principal, params.agentId, body.jwk),
  }),
  route({
    method: 'POST',
    url: '/v1/agents/:agentId/keys/:kid/retire',
    operationId: 'retireAgentKey',
    summary: 'Retire a key (rotation step 2); the last active key cannot be retired',
    tag: 'agents',
    auth: 'org',
    params: z.strictObject({
      agentId: id('agt'),
      kid: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a JWK thumbprint'),
    }),
    body: z.strictObject({ reason: reason.optional() }),
    handler: async ({ principal, params, body }) =>
      engine.agents.retireKey(principal, params.agentId, params.kid, body.reason),
  }),
  route({
    method: 'POST',
    url: '/v1/agents/:agentId/transfer',
    operationId: 'transferAgent',
    summary: 'Give the agent a new accountable owner (admin)',
    tag: 'agents',
    auth: 'org',
    params: agentParams,
    body: z.strictObject({ ownerId: id('usr'), reason }),
    handler: async ({ principal, params, body }) =>
      engine.agents.transfer(principal, params.agentId, body.ownerId, body.reason),
  }),
];
