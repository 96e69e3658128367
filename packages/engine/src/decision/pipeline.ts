import { createHash } from 'node:crypto';
import { canonicalize } from '@mandate/core';
import { MandateError } from '../errors.js';
import { assertNoReservedContext } from './authzen.js';
import type { StepDeps } from './deps.js';
import { agentStatus } from './steps/agent-status.js';
import { authenticate } from './steps/authenticate.js';
import { chain } from './steps/chain.js';
import { orgLock } from './steps/org-lock.js';
import { approval, limits, risk } from './steps/pass-through.js';
import { policy } from './steps/policy.js';
import { scope } from './steps/scope.js';
import type { ActionRequest, Decision, DecisionReason, DecisionState, DecisionStep } from './types.js';

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

  constructor(private readonly deps: StepDeps) {
    this.steps = [
      authenticate(deps),
      agentStatus(deps),
      orgLock(deps),
      chain(deps),
      scope(deps),
      limits(),
      risk(),
      policy(deps),
      approval(),
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
    return this.record(request, state, denial);
  }

  private async record(request: ActionRequest, state: DecisionState, denial: DecisionReason | undefined) {
    const orgId = state.orgId as string;
    const claims = state.token?.claims;
    const result = denial ? (denial.code === 'approval_required' ? 'approval_required' : 'deny') : 'allow';
    const record = await this.deps.ctx.store.org(orgId).transact((tx) =>
      this.deps.ctx.audit.append(tx, {
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
          ...(state.policy
            ? {
                policyVersion: state.policy.version,
                policyHash: state.policy.hash,
                determining: state.policy.determining,
                erroring: state.policy.erroring,
              }
            : {}),
          ...(state.risk ? { risk: state.risk } : {}),
        },
      }),
    );
    return {
      decision: denial?.code === 'approval_required' ? 'approval_required' : result,
      reasons: denial ? [denial] : [],
      decisionId: String(record.seq),
      policies: state.policy?.determining ?? [],
      ...(state.policy ? { policyVersion: state.policy.version } : {}),
      ...(state.risk ? { risk: state.risk } : {}),
    } satisfies Decision;
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
