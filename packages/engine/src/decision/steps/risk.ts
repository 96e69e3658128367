import { type AgentBaseline, EMPTY_BASELINE } from '../../risk/baseline.js';
import { assessRisk } from '../../risk/factors.js';
import { readRiskSettings } from '../../risk/risk-settings-service.js';
import type { StepDeps } from '../deps.js';
import type { DecisionStep } from '../types.js';

/**
 * The risk of this action now: a score 0–100 with its factors (risk/factors.ts), from the org's
 * weights and the agent's persisted baseline. At or above the org's deny threshold the action is
 * denied (`risk_too_high`); the approval step asks a human at or above the approval threshold.
 * The score and factors go to Cedar (`context.mandate.risk`) and into the record.
 */
export const risk = (deps: StepDeps): DecisionStep => ({
  name: 'risk',
  async run(request, state, now) {
    const { agent, orgId, delegations } = state;
    if (!agent || !orgId || !delegations)
      return { ok: false, reason: { code: 'internal_error', detail: 'no chain' } };
    const org = deps.ctx.store.org(orgId);
    const settings = await readRiskSettings(org);
    const baseline = (await org.getDocument<AgentBaseline>('baseline', agent.id))?.doc ?? EMPTY_BASELINE;
    const leaf = delegations[delegations.length - 1];
    state.riskSettings = settings;
    state.riskInput = {
      action: request.action,
      resource: `${request.resource.type}:${request.resource.id}`,
      dataClass: state.dataClass ?? 'public',
      depth: leaf?.depth ?? 0,
      args: request.arguments,
      untrustedInput: request.signals?.untrustedInput === true,
      agentCreatedAt: agent.createdAt,
      rootUserId: leaf?.rootUserId,
      now,
    };
    state.risk = assessRisk(state.riskInput, settings, baseline);
    if (state.risk.score >= settings.denyAt)
      return {
        ok: false,
        reason: {
          code: 'risk_too_high',
          detail: `risk ${state.risk.score} ≥ ${settings.denyAt}: ${state.risk.factors.map((f) => f.name).join(', ')}`,
        },
      };
    return { ok: true };
  },
});
