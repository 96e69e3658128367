import type { Agent } from '@mandate/core';
import type { CedarEntity, CedarValue } from '../../policy/cedar.js';
import { loadEntities } from '../../policy/entities.js';
import type { StepDeps } from '../deps.js';
import type { DecisionState, DecisionStep } from '../types.js';

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
    const registry = registryEntities(orgId, agent, state);
    // The resource (the org's stored attributes win over what the agent says of it) and the
    // stored side of the registry's users and groups, with all their ancestors.
    const stored = await loadEntities(
      org,
      [
        { uid: resource, properties: request.resource.properties },
        ...registry
          .map((e) => e.uid as { type: string; id: string })
          .filter((uid) => uid.type === 'User' || uid.type === 'Group')
          .map((uid) => ({ uid })),
      ],
      { storedWins: true },
    );
    const context = { ...(request.context ?? {}), mandate: mandateContext(request, state, now) } as Record<
      string,
      CedarValue
    >;
    state.context = context;
    const evaluation = active.evaluator.evaluate({
      principal: { type: 'Agent', id: agent.id },
      action: { type: 'Action', id: request.action },
      resource,
      context,
      entities: mergeRegistry(registry, stored),
    });
    state.policy = {
      version: active.version,
      hash: active.hash,
      determining: evaluation.ok ? evaluation.determining : [],
      erroring: evaluation.ok ? evaluation.erroring.map((e) => e.policyId) : [],
    };
    if (!evaluation.ok)
      return { ok: false, reason: { code: 'internal_error', detail: 'the request could not be evaluated' } };
    // Cedar skips a policy that errors; a forbid that could not be judged must not become an allow.
    const failedForbids = evaluation.erroring.filter((e) => active.evaluator.forbids.has(e.policyId));
    if (failedForbids.length > 0)
      return {
        ok: false,
        reason: {
          code: 'internal_error',
          detail: `forbid ${failedForbids.map((e) => e.policyId).join(', ')} could not be evaluated`,
        },
      };
    if (evaluation.decision === 'allow') return { ok: true };
    return evaluation.determining.length > 0
      ? {
          ok: false,
          reason: { code: 'policy_denied', detail: `forbidden by ${evaluation.determining.join(', ')}` },
        }
      : { ok: false, reason: { code: 'no_policy_permits' } };
  },
});

const uidKey = (e: CedarEntity) => {
  const uid = e.uid as { type: string; id: string };
  return `${uid.type}\u0000${uid.id}`;
};

/**
 * The registry's entities with what the org stored about the same users and groups: the
 * registry's attributes win, the parents of both count (a stored `User` in a group keeps it).
 * Stored entities of the registry's own types (Agent, Org) never reach Cedar.
 */
function mergeRegistry(registry: CedarEntity[], stored: CedarEntity[]): CedarEntity[] {
  const out = new Map<string, CedarEntity>();
  for (const e of stored) {
    const type = (e.uid as { type: string }).type;
    if (type !== 'Agent' && type !== 'Org') out.set(uidKey(e), e);
  }
  for (const e of registry) {
    const known = out.get(uidKey(e));
    const parents = [...(known?.parents ?? []), ...e.parents];
    const unique = [...new Map(parents.map((p) => [JSON.stringify(p), p])).values()];
    out.set(uidKey(e), { uid: e.uid, attrs: { ...(known?.attrs ?? {}), ...e.attrs }, parents: unique });
  }
  return [...out.values()];
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
    time: now.toISOString(),
  };
}

/** The agent, its owner, its org and its label groups, from the registry (never the entity store). */
function registryEntities(orgId: string, agent: Agent, state: DecisionState): CedarEntity[] {
  const orgUid = { type: 'Org', id: orgId };
  const owner = { type: 'User', id: agent.ownerId };
  const groups = agent.labels.map((label) => ({ type: 'Group', id: label }));
  const entities: CedarEntity[] = [
    { uid: orgUid, attrs: {}, parents: [] },
    { uid: owner, attrs: {}, parents: [orgUid] },
    ...groups.map((uid) => ({ uid, attrs: {}, parents: [orgUid] })),
    {
      uid: { type: 'Agent', id: agent.id },
      attrs: {
        name: agent.name,
        owner: { __entity: owner },
        labels: agent.labels,
        environments: agent.environments,
      },
      parents: [owner, orgUid, ...groups],
    },
  ];
  const root = state.rootUser;
  if (root && root.id !== agent.ownerId)
    entities.push({ uid: { type: 'User', id: root.id }, attrs: {}, parents: [orgUid] });
  return entities;
}
