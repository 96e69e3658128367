import { newId, ROLES } from '@mandate/core';
import {
  APPROVAL_LIFETIME_MS,
  type Approval,
  type Approvers,
  approvalDigest,
  effectiveApprovalStatus,
  parseApprovers,
} from '../approvals/approval.js';
import {
  approvalForDigest,
  expireLapsedApprovals,
  getApproval,
  saveApproval,
} from '../approvals/approval-store.js';
import type { OrgTransaction } from '../ports/store.js';
import type { CommitCheck } from './commit-checks.js';
import type { ActionRequest, DecisionReason, DecisionState } from './types.js';

/** The digest an approval for this exact request is filed (and found) under. */
export function approvalDigestOf(
  request: ActionRequest,
  state: DecisionState,
  delegationId: string,
  agentId: string,
) {
  return approvalDigest({
    agentId,
    delegationId,
    action: request.action,
    resource: request.resource,
    arguments: request.arguments,
    environment: request.environment,
    dataClass: state.dataClass ?? request.dataClass ?? 'public',
    context: request.context,
  });
}

/** Pending approval requests one agent may have at once. */
export const MAX_PENDING_PER_AGENT = 20;

/** The codes under which a decision waits for, or was refused by, a human's approval. */
const APPROVAL_CODES = new Set(['approval_required', 'approval_used', 'approval_expired']);

/**
 * An approved request is used by exactly one decision: re-read and marked used inside the
 * recording transaction, so two concurrent retries cannot both pass (the second is
 * `approval_used`, and a fresh request is filed for it).
 */
export const approvalAtCommit: CommitCheck = {
  name: 'approval',
  async run(tx, _request, state, now) {
    const use = state.approval?.use;
    if (!use) return { ok: true };
    const current = await getApproval(tx, use.id);
    const status = current ? effectiveApprovalStatus(current, now) : 'cancelled';
    if (!current || status !== 'approved' || current.digest !== use.digest) {
      if (state.approval) state.approval.file = true;
      const code = status === 'expired' ? 'approval_expired' : 'approval_used';
      return { ok: false, reason: { code, detail: `approval ${use.id} is ${status}` } };
    }
    return {
      ok: true,
      apply: async () => {
        const used: Approval = { ...current, status: 'used', usedAt: now.toISOString() };
        await saveApproval(tx, used);
        state.approvalRecord = used;
      },
    };
  },
};

/**
 * For a decision that needs a human: files the approval request in the recording transaction
 * (or finds the pending one a concurrent decision filed for the same digest), so that the
 * decision's record and the request exist together or not at all.
 */
export async function fileApproval(
  tx: OrgTransaction,
  request: ActionRequest,
  state: DecisionState,
  denial: DecisionReason | undefined,
  now: Date,
  preview: Record<string, string>,
): Promise<Approval | undefined> {
  const plan = state.approval;
  if (!plan || !denial || !APPROVAL_CODES.has(denial.code)) return plan?.existing;
  if (!plan.file) return plan.existing;
  const already = await approvalForDigest(tx, plan.digest);
  if (already && effectiveApprovalStatus(already, now) === 'pending') return already;
  // An agent varying one argument must not flood the approvers: past the cap nothing is filed.
  // Lapsed requests are re-tagged first, so the scan below sees live requests only.
  await expireLapsedApprovals(tx, now);
  const pending = await tx.listDocuments<Approval>('approval', 'pending', { limit: 1000 });
  const mine = pending.items.filter(
    (d) => d.doc.agentId === state.agent?.id && effectiveApprovalStatus(d.doc, now) === 'pending',
  );
  if (mine.length >= MAX_PENDING_PER_AGENT || pending.nextCursor !== undefined) {
    denial.detail = `${denial.detail ?? denial.code}; not filed: this agent has ${MAX_PENDING_PER_AGENT} or more requests pending`;
    return undefined;
  }
  const leaf = state.delegations?.[state.delegations.length - 1];
  if (!leaf || !state.agent) return undefined;
  // Named by a policy, or by the root grant of the chain (its root user chose them).
  const named = parseApprovers((state.delegations?.[0]?.approvers ?? []).join(','), ROLES);
  const fromPolicy = state.policyApproval?.approvers ?? { users: [], roles: [] };
  const approvers: Approvers = {
    users: [...new Set([...fromPolicy.users, ...named.users])],
    roles: [...new Set([...fromPolicy.roles, ...named.roles])],
  };
  const approval: Approval = {
    id: newId('approval', now.getTime()),
    status: 'pending',
    digest: plan.digest,
    agentId: state.agent.id,
    delegationId: leaf.id,
    chain: (state.agents ?? []).map((a) => a.id),
    rootUserId: leaf.rootUserId,
    action: request.action,
    resource: { type: request.resource.type, id: request.resource.id },
    ...(request.environment ? { environment: request.environment } : {}),
    dataClass: state.dataClass ?? request.dataClass ?? 'public',
    argumentsPreview: preview,
    reasons: plan.reasons,
    ...(state.risk
      ? { risk: { score: state.risk.score, factors: state.risk.factors.map((f) => f.name) } }
      : {}),
    approvers,
    rootUserDecides: fromPolicy.users.length + fromPolicy.roles.length === 0,
    requestedBy: '',
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + APPROVAL_LIFETIME_MS).toISOString(),
  };
  await saveApproval(tx, approval, { isNew: true });
  return approval;
}
