import type { AuthZenRequest, AuthZenSearchRequest, SearchKind } from '@mandate/engine';
import { MandateError } from '@mandate/engine';
import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';

const properties = z.record(z.string(), z.unknown());
/** `type` and `id` required; other members (earlier drafts put properties there) are kept. */
const entity = z.looseObject({
  type: z.string().min(1).max(256),
  id: z.string().max(1024),
  properties: properties.optional(),
});
const action = z.looseObject({ name: z.string().min(1).max(256), properties: properties.optional() });
// AuthZEN: receivers ignore members they do not know (the spec's JSON rules), hence loose objects.
const evaluation = z.looseObject({
  subject: entity,
  action,
  resource: entity,
  context: properties.optional(),
});
const partial = z.looseObject({
  subject: entity.optional(),
  action: action.optional(),
  resource: entity.optional(),
  context: properties.optional(),
});
const MAX_BATCH = 100;
const typeOnly = z.looseObject({ type: z.string().min(1).max(256), id: z.string().max(1024).optional() });

/** AuthZEN §8 search: the searched part needs only its type; the others are complete. */
const searchRoute = (engine: AppDeps['engine'], kind: SearchKind) =>
  route({
    method: 'POST',
    url: `/access/v1/search/${kind}`,
    operationId: `search${kind[0]?.toUpperCase()}${kind.slice(1)}`,
    summary:
      kind === 'action'
        ? 'AuthZEN Action Search: which actions (declared in the active schema) may this subject take on this resource'
        : `AuthZEN ${kind === 'subject' ? 'Subject' : 'Resource'} Search: which stored ${kind}s of a type are allowed`,
    tag: 'authzen',
    auth: 'org',
    body: z.looseObject({
      subject: kind === 'subject' ? typeOnly : entity,
      action: kind === 'action' ? action.optional() : action,
      resource: kind === 'resource' ? typeOnly : entity,
      context: properties.optional(),
      page: z.looseObject({}).optional(),
    }),
    handler: async ({ principal, body }) => {
      const { page: _page, ...request } = body;
      return engine.authzen.search(principal, kind, request as AuthZenSearchRequest);
    },
  });

/**
 * OpenID AuthZEN Authorization API 1.0 (role `pep`): one evaluation, several evaluations with
 * defaults and the three evaluation semantics, and the PDP metadata document.
 */
export const authzenRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'POST',
    url: '/access/v1/evaluation',
    operationId: 'accessEvaluation',
    summary: 'AuthZEN Access Evaluation: may this subject perform this action on this resource?',
    tag: 'authzen',
    auth: 'org',
    body: evaluation,
    handler: async ({ principal, body }) => engine.authzen.evaluate(principal, body as AuthZenRequest),
  }),
  route({
    method: 'POST',
    url: '/access/v1/evaluations',
    operationId: 'accessEvaluations',
    summary:
      'AuthZEN Access Evaluations: several evaluations; top-level subject/action/resource/context are defaults ' +
      'each evaluation overrides; options.evaluations_semantic: execute_all, deny_on_first_deny, permit_on_first_permit',
    tag: 'authzen',
    auth: 'org',
    body: partial.extend({
      evaluations: z.array(partial).max(MAX_BATCH).optional(),
      options: z
        .looseObject({
          evaluations_semantic: z
            .enum(['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'])
            .optional(),
          // Mandate: decide the agent items without using them (no limit consumed, no approval
          // filed); recorded as probes (an enforcement point filtering a listing).
          probe: z.boolean().optional(),
        })
        .optional(),
    }),
    handler: async ({ principal, body }) => {
      const { evaluations, options, ...defaults } = body;
      const merge = (item: z.infer<typeof partial>, i: number): AuthZenRequest => {
        const merged = {
          subject: item.subject ?? defaults.subject,
          action: item.action ?? defaults.action,
          resource: item.resource ?? defaults.resource,
          context: item.context ?? defaults.context,
        };
        for (const member of ['subject', 'action', 'resource'] as const) {
          if (!merged[member])
            throw new MandateError(
              'invalid_request',
              `evaluations.${i}.${member}: required (here or as a default)`,
            );
        }
        return merged as AuthZenRequest;
      };
      // No evaluations: the request is one evaluation, answered as one (AuthZEN §7.1).
      if (!evaluations || evaluations.length === 0) return engine.authzen.evaluate(principal, merge({}, 0));
      const decisions = await engine.authzen.evaluateMany(
        principal,
        evaluations.map(merge),
        options?.evaluations_semantic ?? 'execute_all',
        { probe: options?.probe === true },
      );
      return { evaluations: decisions };
    },
  }),
  searchRoute(engine, 'subject'),
  searchRoute(engine, 'resource'),
  searchRoute(engine, 'action'),
  route({
    method: 'GET',
    url: '/.well-known/authzen-configuration',
    operationId: 'getAuthzenConfiguration',
    summary: 'AuthZEN PDP metadata',
    tag: 'authzen',
    auth: 'none',
    handler: async () => ({
      policy_decision_point: engine.oauth.url(''),
      access_evaluation_endpoint: engine.oauth.url('/access/v1/evaluation'),
      access_evaluations_endpoint: engine.oauth.url('/access/v1/evaluations'),
      search_subject_endpoint: engine.oauth.url('/access/v1/search/subject'),
      search_resource_endpoint: engine.oauth.url('/access/v1/search/resource'),
      search_action_endpoint: engine.oauth.url('/access/v1/search/action'),
      access_request_endpoint: engine.oauth.url('/access/v1/requests'),
      capabilities: ['urn:openid:authzen:capability:access-request'],
    }),
  }),
  route({
    method: 'POST',
    url: '/access/v1/requests',
    operationId: 'submitAccessRequest',
    summary:
      'AuthZEN access-request profile: submit the requestable denial (denial.evaluation_id); Mandate filed the ' +
      'approval request when it denied, and answers its task handle',
    tag: 'authzen',
    auth: 'org',
    status: 202,
    body: z.looseObject({
      denial: z.looseObject({ evaluation_id: z.string().min(1).max(32) }),
    }),
    handler: async ({ principal, body, reply }) => {
      const task = taskOf(
        await engine.approvals.taskForDenial(principal, body.denial.evaluation_id),
        (path) => engine.oauth.url(path),
      );
      reply.header('location', task.task.status_endpoint);
      return task;
    },
  }),
  route({
    method: 'GET',
    url: '/access/v1/requests/:taskId',
    operationId: 'getAccessRequest',
    summary: 'AuthZEN access-request profile: the task status (pending, approved, denied, expired, used)',
    tag: 'authzen',
    auth: 'org',
    params: z.strictObject({ taskId: z.string().regex(/^apr_[0-9A-Z]{26}$/, 'a task id (apr_…)') }),
    handler: async ({ principal, params }) =>
      taskOf(await engine.approvals.task(principal, params.taskId), (path) => engine.oauth.url(path)),
  }),
];

/** The profile's task handle for a Mandate approval: after `approved`, the PEP evaluates again. */
function taskOf(approval: { id: string; status: string; expiresAt: string }, url: (path: string) => string) {
  return {
    task: {
      id: approval.id,
      status: approval.status,
      status_endpoint: url(`/access/v1/requests/${approval.id}`),
      expires_at: approval.expiresAt,
    },
    ...(approval.status === 'approved'
      ? { result: { mode: 'reevaluate', approval: { id: approval.id } } }
      : {}),
  };
}
