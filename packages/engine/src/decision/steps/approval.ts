import { requiresApproval } from '@mandate/core';
import type { DecisionStep } from '../types.js';

/**
 * A human must approve this action: the delegation's `requireApproval` names it, or the risk
 * score reached the org's approval threshold.
 */
export const approval = (): DecisionStep => ({
  name: 'approval',
  async run(request, state) {
    const reasons: string[] = [];
    if (state.scope && requiresApproval(state.scope, request.action))
      reasons.push('the delegation asks a human to approve this action');
    const threshold = state.riskSettings?.approvalAt;
    if (state.risk && threshold !== undefined && state.risk.score >= threshold)
      reasons.push(`risk ${state.risk.score} ≥ ${threshold}`);
    if (reasons.length === 0) return { ok: true };
    return { ok: false, reason: { code: 'approval_required', detail: reasons.join('; ') } };
  },
});
