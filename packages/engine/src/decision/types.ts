import type {
  Actor,
  Agent,
  DataClass,
  Delegation,
  ReasonCode,
  Scope,
  ScopeDimension,
  User,
  VerifiedAccessToken,
} from '@mandate/core';
import type { Approval, Approvers } from '../approvals/approval.js';
import type { LimitConsumption, LimitKind } from '../limits/usage.js';
import type { CedarValue } from '../policy/cedar.js';
import type { EvaluationRequest, PolicyEvaluator } from '../policy/evaluator.js';
import type { RiskAssessment, RiskInput } from '../risk/factors.js';
import type { RiskSettings } from '../risk/settings.js';

/** What an enforcement point (or the agent itself) asks before an action runs. */
export interface ActionRequest {
  /** The agent's access token, and how it was presented. */
  token: string;
  scheme: 'DPoP' | 'Bearer';
  /** The DPoP proof, and the method and URL it was made for (the call to Mandate). */
  dpop?: string;
  proofMethod?: string;
  proofUrl?: string;
  action: string;
  /** A resource as AuthZEN names it: `type` and `id` (scope patterns see `type:id`). */
  resource: { type: string; id: string; properties?: Record<string, unknown> };
  dataClass?: DataClass;
  environment?: string;
  arguments?: Record<string, unknown>;
  /** Sent to Cedar as context, except the keys Mandate reserves. */
  context?: Record<string, unknown>;
  /** What the enforcement point observed: the agent has read untrusted content in this task. */
  signals?: { untrustedInput?: boolean };
  /** The org of the enforcement point asking: a token of another org does not authenticate. */
  expectedOrgId?: string;
  /** The agent the enforcement point names as the subject: the token's agent must be it. */
  expectedAgentId?: string;
  /**
   * Set only by the AuthZEN batch path (an object no JSON body can produce): the credentials of
   * this one batch whose DPoP proof was already verified, so that the other items carrying the
   * identical credential (token, proof, method, url) are not refused as replays of it.
   */
  proofMemo?: ProofMemo;
  /**
   * Decide without using: no limit is consumed, no approval is filed or used, the baseline is not
   * updated; the record says `probe`, and no outcome can be recorded for it (an enforcement point
   * filtering a listing, e.g. the MCP gateway's tools/list).
   */
  probe?: boolean;
  /** The enforcement point that asked (its API key), recorded so that it may report the outcome. */
  askedBy?: Actor;
}

/**
 * The credentials whose DPoP proof was verified within ONE AuthZEN batch. Made per call of
 * `evaluateMany` and never kept: a proof verified here is accepted again only for an item of the
 * same batch with the very same token, proof, method and url; any other request (another batch,
 * another HTTP call, another token with this proof) goes through the replay cache as always.
 */
export class ProofMemo {
  private readonly verified = new Set<string>();

  private static key(request: ActionRequest): string {
    return JSON.stringify([
      request.token,
      request.dpop ?? '',
      request.proofMethod ?? '',
      request.proofUrl ?? '',
    ]);
  }

  has(request: ActionRequest): boolean {
    return this.verified.has(ProofMemo.key(request));
  }

  add(request: ActionRequest): void {
    this.verified.add(ProofMemo.key(request));
  }
}

/** One reason a decision was not an allow; `dimension` for out_of_scope, `limit` for limits. */
export interface DecisionReason {
  code: ReasonCode;
  detail?: string;
  dimension?: ScopeDimension;
  limit?: LimitKind;
}

/** What the steps learn and pass on, filled as the pipeline runs. */
export interface DecisionState {
  orgId?: string;
  token?: VerifiedAccessToken;
  agent?: Agent;
  rootUser?: User;
  delegations?: Delegation[];
  agents?: Agent[];
  /** The scope the token carries (within its delegation). */
  scope?: Scope;
  /** The data class the request touches: the higher of what was declared and what the org stored. */
  dataClass?: DataClass;
  policy?: { version: number; hash: string; determining: string[]; erroring: string[] };
  risk?: RiskAssessment;
  riskSettings?: RiskSettings;
  /** What the risk was assessed on, to assess it again against the baseline at commit. */
  riskInput?: RiskInput;
  context?: Record<string, CedarValue>;
  /** What Cedar was asked, to ask again at commit if the risk it saw has changed. */
  policyInput?: { input: EvaluationRequest; evaluator: PolicyEvaluator };
  /** A determining permit policy annotated `@mandate_approval`, and the approvers it names. */
  policyApproval?: { policies: string[]; approvers: Approvers };
  /**
   * The approval this action needs: its digest and why; `use` an approved one (consumed at
   * commit), `file` a new request at commit, `existing` the request already pending or denied.
   */
  approval?: { digest: string; reasons: string[]; use?: Approval; file?: boolean; existing?: Approval };
  /** The approval request this decision filed, used or found (set at commit). */
  approvalRecord?: Approval;
  /** What an allowed use took from each limited link of the chain (set at commit). */
  limits?: LimitConsumption[];
}

export type StepResult = { ok: true } | { ok: false; reason: DecisionReason };

/** One step of the pipeline: may deny (a value, never a throw); anything thrown is internal_error. */
export interface DecisionStep {
  name: string;
  run(request: ActionRequest, state: DecisionState, now: Date): Promise<StepResult>;
}

export interface Decision {
  decision: 'allow' | 'deny' | 'approval_required';
  reasons: DecisionReason[];
  /** The sequence number of the decision's audit record (durable before this is returned). */
  decisionId: string;
  policies: string[];
  policyVersion?: number;
  risk?: DecisionState['risk'];
  /** For approval_*: the request a human decides (poll GET /v1/approvals/{id}?wait=30). */
  approval?: { id: string; status: string; expiresAt: string };
}
