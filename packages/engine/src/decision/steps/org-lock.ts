import { activeLocks, lockVerdict } from '../../killswitch/locks.js';
import type { StepDeps } from '../deps.js';
import type { DecisionStep } from '../types.js';

/** The org is usable: it exists, its status is active, and no kill-switch lock holds it. */
export const orgLock = (deps: StepDeps): DecisionStep => ({
  name: 'org',
  async run(_request, state) {
    if (!state.orgId) return { ok: false, reason: { code: 'internal_error', detail: 'no org' } };
    const store = deps.ctx.store.org(state.orgId);
    const org = await store.getOrg();
    if (!org) return { ok: false, reason: { code: 'chain_broken', detail: 'the org does not exist' } };
    // Only `active` is usable; any other status, known or not, stops every decision.
    if (org.status !== 'active')
      return { ok: false, reason: { code: 'org_locked', detail: `org is ${org.status}` } };
    // Locks on agents and owners are the chain step's (it knows every agent of the chain).
    const locked = lockVerdict(await activeLocks(store), state.orgId, []);
    if (locked) return { ok: false, reason: { code: locked.reason, detail: locked.detail } };
    return { ok: true };
  },
});
