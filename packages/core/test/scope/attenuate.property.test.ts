import {
  type ArgumentConstraint,
  attenuate,
  covers,
  DATA_CLASSES,
  type RequestedScope,
  type Scope,
  type ScopeRequest,
} from '@mandate/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/**
 * Soundness of the scope algebra: if attenuate(parent, requested) succeeds, every request the
 * child covers is covered by the parent; and along a chain of any depth, nothing the last child
 * covers escapes the root.
 *
 * fast-check drives the cases, each from one random 32-bit seed expanded by a small PRNG into a
 * parent, a requested scope and requests (fast-check's structured generators made 100,000 cases
 * take minutes; this takes seconds, and a failing seed still reproduces the case exactly).
 * Names come from small universes so that random requests often hit.
 */
const ACTIONS = ['email.read', 'email.send', 'email.drafts.write', 'calendar.read', 'files.get'];
const ACTION_PATTERNS = ['*', 'email.*', 'email.drafts.*', 'calendar.*', ...ACTIONS];
const RESOURCES = ['mailbox:alice/inbox', 'mailbox:alice/sent', 'mailbox:bob/inbox', 'doc:1', 'doc:2'];
const RESOURCE_PATTERNS = ['*', 'mailbox:*', 'mailbox:alice/*', 'mailbox:bob/*', 'doc:*', ...RESOURCES];
const ENVS = ['prod', 'staging', 'dev'];
const VALUES = [-5, 0, 1, 10, 50, 99, 100, 105, 'a', 'ab', 'abc', 'b', 'xa', 'ax', ''];
const T0 = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;
const SEED = Number(process.env.FC_SEED ?? 20261128);

/** mulberry32: a tiny deterministic PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;
  const some = <T>(items: readonly T[], min: number, max: number): T[] => {
    const count = int(min, max);
    return [...new Set(Array.from({ length: count }, () => pick(items)))];
  };
  const chance = (p: number) => next() < p;
  return { int, pick, some, chance };
}
type Rng = ReturnType<typeof prng>;

const time = (hours: number) => new Date(T0 + hours * HOUR).toISOString();

function constraint(rng: Rng): ArgumentConstraint {
  const c: ArgumentConstraint = {};
  for (let i = rng.int(1, 2); i > 0; i--) {
    switch (rng.int(0, 6)) {
      case 0:
        c.eq = rng.pick(VALUES);
        break;
      case 1:
        c.in = rng.some(VALUES, 1, 4);
        break;
      case 2:
        c.min = rng.int(0, 100);
        break;
      case 3:
        c.max = rng.int(0, 100);
        break;
      case 4:
        c.prefix = rng.pick(['', 'a', 'ab']);
        break;
      case 5:
        c.suffix = rng.pick(['', 'b', 'x']);
        break;
      default:
        c.maxLength = rng.int(0, 4);
    }
  }
  return c;
}

function argumentMap(rng: Rng): Record<string, Record<string, ArgumentConstraint>> {
  const map: Record<string, Record<string, ArgumentConstraint>> = {};
  for (let i = rng.int(1, 2); i > 0; i--) {
    const entry: Record<string, ArgumentConstraint> = {};
    for (const name of rng.some(['amount', 'to'], 1, 2)) entry[name] = constraint(rng);
    map[rng.pick(ACTION_PATTERNS)] = entry;
  }
  return map;
}

function scope(rng: Rng, maxDepth = rng.int(0, 4)): Scope {
  const s: Scope = {
    actions: rng.some(ACTION_PATTERNS, 1, 3),
    resources: rng.some(RESOURCE_PATTERNS, 1, 3),
    dataClass: rng.pick(DATA_CLASSES),
    expiresAt: time(rng.int(1, 10)),
    maxDepth,
  };
  if (rng.chance(0.5)) s.environments = rng.some(ENVS, 0, 3);
  if (rng.chance(0.5)) s.arguments = argumentMap(rng);
  if (rng.chance(0.4)) s.notBefore = time(rng.int(-2, 2));
  return s;
}

/** Each field is asked for only now and then (otherwise inherited), so many requests attenuate. */
function requested(rng: Rng): RequestedScope {
  const r: RequestedScope = {};
  const p = 0.3;
  if (rng.chance(p)) r.actions = rng.some(ACTION_PATTERNS, 1, 2);
  if (rng.chance(p)) r.resources = rng.some(RESOURCE_PATTERNS, 1, 2);
  if (rng.chance(p)) r.dataClass = rng.pick(DATA_CLASSES);
  if (rng.chance(p)) r.environments = rng.some(ENVS, 0, 2);
  if (rng.chance(p)) r.arguments = argumentMap(rng);
  if (rng.chance(p)) r.notBefore = time(rng.int(-2, 3));
  if (rng.chance(p)) r.expiresAt = time(rng.int(1, 12));
  if (rng.chance(p)) r.maxDepth = rng.int(0, 4);
  return r;
}

function request(rng: Rng): ScopeRequest {
  const r: ScopeRequest = {
    action: rng.pick(ACTIONS),
    resource: rng.pick(RESOURCES),
    dataClass: rng.pick(DATA_CLASSES),
    arguments: {},
    at: new Date(T0 + rng.int(-3, 12) * HOUR + 1),
  };
  if (rng.chance(0.8)) r.environment = rng.pick(ENVS);
  if (rng.chance(0.8)) (r.arguments as Record<string, unknown>).amount = rng.pick(VALUES);
  if (rng.chance(0.8)) (r.arguments as Record<string, unknown>).to = rng.pick(VALUES);
  return r;
}

const seeds = fc.noShrink(fc.integer({ min: 0, max: 2 ** 31 - 1 }));

describe('scope algebra soundness (fast-check)', () => {
  it('100,000 cases: whatever an attenuated child covers, its parent covers', () => {
    let attenuated = 0;
    let coveredByChild = 0;
    fc.assert(
      fc.property(seeds, (seed) => {
        const rng = prng(seed);
        const parent = scope(rng);
        const result = attenuate(parent, requested(rng), { redelegation: false });
        if (!result.ok) return true;
        attenuated++;
        for (let i = 0; i < 5; i++) {
          const r = request(rng);
          if (!covers(result.scope, r).ok) continue;
          coveredByChild++;
          if (!covers(parent, r).ok) return false;
        }
        return true;
      }),
      { numRuns: 100_000, seed: SEED },
    );
    // Not vacuous: many attenuations succeed and many requests are covered by the child.
    expect(attenuated).toBeGreaterThan(20_000);
    expect(coveredByChild).toBeGreaterThan(3_000);
  });

  it('20,000 chains of up to 6 hops: the last child never covers more than the root', () => {
    let deepChains = 0;
    fc.assert(
      fc.property(seeds, (seed) => {
        const rng = prng(seed);
        const root = scope(rng, 6);
        let current = root;
        let depth = 0;
        for (let hop = rng.int(1, 6); hop > 0; hop--) {
          const next = attenuate(current, requested(rng));
          if (!next.ok) break;
          current = next.scope;
          depth++;
        }
        if (depth >= 3) deepChains++;
        for (let i = 0; i < 5; i++) {
          const r = request(rng);
          if (covers(current, r).ok && !covers(root, r).ok) return false;
        }
        return true;
      }),
      { numRuns: 20_000, seed: SEED },
    );
    expect(deepChains).toBeGreaterThan(500);
  });
});
