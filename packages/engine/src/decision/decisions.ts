import type { Actor } from '@mandate/core';
import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import { MandateError, notFound } from '../errors.js';
import type { AuthenticatedAgent } from '../oauth/oauth-service.js';
import type { StepDeps } from './deps.js';
import { DecisionPipeline } from './pipeline.js';
import type { ActionRequest, Decision } from './types.js';

export interface OutcomeInput {
  status: 'success' | 'error';
  /** SHA-256 (hex) of the action's result, if the enforcement point keeps it. */
  resultDigest?: string;
  durationMs?: number;
  error?: string;
}

/** Decisions for agents (the pipeline) and what happened after them (outcomes). */
export class DecisionService {
  readonly pipeline: DecisionPipeline;

  constructor(
    private readonly ctx: EngineContext,
    deps: StepDeps,
  ) {
    this.pipeline = new DecisionPipeline(deps);
  }

  decide(request: ActionRequest): Promise<Decision> {
    return this.pipeline.decide(request);
  }

  /**
   * Records what happened after an allowed decision the agent asked for itself, linked to it:
   * once, and only by the agent the decision was about.
   */
  async recordOutcome(
    agent: AuthenticatedAgent,
    decisionId: string,
    outcome: OutcomeInput,
  ): Promise<{ seq: number }> {
    const seq = Number(decisionId);
    if (!Number.isSafeInteger(seq) || seq < 0) throw notFound('decision');
    return this.ctx.store.org(agent.orgId).transact(async (tx) => {
      const decision = await tx.getAuditRecord(seq);
      const after = decision?.after as
        | { kind?: string; result?: string; probe?: boolean; enforcementPoint?: Actor }
        | undefined;
      // A decision an enforcement point asked for (the MCP gateway) takes its outcome from that
      // enforcement point only: the agent it polices must not plant one first and block the true one.
      if (
        decision?.type !== 'decision' ||
        after?.kind !== 'agent' ||
        decision.actor.id !== agent.agentId ||
        after.enforcementPoint !== undefined
      )
        throw notFound('decision');
      if (after.result !== 'allow' || after.probe === true)
        throw new MandateError('conflict', 'the decision was not an allow');
      const earlier = await tx.listAuditRecords({ decisionId, type: 'decision.outcome' }, { limit: 1 });
      if (earlier.items.length > 0)
        throw new MandateError('conflict', 'the outcome of this decision is recorded');
      const record = await this.ctx.audit.append(tx, {
        type: 'decision.outcome',
        actor: { kind: 'agent', id: agent.agentId },
        target: { type: 'decision', id: decisionId },
        refs: { agentId: agent.agentId, decisionId, delegationId: agent.token.claims.dlg },
        after: outcome,
      });
      return { seq: record.seq };
    });
  }

  /**
   * Records what happened after an allowed agent decision that an enforcement point asked for
   * (AuthZEN with the agent's credential): by that enforcement point's own key only (the
   * decision names it), in its own org, once, and never for a probe.
   */
  async recordOutcomeForEnforcementPoint(
    principal: OrgPrincipal,
    decisionId: string,
    outcome: OutcomeInput,
  ): Promise<{ seq: number }> {
    requirePermission(principal, 'decisions.evaluate');
    const seq = Number(decisionId);
    if (!Number.isSafeInteger(seq) || seq < 0) throw notFound('decision');
    return this.ctx.store.org(principal.orgId).transact(async (tx) => {
      const decision = await tx.getAuditRecord(seq);
      const after = decision?.after as
        | { kind?: string; result?: string; probe?: boolean; enforcementPoint?: Actor }
        | undefined;
      const askedBy = after?.enforcementPoint;
      if (
        decision?.type !== 'decision' ||
        after?.kind !== 'agent' ||
        askedBy?.kind !== principal.actor.kind ||
        askedBy.id !== principal.actor.id
      )
        throw notFound('decision');
      if (after.result !== 'allow' || after.probe === true)
        throw new MandateError('conflict', 'the decision was not an allow');
      const earlier = await tx.listAuditRecords({ decisionId, type: 'decision.outcome' }, { limit: 1 });
      if (earlier.items.length > 0)
        throw new MandateError('conflict', 'the outcome of this decision is recorded');
      const record = await this.ctx.audit.append(tx, {
        type: 'decision.outcome',
        actor: principal.actor,
        target: { type: 'decision', id: decisionId },
        refs: { ...decision.refs, decisionId },
        after: { ...outcome, reportedBy: 'enforcement_point' },
      });
      return { seq: record.seq };
    });
  }

  /**
   * An event an enforcement point observed and the audit log must hold (the MCP gateway's tool
   * pins: first seen, changed and blocked, accepted by an operator). Appended durably before
   * the answer, with the enforcement point as the actor.
   */
  async recordEnforcementEvent(
    principal: OrgPrincipal,
    event: EnforcementEventInput,
  ): Promise<{ seq: number }> {
    requirePermission(principal, 'decisions.evaluate');
    return this.ctx.store.org(principal.orgId).transact(async (tx) => {
      const record = await this.ctx.audit.append(tx, {
        type: event.type,
        actor: principal.actor,
        target: event.target,
        after: event.detail,
      });
      return { seq: record.seq };
    });
  }
}

/** The events an enforcement point may add to the audit log (a closed set). */
export const ENFORCEMENT_EVENT_TYPES = ['mcp.tool.pinned', 'mcp.tool.changed', 'mcp.tool.accepted'] as const;

export interface EnforcementEventInput {
  type: (typeof ENFORCEMENT_EVENT_TYPES)[number];
  target: { type: string; id: string };
  detail: Record<string, unknown>;
}
