import { createHash } from 'node:crypto';
import { type AuditEventInput, canonicalize } from '@mandate/core';
import type { Approval } from '../approvals/approval.js';
import { saveApproval } from '../approvals/approval-store.js';
import { MandateError } from '../errors.js';
import type { OrgTransaction } from '../ports/store.js';
import { approvalAtCommit, fileApproval } from './approval-commit.js';
import { assertNoReservedContext } from './authzen.js';
import {
  baselineAtCommit,
  type CommitCheck,
  limitsAtCommit,
  liveAtCommit,
  riskAtCommit,
} from './commit-checks.js';
import type { StepDeps } from './deps.js';
import { agentStatus } from './steps/agent-status.js';
import { approval } from './steps/approval.js';
import { authenticate } from './steps/authenticate.js';
import { chain } from './steps/chain.js';
import { limits } from './steps/limits.js';
import { orgLock } from './steps/org-lock.js';
import { policy } from './steps/policy.js';
import { risk } from './steps/risk.js';
import { scope } from './steps/scope.js';
import type { ActionRequest, Decision, DecisionReason, DecisionState, DecisionStep } from './types.js';

/** Denials under which a request for a human's approval is pending: the answer is approval_required. */
const APPROVAL_WAIT_CODES = new Set(['approval_required', 'approval_used', 'approval_expired']);

/** A request whose credential does not authenticate: there is no org to record it in. */
export class UnauthenticatedDecision extends Error {
  override readonly name = 'UnauthenticatedDecision';
  constructor(readonly reason: DecisionReason) {
    super(`${reason.code}: ${reason.detail ?? ''}`);
  }
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * `decide`: the check before every action. The steps run in this order, each able to deny with
 * a reason code; the first denial ends the run. Deny is a value; anything a step throws becomes
 * `internal_error`. Every decision of an authenticated agent is appended to its org's audit log,
 * and returned only once that record is durable; its sequence number is the decision id.
 */
export class DecisionPipeline {
  private readonly steps: DecisionStep[];
  private readonly commitChecks: CommitCheck[] = [
    liveAtCommit,
    riskAtCommit,
    approvalAtCommit,
    limitsAtCommit,
    baselineAtCommit,
  ];

  constructor(private readonly deps: StepDeps) {
    this.steps = [
      authenticate(deps),
      agentStatus(deps),
      orgLock(deps),
      chain(deps),
      scope(deps),
      limits(deps),
      risk(deps),
      policy(deps),
      approval(deps),
    ];
  }

  /** The step names, in order (for explain and the docs). */
  get order(): string[] {
    return this.steps.map((s) => s.name);
  }

  async decide(request: ActionRequest): Promise<Decision> {
    assertNoReservedContext(request.context);
    const now = this.deps.ctx.clock.now();
    const state: DecisionState = {};
    let denial: DecisionReason | undefined;
    for (const step of this.steps) {
      let result: Awaited<ReturnType<DecisionStep['run']>>;
      try {
        result = await step.run(request, state, now);
      } catch (error) {
        // Fail closed, and say where: the record names the step that failed, not the error.
        result = { ok: false, reason: { code: 'internal_error', detail: `step ${step.name} failed` } };
        void error;
      }
      if (!result.ok) {
        denial = result.reason;
        if (step.name === 'authenticate') throw new UnauthenticatedDecision(result.reason);
        break;
      }
    }
    return this.record(request, state, denial, now);
  }

  /** Runs the commit checks (for an allow) and appends the record, in one transaction. */
  private async record(
    request: ActionRequest,
    state: DecisionState,
    stepDenial: DecisionReason | undefined,
    now: Date,
  ): Promise<Decision> {
    const orgId = state.orgId as string;
    let filed: Approval | undefined;
    const { record, denial } = await this.deps.ctx.store.org(orgId).transact(async (tx) => {
      const denial = stepDenial ?? (await this.runCommitChecks(tx, request, state, now));
      // A probe (a listing) files no approval request: only a real call asks a human.
      const approval = request.probe
        ? undefined
        : await fileApproval(tx, request, state, denial, now, preview(request.arguments ?? {}));
      if (approval) state.approvalRecord = approval;
      const record = await this.deps.ctx.audit.append(tx, this.recordOf(request, state, denial));
      // The approval names the decision that asked for it, or the one that used it.
      const linked = state.approvalRecord;
      if (linked && linked.requestedBy === '') {
        filed = { ...linked, requestedBy: String(record.seq) };
        state.approvalRecord = filed;
        await saveApproval(tx, filed);
      } else if (linked && linked.status === 'used' && !linked.usedBy) {
        await saveApproval(tx, { ...linked, usedBy: String(record.seq) });
      }
      return { record, denial };
    });
    if (filed) this.deps.notify?.(orgId, filed);
    const approval = state.approvalRecord;
    const waiting = denial !== undefined && APPROVAL_WAIT_CODES.has(denial.code) && approval !== undefined;
    return {
      decision: denial ? (waiting ? 'approval_required' : 'deny') : 'allow',
      reasons: denial ? [denial] : [],
      decisionId: String(record.seq),
      policies: state.policy?.determining ?? [],
      ...(state.policy ? { policyVersion: state.policy.version } : {}),
      ...(state.risk ? { risk: state.risk } : {}),
      ...(approval && approval.status !== 'used'
        ? { approval: { id: approval.id, status: approval.status, expiresAt: approval.expiresAt } }
        : {}),
    } satisfies Decision;
  }

