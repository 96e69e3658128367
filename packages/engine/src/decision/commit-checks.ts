import { readUsages } from '../limits/read-usage.js';
import { checkLimits } from '../limits/usage.js';
import { credentialStatus } from '../oauth/credential-status.js';
import type { EvaluationRequest } from '../policy/evaluator.js';
import type { OrgTransaction } from '../ports/store.js';
import { type AgentBaseline, EMPTY_BASELINE, observe } from '../risk/baseline.js';
import { assessRisk } from '../risk/factors.js';
import { approvalDigestOf } from './approval-commit.js';
import { judgePolicy } from './steps/policy.js';
import type { ActionRequest, DecisionReason, DecisionState } from './types.js';

/** A commit check passes with the writes it will make if every check passes, or denies. */
export type CommitResult = { ok: true; apply?: () => Promise<void> } | { ok: false; reason: DecisionReason };

/**
 * Checks that run inside the transaction that records an allow, after every step passed. The
 * write queue serialises transactions, so what they read and write here cannot race another
 * decision or a lock: this is where the kill switch becomes exact ("after lock returns, nothing
 * is allowed") and where limits are consumed atomically. All checks run first; their writes are
 * applied only if every one passed, so a denied decision consumes nothing.
 */
export interface CommitCheck {
  name: string;
  run(tx: OrgTransaction, request: ActionRequest, state: DecisionState, now: Date): Promise<CommitResult>;
}

/**
 * Everything the org, agent and chain steps read, read again in the recording transaction: the
 * org usable, the token not revoked, every link, agent and root user of the chain live, no
 * kill-switch lock on any of them, the bound key still active (credentialStatus). A suspension,
 * revocation or lock that committed after the steps read the state, but before this record,
 * stops this decision: once it has returned, no later record is an allow.
 */
export const liveAtCommit: CommitCheck = {
  name: 'live',
  async run(tx, _request, state, now) {
    const token = state.token;
    if (!token) return { ok: false, reason: { code: 'internal_error', detail: 'no credential' } };
    const org = await tx.getOrg();
    if (org?.status !== 'active')
      return { ok: false, reason: { code: 'org_locked', detail: `org is ${org?.status ?? 'gone'}` } };
    const status = await credentialStatus(tx, token, now);
    if (!status.active) return { ok: false, reason: { code: status.reason, detail: status.detail } };
    // What is recorded and consumed below is the chain as it stands at commit.
    state.delegations = status.delegations;
    state.agents = status.agents;
    return { ok: true };
  },
};

/**
 * Uses, rate and budget of every link of the chain, checked and consumed in the recording
 * transaction: under any concurrency, allowed uses never exceed a limit and the budget is
 * never overspent.
 */
export const limitsAtCommit: CommitCheck = {
  name: 'limits',
  async run(tx, request, state, now) {
    const chain = state.delegations ?? [];
    const verdict = checkLimits(chain, await readUsages(tx, chain), request.arguments, now);
    if (!verdict.ok)
      return { ok: false, reason: { code: 'limit_exceeded', limit: verdict.limit, detail: verdict.detail } };
    if (verdict.next.length === 0) return { ok: true };
    return {
      ok: true,
      apply: async () => {
        for (const { delegationId, usage } of verdict.next)
          await tx.putDocument('usage', { id: delegationId, tag: 'usage', doc: usage });
        state.limits = verdict.consumed;
      },
    };
  },
};

/** An allowed use becomes part of the agent's baseline (what it does, how fast, with what amounts). */
export const baselineAtCommit: CommitCheck = {
  name: 'baseline',
  async run(tx, request, state, now) {
    const agent = state.agent;
    if (!agent) return { ok: true };
    return {
      ok: true,
      apply: async () => {
        const stored = (await tx.getDocument<AgentBaseline>('baseline', agent.id))?.doc ?? EMPTY_BASELINE;
        const next = observe(
          stored,
          {
            action: request.action,
            resource: `${request.resource.type}:${request.resource.id}`,
            args: request.arguments,
          },
          now,
        );
        await tx.putDocument('baseline', { id: agent.id, tag: 'baseline', doc: next });
      },
    };
  },
};

/**
 * Risk again, against the baseline as this transaction sees it: the decisions recorded just
 * before this one (in parallel with it) count towards velocity and novelty, so a burst sent in
 * parallel cannot slip under the velocity check. The record shows the score as of commit. A
 * score that now reaches the thresholds denies (risk_too_high) or asks a human (a request is
 * filed with the decision); an approval this call is using already covers it.
 */
export const riskAtCommit: CommitCheck = {
  name: 'risk',
  async run(tx, request, state) {
    const { riskInput, riskSettings: settings, agent } = state;
    if (!riskInput || !settings || !agent) return { ok: true };
    const baseline = (await tx.getDocument<AgentBaseline>('baseline', agent.id))?.doc ?? EMPTY_BASELINE;
    const before = state.risk?.score ?? 0;
    state.risk = assessRisk(riskInput, settings, baseline);
    const { score, factors } = state.risk;
    if (score >= settings.denyAt)
      return {
        ok: false,
        reason: {
          code: 'risk_too_high',
          detail: `risk ${score} ≥ ${settings.denyAt}: ${factors.map((f) => f.name).join(', ')}`,
        },
      };
    const leaf = state.delegations?.[state.delegations.length - 1];
    // Cedar saw the earlier score: ask it again with this one (a policy may forbid on the score,
    // or ask for approval only above some score).
    const askedBefore = state.policyApproval !== undefined;
    if (score !== before && state.policyInput && state.policy) {
      const { input, evaluator } = state.policyInput;
      const mandate = (input.context as { mandate?: Record<string, unknown> }).mandate ?? {};
      const again = {
        ...input,
        context: {
          ...input.context,
          mandate: { ...mandate, risk: { score, factors: factors.map((f) => f.name) } },
        },
      } as EvaluationRequest;
      const judged = judgePolicy(evaluator, again, state, state.policy);
      if (!judged.ok) return judged;
    }
    const policyNowAsks = state.policyApproval !== undefined && !askedBefore;
    const riskNowAsks = score >= settings.approvalAt && before < settings.approvalAt;
    if ((riskNowAsks || policyNowAsks) && !state.approval?.use && leaf) {
      const reason = riskNowAsks
        ? `risk ${score} ≥ ${settings.approvalAt}`
        : `policy ${state.policyApproval?.policies.join(', ')} asks for approval`;
      state.approval = {
        digest: approvalDigestOf(request, state, leaf.id, agent.id),
        reasons: [reason],
        file: true,
      };
      return { ok: false, reason: { code: 'approval_required', detail: reason } };
    }
    return { ok: true };
  },
};
