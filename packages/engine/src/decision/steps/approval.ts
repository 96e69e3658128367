import { requiresApproval } from '@mandate/core';
import { type Approval, effectiveApprovalStatus } from '../../approvals/approval.js';
import { approvalForDigest } from '../../approvals/approval-store.js';
import { approvalDigestOf } from '../approval-commit.js';
import type { StepDeps } from '../deps.js';
import type { DecisionReason, DecisionStep } from '../types.js';

/**
 * A human must approve this exact action when the delegation's `requireApproval` names it, a
 * determining permit policy carries `@mandate_approval`, or the risk score reached the org's
 * approval threshold. Then an approval for exactly (agent, delegation, action, resource,
 * arguments) decides: approved and unused lets this one call through (it is consumed when the
 * decision is recorded); pending is `approval_required`; denied is `approval_denied`; used is
 * `approval_used` and expired is `approval_expired` (both file a fresh request); none files one.
 */
export const approval = (deps: StepDeps): DecisionStep => ({
  name: 'approval',
  async run(request, state, now) {
    const reasons: string[] = [];
    if (state.scope && requiresApproval(state.scope, request.action))
      reasons.push('the delegation asks a human to approve this action');
    if (state.policyApproval)
      reasons.push(`policy ${state.policyApproval.policies.join(', ')} asks for approval`);
    const threshold = state.riskSettings?.approvalAt;
    if (state.risk && threshold !== undefined && state.risk.score >= threshold)
      reasons.push(`risk ${state.risk.score} ≥ ${threshold}`);
    if (reasons.length === 0) return { ok: true };

    const leaf = state.delegations?.[state.delegations.length - 1];
    if (!state.orgId || !state.agent || !leaf)
      return { ok: false, reason: { code: 'internal_error', detail: 'no chain' } };
    const digest = approvalDigestOf(request, state, leaf.id, state.agent.id);
    const found = await approvalForDigest(deps.ctx.store.org(state.orgId), digest);
    state.approval = { digest, reasons };
    const deny = (reason: DecisionReason, file: boolean, existing?: Approval) => {
      state.approval = { digest, reasons, file, existing };
      return { ok: false as const, reason };
    };
    const status = found ? effectiveApprovalStatus(found, now) : undefined;
    switch (status) {
      case 'approved':
        state.approval = { digest, reasons, use: found };
        return { ok: true };
      case 'pending':
        return deny({ code: 'approval_required', detail: `waiting for approval ${found?.id}` }, false, found);
      case 'denied':
        // A no holds for this exact action until the request would have expired.
        if (found && Date.parse(found.expiresAt) > now.getTime())
          return deny({ code: 'approval_denied', detail: `approval ${found.id} was denied` }, false, found);
        break;
      case 'used':
        return deny({ code: 'approval_used', detail: `approval ${found?.id} was already used` }, true);
      case 'expired':
        return deny({ code: 'approval_expired', detail: `approval ${found?.id} expired` }, true);
    }
    return deny({ code: 'approval_required', detail: reasons.join('; ') }, true);
  },
});
