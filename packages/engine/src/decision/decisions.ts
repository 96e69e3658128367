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
   * Records what happened after an allowed decision, linked to it: once, and only by the agent
   * the decision was about.
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
      const after = decision?.after as { kind?: string; result?: string } | undefined;
      if (decision?.type !== 'decision' || after?.kind !== 'agent' || decision.actor.id !== agent.agentId)
        throw notFound('decision');
      if (after.result !== 'allow') throw new MandateError('conflict', 'the decision was not an allow');
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
}
