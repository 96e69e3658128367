import { credentialStatus } from '../../oauth/credential-status.js';
import type { StepDeps } from '../deps.js';
import type { DecisionStep } from '../types.js';

/**
 * Every link of the token's delegation chain live now (credentialStatus: not revoked, each
 * delegation active and in its window, each agent active, the root user still there, the token's
 * actor chain the delegation chain, its key still the agent's).
 */
export const chain = (deps: StepDeps): DecisionStep => ({
  name: 'chain',
  async run(_request, state, now) {
    if (!state.token || !state.orgId)
      return { ok: false, reason: { code: 'internal_error', detail: 'no credential' } };
    const org = deps.ctx.store.org(state.orgId);
    const status = await credentialStatus(org, state.token, now);
    if (!status.active) return { ok: false, reason: { code: status.reason, detail: status.detail } };
    state.delegations = status.delegations;
    state.agents = status.agents;
    const root = status.delegations[0];
    if (root) state.rootUser = await org.getUser(root.rootUserId);
    return { ok: true };
  },
});