  private async runCommitChecks(
    tx: OrgTransaction,
    request: ActionRequest,
    state: DecisionState,
    now: Date,
  ): Promise<DecisionReason | undefined> {
    const writes: Array<{ name: string; apply: () => Promise<void> }> = [];
    for (const check of this.commitChecks) {
      try {
        const result = await check.run(tx, request, state, now);
        if (!result.ok) return result.reason;
        if (result.apply) writes.push({ name: check.name, apply: result.apply });
      } catch {
        // A check that fails must not leave the allow standing, nor lose the record.
        return { code: 'internal_error', detail: `commit check ${check.name} failed` };
      }
    }
    // A probe decides as a call would, and uses nothing: no limit, approval or baseline write.
    if (request.probe) return undefined;
    // Only once every check passed. A write that fails denies; what was written before it stays
    // (it errs towards consuming a limit, never towards an unrecorded use).
    for (const write of writes) {
      try {
        await write.apply();
      } catch {
        return { code: 'internal_error', detail: `commit check ${write.name} failed to record` };
      }
    }
    return undefined;
  }

  private recordOf(
    request: ActionRequest,
    state: DecisionState,
    denial: DecisionReason | undefined,
  ): AuditEventInput {
    const claims = state.token?.claims;
    const result = denial ? (denial.code === 'approval_required' ? 'approval_required' : 'deny') : 'allow';
    return {
      type: 'decision',
      actor: { kind: 'agent', id: claims?.client_id ?? '' },
      target: { type: 'decision', id: request.action },
      refs: {
        agentId: claims?.client_id,
        delegationId: claims?.dlg,
        userId: state.delegations?.[0]?.rootUserId,
      },
      after: {
        kind: 'agent',
        request: {
          action: request.action,
          resource: { type: request.resource.type, id: request.resource.id },
          dataClass: state.dataClass ?? request.dataClass ?? 'public',
          ...(request.environment ? { environment: request.environment } : {}),
          // Arguments and context as digests and a redacted preview: names and kinds, no values.
          argumentsDigest: sha256(canonicalize(request.arguments ?? {})),
          argumentsPreview: preview(request.arguments ?? {}),
          contextDigest: sha256(canonicalize(request.context ?? {})),
          propertiesDigest: sha256(canonicalize(request.resource.properties ?? {})),
        },
        chain: {
          rootUser: state.delegations?.[0]?.rootUserId,
          agents: [...(state.token?.agents ?? [])].reverse(),
          delegations: state.delegations?.map((d) => d.id) ?? (claims ? [claims.dlg] : []),
          token: claims?.jti,
        },
        result,
        reasons: denial ? [denial] : [],
        ...(request.probe ? { probe: true } : {}),
        ...(request.askedBy ? { enforcementPoint: request.askedBy } : {}),
        ...(state.policy
          ? {
              policyVersion: state.policy.version,
              policyHash: state.policy.hash,
              determining: state.policy.determining,
              erroring: state.policy.erroring,
            }
          : {}),
        ...(state.risk ? { risk: state.risk } : {}),
        ...(state.limits ? { limits: state.limits } : {}),
        ...(state.approvalRecord
          ? {
              approval: {
                id: state.approvalRecord.id,
                status: state.approvalRecord.status,
                reasons: state.approvalRecord.reasons,
                ...(state.approvalRecord.decidedBy ? { decidedBy: state.approvalRecord.decidedBy } : {}),
              },
            }
          : {}),
      },
    };
  }
}

/** `{ to: "string(17)", amount: "number" }`: what was passed, not what it said. */
function preview(args: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(args).slice(0, 50)) {
    out[name] =
      typeof value === 'string'
        ? `string(${value.length})`
        : Array.isArray(value)
          ? `array(${value.length})`
          : value === null
            ? 'null'
            : typeof value;
  }
  return out;
}
