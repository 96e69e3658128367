import type { StepDeps } from '../deps.js';
import type { DecisionStep } from '../types.js';

/** The org is usable: it exists and is not locked (the kill switch of a later release sets the lock). */
export const orgLock = (deps: StepDeps): DecisionStep => ({
  name: 'org',
  async run(_request, state) {
    if (!state.orgId) return { ok: false, reason: { code: 'internal_error', detail: 'no org' } };
    const org = await deps.ctx.store.org(state.orgId).getOrg();
    if (!org) return { ok: false, reason: { code: 'chain_broken', detail: 'the org does not exist' } };
    // Only `active` is usable; any other status, known or not, stops every decision.
    if (org.status !== 'active')
      return { ok: false, reason: { code: 'org_locked', detail: `org is ${org.status}` } };
    return { ok: true };
  },
});
