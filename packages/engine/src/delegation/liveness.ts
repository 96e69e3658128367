import { type Agent, type Delegation, effectiveAgentStatus, type ReasonCode } from '@mandate/core';
import type { OrgReader } from '../ports/store.js';

export type Liveness =
  | { live: true; delegations: Delegation[]; agents: Agent[] }
  | { live: false; reason: ReasonCode; detail: string; at: string };

const AGENT_REASONS: Record<string, ReasonCode> = {
  suspended: 'agent_suspended',
  pending: 'agent_suspended',
  revoked: 'agent_revoked',
  expired: 'agent_expired',
};

/**
 * Is every link of a delegation's chain usable right now: each delegation active and within
 * its validity window, each agent in it (every delegate; the delegators are the delegates of
 * the hop above) active, and the root user still with the org? Checked live on every use, so
 * suspending an agent stops every chain it is in at once, without rewriting any delegation.
 */
export async function chainLiveness(org: OrgReader, delegationId: string, now: Date): Promise<Liveness> {
  const leaf = await org.getDelegation(delegationId);
  if (!leaf) return { live: false, reason: 'chain_broken', detail: 'unknown delegation', at: delegationId };
  const delegations: Delegation[] = [];
  for (const id of leaf.chain) {
    const link = id === leaf.id ? leaf : await org.getDelegation(id);
    if (!link)
      return { live: false, reason: 'chain_broken', detail: 'a link of the chain is missing', at: id };
    delegations.push(link);
  }
  const root = await org.getUser(leaf.rootUserId);
  if (root?.status !== 'active') {
    return { live: false, reason: 'chain_broken', detail: 'the root user has left', at: leaf.rootUserId };
  }
  const agents: Agent[] = [];
  for (const link of delegations) {
    if (link.status === 'revoked')
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
    const reason = AGENT_REASONS[status];
    if (reason) return { live: false, reason, detail: `agent is ${status}`, at: agent.id };
    agents.push(agent);
  }
  return { live: true, delegations, agents };
}
