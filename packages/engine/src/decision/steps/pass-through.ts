import type { DecisionStep } from '../types.js';

/**
 * Limits (uses, rate, budget along the chain), risk (score and factors) and approval are real
 * steps of the table that pass every request through for now: the live-context release fills in
 * their behaviour without touching the pipeline.
 */
export const limits = (): DecisionStep => ({ name: 'limits', run: async () => ({ ok: true }) });

export const risk = (): DecisionStep => ({
  name: 'risk',
  async run(_request, state) {
    state.risk = { score: 0, factors: [] };
    return { ok: true };
  },
});

export const approval = (): DecisionStep => ({ name: 'approval', run: async () => ({ ok: true }) });
