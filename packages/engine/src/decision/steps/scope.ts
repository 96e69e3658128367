import { covers, type Scope } from '@mandate/core';
import type { DecisionStep } from '../types.js';

/** The scope the token carries covers the request (action, resource, data class, environment, arguments). */
export const scope = (): DecisionStep => ({
  name: 'scope',
  async run(request, state, now) {
    const detail = state.token?.claims.authorization_details?.[0];
    if (detail?.type !== 'mandate_scope' || typeof detail.scope !== 'object' || detail.scope === null)
      return { ok: false, reason: { code: 'token_invalid', detail: 'the token carries no scope' } };
    const carried = detail.scope as Scope;
    state.scope = carried;
    const coverage = covers(carried, {
      action: request.action,
      resource: `${request.resource.type}:${request.resource.id}`,
      dataClass: request.dataClass ?? 'public',
      environment: request.environment,
      arguments: request.arguments,
      at: now,
    });
    if (coverage.ok) return { ok: true };
    // A window that has passed is the delegation's expiry, not a scope the request missed.
    if (coverage.dimension === 'expiry' || coverage.dimension === 'not_before')
      return { ok: false, reason: { code: 'delegation_expired', detail: coverage.detail } };
    return {
      ok: false,
      reason: { code: 'out_of_scope', dimension: coverage.dimension, detail: coverage.detail },
    };
  },
});
