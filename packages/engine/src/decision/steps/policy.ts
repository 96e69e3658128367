import { ROLES } from '@mandate/core';
import { parseApprovers } from '../../approvals/approval.js';
import type { CedarValue } from '../../policy/cedar.js';
import type { EvaluationRequest, PolicyEvaluator } from '../../policy/evaluator.js';
import { agentEvaluationInput } from '../agent-evaluation.js';
import type { StepDeps } from '../deps.js';
import type { DecisionState, DecisionStep, StepResult } from '../types.js';

/**
 * The org's Cedar policies. Principal: `Agent::"agt_…"` (parents: its owner's User, its org,
 * one Group per label); resource from the request with its stored ancestors; context: what the
 * caller sent plus `mandate`, which only Mandate sets (the verified chain, the delegation, the
 * data class, time). At least one permit and no forbid, or the request is denied.
 */
export const policy = (deps: StepDeps): DecisionStep => ({
  name: 'policy',
  async run(request, state, now) {
    const { agent, orgId, delegations } = state;
    if (!agent || !orgId || !delegations)
      return { ok: false, reason: { code: 'internal_error', detail: 'no chain' } };
    const org = deps.ctx.store.org(orgId);
    const active = await deps.policies.active(orgId);
    const resource = { type: request.resource.type, id: request.resource.id };
    const context = { ...(request.context ?? {}), mandate: mandateContext(request, state, now) } as Record<
      string,
      CedarValue
    >;
    state.context = context;
    const input = await agentEvaluationInput(org, {
      agent,
      rootUser: state.rootUser,
      action: request.action,
      resource,
      properties: request.resource.properties,
      context,
    });
    state.policyInput = { input, evaluator: active.evaluator };
    return judgePolicy(active.evaluator, input, state, active);
  },
});

/**
 * Cedar's answer as a step result: at least one permit and no forbid (a forbid that errored
 * counts as one); a determining permit annotated `@mandate_approval` asks a human. Run by the
 * policy step, and again at commit when the risk Cedar saw has changed.
 */
export function judgePolicy(
  evaluator: PolicyEvaluator,
  input: EvaluationRequest,
  state: DecisionState,
  version: { version: number; hash: string },
): StepResult {
  const evaluation = evaluator.evaluate(input);
  state.policy = {
    version: version.version,
    hash: version.hash,
    determining: evaluation.ok ? evaluation.determining : [],
    erroring: evaluation.ok ? evaluation.erroring.map((e) => e.policyId) : [],
  };
  if (!evaluation.ok)
    return { ok: false, reason: { code: 'internal_error', detail: 'the request could not be evaluated' } };
  // Cedar skips a policy that errors; a forbid that could not be judged must not become an allow.
  const failedForbids = evaluation.erroring.filter((e) => evaluator.forbids.has(e.policyId));
  if (failedForbids.length > 0)
    return {
      ok: false,
      reason: {
        code: 'internal_error',
        detail: `forbid ${failedForbids.map((e) => e.policyId).join(', ')} could not be evaluated`,
      },
    };
  if (evaluation.decision !== 'allow')
    return evaluation.determining.length > 0
      ? {
          ok: false,
          reason: { code: 'policy_denied', detail: `forbidden by ${evaluation.determining.join(', ')}` },
        }
      : { ok: false, reason: { code: 'no_policy_permits' } };
  // A determining permit annotated @mandate_approval asks a human (the approval step).
  const asking = evaluation.determining.filter(
    (id) => evaluator.annotations.get(id)?.mandate_approval !== undefined,
  );
  delete state.policyApproval;
  if (asking.length > 0) {
    const approvers = asking.map((id) =>
      parseApprovers(evaluator.annotations.get(id)?.mandate_approvers, ROLES),
    );
    state.policyApproval = {
      policies: asking,
      approvers: {
        users: [...new Set(approvers.flatMap((a) => a.users))],
        roles: [...new Set(approvers.flatMap((a) => a.roles))],
      },
    };
  }
  return { ok: true };
}

/** The reserved `context.mandate`: facts Mandate verified, never what the caller claimed. */
function mandateContext(request: Parameters<DecisionStep['run']>[0], state: DecisionState, now: Date) {
  const delegations = state.delegations ?? [];
  const leaf = delegations[delegations.length - 1];
  return {
    delegated: true,
    action: request.action,
    dataClass: state.dataClass ?? request.dataClass ?? 'public',
    ...(request.environment ? { environment: request.environment } : {}),
    agent: state.agent?.id ?? '',
    rootUser: leaf?.rootUserId ?? '',
    delegation: leaf?.id ?? '',
    chain: (state.agents ?? []).map((a) => a.id),
    chainDepth: leaf?.depth ?? 0,
    autonomous: leaf?.standing === true,
    // Integers only (Cedar has no floats): the score and the names of the factors that counted.
    ...(state.risk
      ? { risk: { score: state.risk.score, factors: state.risk.factors.map((f) => f.name) } }
      : {}),
    time: now.toISOString(),
  };
}
