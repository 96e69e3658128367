import type { Agent, User } from '@mandate/core';
import type { CedarEntity, CedarEntityUid, CedarValue } from '../policy/cedar.js';
import { loadEntities } from '../policy/entities.js';
import type { EvaluationRequest } from '../policy/evaluator.js';
import type { OrgReader } from '../ports/store.js';

/**
 * What Cedar is asked for an agent's action: principal `Agent::"agt_…"` (parents: its owner's
 * User, its org, one Group per label), the resource with its stored ancestors (the org's stored
 * attributes win over what the agent says of it), and the stored side of the registry's users and
 * groups. Shared by the policy step and the replay of recorded decisions at publish time.
 */
export async function agentEvaluationInput(
  org: OrgReader,
  request: {
    agent: Agent;
    rootUser: User | undefined;
    action: string;
    resource: CedarEntityUid;
    properties?: Record<string, unknown>;
    context: Record<string, CedarValue>;
  },
): Promise<EvaluationRequest> {
  const registry = registryEntities(org.orgId, request.agent, request.rootUser);
  const stored = await loadEntities(
    org,
    [
      { uid: request.resource, properties: request.properties },
      ...registry
        .map((e) => e.uid as CedarEntityUid)
        .filter((uid) => uid.type === 'User' || uid.type === 'Group')
        .map((uid) => ({ uid })),
    ],
    { storedWins: true },
  );
  return {
    principal: { type: 'Agent', id: request.agent.id },
    action: { type: 'Action', id: request.action },
    resource: request.resource,
    context: request.context,
    entities: mergeRegistry(registry, stored),
  };
}

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

/** The agent, its owner, its org and its label groups, from the registry (never the entity store). */
function registryEntities(orgId: string, agent: Agent, root: User | undefined): CedarEntity[] {
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
  if (root && root.id !== agent.ownerId)
    entities.push({ uid: { type: 'User', id: root.id }, attrs: {}, parents: [orgUid] });
  return entities;
}
