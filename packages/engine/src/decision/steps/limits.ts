import { readUsages } from '../../limits/read-usage.js';
import { checkLimits } from '../../limits/usage.js';
import type { StepDeps } from '../deps.js';
import type { DecisionStep } from '../types.js';

/**
 * Uses, rate and budget of every link of the chain, read as stored: an early, cheap refusal.
 * Nothing is consumed here; the commit check consumes, atomically, only for a decision that is
 * allowed (a request that policy or approval stops takes nothing).
 */
export const limits = (deps: StepDeps): DecisionStep => ({
  name: 'limits',
  async run(request, state, now) {
    if (!state.orgId || !state.delegations)
      return { ok: false, reason: { code: 'internal_error', detail: 'no chain' } };
    const usages = await readUsages(deps.ctx.store.org(state.orgId), state.delegations);
    const verdict = checkLimits(state.delegations, usages, request.arguments, now);
    if (verdict.ok) return { ok: true };
    return { ok: false, reason: { code: 'limit_exceeded', limit: verdict.limit, detail: verdict.detail } };
  },
});
