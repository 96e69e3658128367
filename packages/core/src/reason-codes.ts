/**
 * The closed set of reasons a decision can be denied for (DESIGN.md section 3).
 * Extend deliberately: enforcement points switch on these.
 */
export const REASON_CODES = [
  'token_invalid',
  'token_expired',
  'token_revoked',
  'pop_invalid',
  'agent_unknown',
  'agent_suspended',
  'agent_revoked',
  'agent_expired',
  'org_locked',
  'delegation_revoked',
  'delegation_expired',
  'chain_broken',
  'out_of_scope',
  'limit_exceeded',
  'policy_denied',
  'no_policy_permits',
  'risk_too_high',
  'approval_required',
  'approval_denied',
  'approval_expired',
  /** The approval for exactly this action was already used: one approval, one use. */
  'approval_used',
  'internal_error',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];
