import { requiresApproval } from '@mandate/core';
import type { DecisionStep } from '../types.js';

/**
 * Limits (uses, rate, budget along the chain), risk (score and factors) and approval are real
 * steps of the table. Until the live-context release gives them their behaviour, they fail
 * closed on what they cannot yet judge: a scope with limits, or an action that needs approval,
 * is refused rather than allowed unchecked. Risk passes (score 0, no factors).
 */
export const limits = (): DecisionStep => ({
  name: 'limits',
  async run(_request, state) {
    const limits = state.scope?.limits;
    if (limits && Object.keys(limits).length > 0)
      return {
        ok: false,
        reason: {
          code: 'limit_exceeded',
          detail: `this delegation has limits (${Object.keys(limits).join(', ')}) that cannot be enforced yet`,
        },
      };
    return { ok: true };
  },
});

export const risk = (): DecisionStep => ({
  name: 'risk',
  async run(_request, state) {
    state.risk = { score: 0, factors: [] };
    return { ok: true };
  },
});

export const approval = (): DecisionStep => ({
  name: 'approval',
  async run(request, state) {
    if (state.scope && requiresApproval(state.scope, request.action))
      return {
        ok: false,
        reason: { code: 'approval_required', detail: 'the delegation asks a human to approve this action' },
      };
    return { ok: true };
  },
});
