import { covers, DATA_CLASSES, type DataClass, dataClassWithin, type Scope } from '@mandate/core';
import type { StepDeps } from '../deps.js';
import type { DecisionStep } from '../types.js';

/**
 * The scope the token carries covers the request (action, resource, data class, environment,
 * arguments). The data class is the higher of what the caller declared and the resource's
 * stored `dataClass` attribute (an unknown stored class counts as restricted): an agent cannot
 * lower it by leaving it out.
 */
export const scope = (deps: StepDeps): DecisionStep => ({
  name: 'scope',
  async run(request, state, now) {
    const detail = state.token?.claims.authorization_details?.[0];
    if (detail?.type !== 'mandate_scope' || typeof detail.scope !== 'object' || detail.scope === null)
      return { ok: false, reason: { code: 'token_invalid', detail: 'the token carries no scope' } };
    const carried = detail.scope as Scope;
    state.scope = carried;
    // Scope patterns see `type:id` and match by prefix: a type with `:` or an id with a `..`
    // segment could pass for what a pattern names. Every entry point (native, AuthZEN) gets this.
    const problem = resourceProblem(request.resource);
    if (problem)
      return { ok: false, reason: { code: 'out_of_scope', dimension: 'resource', detail: problem } };
    const stored = state.orgId
      ? await deps.ctx.store.org(state.orgId).getEntity(request.resource.type, request.resource.id)
      : undefined;
    const dataClass = higher(request.dataClass ?? 'public', storedClass(stored?.attrs.dataClass));
    state.dataClass = dataClass;
    const coverage = covers(carried, {
      action: request.action,
      resource: `${request.resource.type}:${request.resource.id}`,
      dataClass,
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

function storedClass(value: unknown): DataClass {
  if (value === undefined) return 'public';
  return (DATA_CLASSES as readonly unknown[]).includes(value) ? (value as DataClass) : 'restricted';
}

const higher = (a: DataClass, b: DataClass): DataClass => (dataClassWithin(a, b) ? b : a);

const PLAIN_TYPE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

function resourceProblem(resource: { type: unknown; id: unknown }): string | undefined {
  if (typeof resource.type !== 'string' || !PLAIN_TYPE.test(resource.type))
    return 'the resource type must be one plain name (letters, digits, _)';
  if (typeof resource.id !== 'string' || resource.id === '' || resource.id.length > 1024)
    return 'the resource id must be 1 to 1024 characters';
  if (resource.id.split('/').includes('..')) return 'the resource id has a .. path segment';
  return undefined;
}
