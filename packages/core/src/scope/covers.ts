import { dataClassWithin } from '../data-class.js';
import { satisfies } from './constraints.js';
import { patternMatches } from './patterns.js';
import type { Scope, ScopeDimension, ScopeRequest } from './scope.js';

export type Coverage = { ok: true } | { ok: false; dimension: ScopeDimension; detail: string };

/**
 * Whether `scope` allows `request`, and if not, the first dimension that fails. Stateful limits
 * (uses, rate, budget) are not judged here: they need the store (see the limits step).
 */
export function covers(scope: Scope, request: ScopeRequest): Coverage {
  const now = request.at.getTime();
  if (scope.notBefore !== undefined && !(Date.parse(scope.notBefore) <= now)) {
    return { ok: false, dimension: 'not_before', detail: `not valid before ${scope.notBefore}` };
  }
  // An unreadable expiry counts as passed (fail closed).
  if (!(Date.parse(scope.expiresAt) > now)) {
    return { ok: false, dimension: 'expiry', detail: `expired at ${scope.expiresAt}` };
  }
  if (!scope.actions.some((pattern) => patternMatches(pattern, request.action))) {
    return { ok: false, dimension: 'action', detail: `action ${request.action} is not delegated` };
  }
  if (!scope.resources.some((pattern) => patternMatches(pattern, request.resource))) {
    return { ok: false, dimension: 'resource', detail: `resource ${request.resource} is not delegated` };
  }
  if (!dataClassWithin(request.dataClass, scope.dataClass)) {
    return {
      ok: false,
      dimension: 'data_class',
      detail: `${request.dataClass} data is above ${scope.dataClass}`,
    };
  }
  if (scope.environments !== undefined) {
    if (request.environment === undefined || !scope.environments.includes(request.environment)) {
      return {
        ok: false,
        dimension: 'environment',
        detail: `environment ${request.environment ?? '(none)'} is not delegated`,
      };
    }
  }
  for (const [pattern, constraints] of Object.entries(scope.arguments ?? {})) {
    if (!patternMatches(pattern, request.action)) continue;
    for (const [name, constraint] of Object.entries(constraints)) {
      const value = Object.hasOwn(request.arguments ?? {}, name) ? request.arguments?.[name] : undefined;
      if (!satisfies(constraint, value)) {
        return { ok: false, dimension: 'argument', detail: `argument ${name} is outside what was delegated` };
      }
    }
  }
  return { ok: true };
}

/** True when the request's action needs a human's approval under this scope. */
export function requiresApproval(scope: Scope, action: string): boolean {
  return (scope.requireApproval ?? []).some((pattern) => patternMatches(pattern, action));
}
