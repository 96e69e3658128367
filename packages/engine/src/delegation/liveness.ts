import { type Agent, type Delegation, effectiveAgentStatus, type ReasonCode } from '@mandate/core';
import { activeLocks, lockVerdict } from '../killswitch/locks.js';
import type { OrgReader } from '../ports/store.js';

export type Liveness =
  | { live: true; delegations: Delegation[]; agents: Agent[] }
  | { live: false; reason: ReasonCode; detail: string; at: string };

/** Only `active` is live; every other status, known or not, stops the chain. */
const AGENT_REASONS: Record<string, ReasonCode> = {
  revoked: 'agent_revoked',
  expired: 'agent_expired',
};

/**
 * Is every link of a delegation's chain usable right now: each delegation active and within
 * its validity window, each agent in it (every delegate; the delegators are the delegates of
 * the hop above) active, no kill-switch lock on any of them, and the root user still with the
 * org? Checked live on every use, so
 * suspending an agent stops every chain it is in at once, without rewriting any delegation.
 */
export async function chainLiveness(org: OrgReader, delegationId: string, now: Date): Promise<Liveness> {
  const leaf = await org.getDelegation(delegationId);
  if (!leaf) return { live: false, reason: 'chain_broken', detail: 'unknown delegation', at: delegationId };
  // The chain must be whole: from a root (no parent) down to this delegation, each link the
  // parent of the next, as long as the depth says. Anything else is a broken chain.
  const chain = Array.isArray(leaf.chain) ? leaf.chain : [];
  if (chain.length !== leaf.depth + 1 || chain[chain.length - 1] !== leaf.id) {
    return { live: false, reason: 'chain_broken', detail: 'the chain is malformed', at: leaf.id };
  }
  const delegations: Delegation[] = [];
  for (const [i, id] of chain.entries()) {
    const link = id === leaf.id ? leaf : await org.getDelegation(id);
    if (!link)
      return { live: false, reason: 'chain_broken', detail: 'a link of the chain is missing', at: id };
    const expectedParent = i === 0 ? undefined : chain[i - 1];
    if (link.parentId !== expectedParent || link.rootUserId !== leaf.rootUserId) {
      return { live: false, reason: 'chain_broken', detail: 'the chain is malformed', at: id };
    }
    delegations.push(link);
  }
  const root = await org.getUser(leaf.rootUserId);
  if (root?.status !== 'active') {
    return { live: false, reason: 'chain_broken', detail: 'the root user has left', at: leaf.rootUserId };
  }
  const agents: Agent[] = [];
  for (const link of delegations) {
    if (link.status !== 'active')
      return { live: false, reason: 'delegation_revoked', detail: 'revoked', at: link.id };
    if (link.scope.notBefore !== undefined && !(Date.parse(link.scope.notBefore) <= now.getTime())) {
      return { live: false, reason: 'delegation_expired', detail: 'not valid yet', at: link.id };
    }
    if (!(Date.parse(link.scope.expiresAt) > now.getTime())) {
      return { live: false, reason: 'delegation_expired', detail: 'expired', at: link.id };
    }
    const agent = await org.getAgent(link.delegateAgentId);
    if (!agent)
      return { live: false, reason: 'agent_unknown', detail: 'unknown agent', at: link.delegateAgentId };
    const status = effectiveAgentStatus(agent, now);
    if (status !== 'active') {
      return {
        live: false,
        reason: AGENT_REASONS[status] ?? 'agent_suspended',
        detail: `agent is ${status}`,
        at: agent.id,
      };
    }
    agents.push(agent);
  }
  // The kill switch: a lock on the org, on any agent of the chain or on its owner stops it all.
  const locked = lockVerdict(await activeLocks(org), org.orgId, agents);
  if (locked) return { live: false, reason: locked.reason, detail: locked.detail, at: locked.lockId };
  return { live: true, delegations, agents };
}
