import type { Agent, Delegation, ReasonCode, VerifiedAccessToken } from '@mandate/core';
import { chainLiveness } from '../delegation/liveness.js';
import type { OrgReader } from '../ports/store.js';

export type CredentialStatus =
  | { active: true; delegations: Delegation[]; agents: Agent[]; autonomous: boolean }
  | { active: false; reason: ReasonCode; detail: string };

/**
 * Is a verified access token of this org usable right now: not revoked, its delegation chain
 * live link by link (chainLiveness), and its claims the chain it was minted for (the `act`
 * agents are the chain's delegates, `sub` its root user, or the agent itself on a standing
 * delegation), and the key it is bound to still an active key of its agent. Read live on every call, so a revocation anywhere takes effect at once.
 */
export async function credentialStatus(
  org: OrgReader,
  token: VerifiedAccessToken,
  now: Date,
): Promise<CredentialStatus> {
  const { claims } = token;
  if (claims.org !== org.orgId) return inactive('token_invalid', 'the token belongs to another org');
  if (await org.isTokenRevoked(claims.jti)) return inactive('token_revoked', 'the token was revoked');
  const live = await chainLiveness(org, claims.dlg, now);
  if (!live.live) return inactive(live.reason, `${live.detail} (${live.at})`);
  const leaf = live.delegations[live.delegations.length - 1] as Delegation;
  const delegatesNewestFirst = live.delegations.map((d) => d.delegateAgentId).reverse();
  const autonomous = claims.act === undefined && claims.sub === claims.client_id;
  // A standing root is used only autonomously, and an autonomous token only on a standing root.
  if ((live.delegations[0]?.standing === true) !== autonomous)
    return inactive('chain_broken', 'the token and its delegation disagree on whether it is autonomous');
  if (autonomous) {
    if (!leaf.standing || leaf.depth !== 0 || leaf.delegateAgentId !== claims.client_id)
      return inactive('chain_broken', 'an autonomous token needs a standing delegation of its agent');
  } else {
    const sameAgents =
      token.agents.length === delegatesNewestFirst.length &&
      token.agents.every((agent, i) => agent === delegatesNewestFirst[i]);
    if (!sameAgents || claims.sub !== leaf.rootUserId)
      return inactive('chain_broken', "the token's actor chain is not its delegation's chain");
  }
  // A key-bound token dies with its key: retiring a key (rotation, compromise) must not leave
  // tokens bound to it usable until they expire.
  const jkt = claims.cnf?.jkt;
  if (jkt !== undefined) {
    const presenter = live.agents.find((agent) => agent.id === claims.client_id);
    if (!presenter?.keys.some((key) => key.kid === jkt && key.status === 'active'))
      return inactive('pop_invalid', 'the key the token is bound to is no longer an active key of the agent');
  }
  return { active: true, delegations: live.delegations, agents: live.agents, autonomous };
}

const inactive = (reason: ReasonCode, detail: string): CredentialStatus => ({
  active: false,
  reason,
  detail,
});
