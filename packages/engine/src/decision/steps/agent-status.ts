import { effectiveAgentStatus } from '@mandate/core';
import type { StepDeps } from '../deps.js';
import type { DecisionStep } from '../types.js';

/** The presenting agent exists and is active right now (not suspended, revoked or expired). */
export const agentStatus = (deps: StepDeps): DecisionStep => ({
  name: 'agent',
  async run(_request, state, now) {
    const claims = state.token?.claims;
    if (!claims || !state.orgId)
      return { ok: false, reason: { code: 'internal_error', detail: 'no credential' } };
    const agent = await deps.ctx.store.org(state.orgId).getAgent(claims.client_id);
    if (!agent) return { ok: false, reason: { code: 'agent_unknown', detail: claims.client_id } };
    const status = effectiveAgentStatus(agent, now);
    state.agent = agent;
    if (status === 'active') return { ok: true };
    const code =
      status === 'revoked' ? 'agent_revoked' : status === 'expired' ? 'agent_expired' : 'agent_suspended';
    return { ok: false, reason: { code, detail: `the agent is ${status}` } };
  },
});
