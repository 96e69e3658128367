import { dataClassWithin } from '../data-class.js';
import { type ArgumentConstraint, constraintContains } from './constraints.js';
import { patternSetContains, patternsOverlap } from './patterns.js';
import type { Scope, ScopeDimension } from './scope.js';

/** What a child asks for; every field left out is inherited from the parent unchanged. */
export type RequestedScope = Partial<Scope>;

export interface Widening {
  dimension: ScopeDimension;
  detail: string;
}

export type Attenuation = { ok: true; scope: Scope } | { ok: false; widenings: Widening[] };

/**
 * The child scope a parent may hand on, or every dimension in which `requested` would widen it.
 * Soundness: whatever the child covers, the parent covers (property-tested). Two rules make
 * that hold by construction: argument constraints and approval requirements of the parent are
 * always carried into the child (a child can add to them, never drop them), and every other
 * dimension of the child must be contained in the parent's.
 *
 * `redelegation` (default true): the child is a new hop, so the parent must allow one
 * (maxDepth ≥ 1) and the child gets at most maxDepth − 1. Narrowing a credential within one
 * delegation passes false.
 */
export function attenuate(
  parent: Scope,
  requested: RequestedScope,
  options: { redelegation?: boolean } = {},
): Attenuation {
  const redelegation = options.redelegation ?? true;
  const widenings: Widening[] = [];
  const widen = (dimension: ScopeDimension, detail: string) => widenings.push({ dimension, detail });

  const actions = requested.actions ?? parent.actions;
  if (!patternSetContains(parent.actions, actions))
    widen('action', 'asks for actions the parent was not given');

  const resources = requested.resources ?? parent.resources;
  if (!patternSetContains(parent.resources, resources))
    widen('resource', 'asks for resources the parent was not given');

  const dataClass = requested.dataClass ?? parent.dataClass;
  if (!dataClassWithin(dataClass, parent.dataClass))
    widen('data_class', `${dataClass} is above ${parent.dataClass}`);

  const environments = requested.environments ?? parent.environments;
  if (parent.environments !== undefined) {
    const outside = (environments ?? ['(any)']).filter((env) => !parent.environments?.includes(env));
    if (outside.length > 0) widen('environment', `not delegated: ${outside.join(', ')}`);
  }

  const args = mergeArguments(parent.arguments ?? {}, requested.arguments ?? {}, widen);
  const limits = mergeLimits(parent, requested, widen);

  const notBefore = requested.notBefore ?? parent.notBefore;
  if (
    parent.notBefore !== undefined &&
    !(notBefore !== undefined && Date.parse(notBefore) >= Date.parse(parent.notBefore))
  ) {
    widen('not_before', `starts before the parent (${parent.notBefore})`);
  }

  const expiresAt = requested.expiresAt ?? parent.expiresAt;
  if (!(Date.parse(expiresAt) <= Date.parse(parent.expiresAt))) {
    widen('expiry', `ends after the parent (${parent.expiresAt}) or is not a date`);
  }

  const depthCeiling = redelegation ? parent.maxDepth - 1 : parent.maxDepth;
  const maxDepth = requested.maxDepth ?? Math.max(0, depthCeiling);
  if (redelegation && parent.maxDepth < 1) widen('depth', 'the parent may not be re-delegated');
  else if (!(Number.isInteger(maxDepth) && maxDepth >= 0 && maxDepth <= depthCeiling)) {
    widen('depth', `at most ${depthCeiling} further re-delegations`);
  }

  const requireApproval = [
    ...new Set([...(parent.requireApproval ?? []), ...(requested.requireApproval ?? [])]),
  ];

  if (widenings.length > 0) return { ok: false, widenings };
  const scope: Scope = { actions, resources, dataClass, expiresAt, maxDepth };
  if (environments !== undefined) scope.environments = environments;
  if (Object.keys(args).length > 0) scope.arguments = args;
  if (Object.keys(limits).length > 0) scope.limits = limits;
  if (notBefore !== undefined) scope.notBefore = notBefore;
  if (requireApproval.length > 0) scope.requireApproval = requireApproval;
  return { ok: true, scope };
}

type ArgumentMap = Record<string, Record<string, ArgumentConstraint>>;

/** Parent's entries always stay; a requested entry may only be as strict or stricter where they meet. */
function mergeArguments(
  parent: ArgumentMap,
  requested: ArgumentMap,
  widen: (d: ScopeDimension, m: string) => void,
) {
  const merged: ArgumentMap = structuredClone(parent);
  for (const [pattern, constraints] of Object.entries(requested)) {
    for (const [name, constraint] of Object.entries(constraints)) {
      for (const [parentPattern, parentConstraints] of Object.entries(parent)) {
        const parentConstraint = parentConstraints[name];
        if (
          parentConstraint &&
          patternsOverlap(parentPattern, pattern) &&
          !constraintContains(parentConstraint, constraint)
        ) {
          widen('argument', `${name} for ${pattern} is looser than the parent's`);
        }
      }
      merged[pattern] = { ...(merged[pattern] ?? {}), [name]: constraint };
      // Same pattern and name: the requested (checked to be no looser) replaces the parent's.
    }
  }
  return merged;
}

function mergeLimits(
  parent: Scope,
  requested: RequestedScope,
  widen: (d: ScopeDimension, m: string) => void,
) {
  const p = parent.limits ?? {};
  const r = requested.limits ?? {};
  const limits: NonNullable<Scope['limits']> = {};
  for (const key of ['maxUses', 'ratePerMinute'] as const) {
    const value = r[key] ?? p[key];
    if (value === undefined) continue;
    if (p[key] !== undefined && !(value <= (p[key] as number)))
      widen('limits', `${key} above the parent's ${p[key]}`);
    limits[key] = value;
  }
  const budget = r.budget ?? p.budget;
  if (budget) {
    if (p.budget && (budget.argument !== p.budget.argument || !(budget.max <= p.budget.max))) {
      widen('limits', `budget must stay on ${p.budget.argument} and at most ${p.budget.max}`);
    }
    limits.budget = budget;
  }
  return limits;
}
