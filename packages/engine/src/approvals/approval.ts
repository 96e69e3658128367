import { createHash } from 'node:crypto';
import { canonicalize, type Role } from '@mandate/core';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled' | 'used';

/** Who may decide: users by id, and holders of a role. Empty: the chain's root user only. */
export interface Approvers {
  users: string[];
  roles: Role[];
}

/** A human's yes or no to one exact action (document `approval`, tag = status). */
export interface Approval {
  id: string;
  status: ApprovalStatus;
  /** SHA-256 of the canonical (agent, delegation, action, resource, arguments): what was asked. */
  digest: string;
  agentId: string;
  delegationId: string;
  /** The chain's agents, root first, and the human it acts for. */
  chain: string[];
  rootUserId: string;
  action: string;
  resource: { type: string; id: string };
  /** Where and on what data: part of what the approver says yes to. */
  environment?: string;
  dataClass?: string;
  /** Names and kinds of the arguments (never their values), for the approver's screen. */
  argumentsPreview: Record<string, string>;
  /** Why a human is asked: the delegation, a policy, or the risk score. */
  reasons: string[];
  risk?: { score: number; factors: string[] };
  approvers: Approvers;
  /**
   * Whether the chain's root user may decide. True by default; false when a policy names the
   * approvers (then only they may: a user cannot approve their own chain past the org's policy).
   */
  rootUserDecides: boolean;
  /** The decision that asked (its audit seq). */
  requestedBy: string;
  createdAt: string;
  expiresAt: string;
  decidedBy?: { kind: string; id: string; userId?: string };
  decidedAt?: string;
  comment?: string;
  /** The decision that used the approval (its audit seq). */
  usedBy?: string;
  usedAt?: string;
}

/** How long a request waits for a human by default, and at most. */
export const APPROVAL_LIFETIME_MS = 10 * 60_000;

/**
 * The binding: an approval is for exactly this agent, delegation, action, resource and
 * arguments, in this environment, on this data class, with this context and these resource
 * properties. A yes for staging is not a yes for production.
 */
export function approvalDigest(input: {
  agentId: string;
  delegationId: string;
  action: string;
  resource: { type: string; id: string; properties?: Record<string, unknown> };
  arguments?: Record<string, unknown>;
  environment?: string;
  dataClass: string;
  context?: Record<string, unknown>;
}): string {
  return createHash('sha256')
    .update(
      canonicalize({
        agent: input.agentId,
        delegation: input.delegationId,
        action: input.action,
        resource: { type: input.resource.type, id: input.resource.id },
        properties: input.resource.properties ?? {},
        arguments: input.arguments ?? {},
        environment: input.environment ?? null,
        dataClass: input.dataClass,
        context: input.context ?? {},
      }),
      'utf8',
    )
    .digest('hex');
}

/** The status as of `now`: a pending or approved request past its expiry has expired. */
export function effectiveApprovalStatus(approval: Approval, now: Date): ApprovalStatus {
  if (
    (approval.status === 'pending' || approval.status === 'approved') &&
    Date.parse(approval.expiresAt) <= now.getTime()
  )
    return 'expired';
  return approval.status;
}

/** `usr_…` ids and `role:<role>` entries, from a policy annotation (comma separated). */
export function parseApprovers(text: string | null | undefined, roles: readonly string[]): Approvers {
  const out: Approvers = { users: [], roles: [] };
  for (const entry of (text ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    if (/^usr_[0-9A-Z]{26}$/.test(entry)) out.users.push(entry);
    else if (entry.startsWith('role:') && roles.includes(entry.slice(5)))
      out.roles.push(entry.slice(5) as Role);
  }
  return out;
}
