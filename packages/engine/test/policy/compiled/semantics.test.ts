/**
 * The compiled engine's Cedar semantics, case by case: each answer must equal cedar-wasm's on the
 * same request (decision, determining and erroring policies, refusals).
 */
import { describe, expect, it } from 'vitest';
import { compilePolicySet } from '../../../src/policy/compiled/policy-set.js';
import {
  getDefaultPolicyEngine,
  PolicyEvaluator,
  setDefaultPolicyEngine,
} from '../../../src/policy/evaluator.js';
import { both, uid } from './helpers.js';

const entities = [
  {
    uid: uid('User', 'alice'),
    attrs: { age: 30, name: 'alice', tags: ['a', 'b'], addr: { city: 'x' } },
    parents: [uid('Group', 'staff')],
    tags: { level: 3 },
  },
  { uid: uid('Group', 'staff'), attrs: {}, parents: [uid('Group', 'all')] },
  { uid: uid('Group', 'all'), attrs: {}, parents: [] },
  {
    uid: uid('Doc', 'd1'),
    attrs: { owner: { __entity: uid('User', 'alice') }, ip: { __extn: { fn: 'ip', arg: '10.0.0.1' } } },
    parents: [uid('Folder', 'f')],
  },
  { uid: uid('Action', 'read'), attrs: {}, parents: [uid('Action', 'any')] },
];

const cases: Array<[string, string]> = [
  [
    'forbid wins',
    'permit(principal, action, resource); forbid(principal in Group::"all", action, resource);',
  ],
  ['default deny', 'permit(principal == User::"bob", action, resource);'],
  [
    'erroring policies are skipped',
    'permit(principal, action, resource) when { principal.nope }; permit(principal, action, resource) when { 1 };',
  ],
  [
    'error in a forbid does not deny',
    'forbid(principal, action, resource) when { resource.owner.missing == 1 }; permit(principal, action, resource);',
  ],
  [
    'i64 overflow is an error',
    'permit(principal, action, resource) when { 9007199254740991 * 1024 * 1024 > 0 };',
  ],
  [
    'beyond 2^53 within i64 is exact',
    'permit(principal, action, resource) when { (9007199254740991 * 2 + 1) - 9007199254740991 * 2 == 1 && 9007199254740991 * 1024 > 9007199254740991 * 1023 + 9007199254740990 };',
  ],
  [
    'negation overflow',
    'permit(principal, action, resource) when { -(-9007199254740991 * 1024 * 1024 - 1) > 0 };',
  ],
  [
    'like with wildcards and escapes',
    'permit(principal, action, resource) when { "a*b" like "a\\*b" && "héllo" like "h*o" && !("ab" like "a") };',
  ],
  [
    'in is transitive, over sets too',
    'permit(principal in Group::"all", action in [Action::"any"], resource) when { principal in [Group::"x", Group::"all"] };',
  ],
  [
    'in with a non-entity in the set is an error',
    'permit(principal, action, resource) when { principal in [Group::"all", 1] };',
  ],
  [
    'has, nested has, missing entity',
    'permit(principal, action, resource) when { principal has addr.city && !(User::"nobody" has age) };',
  ],
  [
    'attribute of a missing entity is an error',
    'permit(principal, action, resource) when { User::"nobody".age == 1 };',
  ],
  [
    'is and is-in',
    'permit(principal is User in Group::"all", action, resource is Doc) when { resource is Doc in Folder::"f" };',
  ],
  [
    '&& and || short-circuit; non-booleans are errors',
    'permit(principal, action, resource) when { false && 1 }; permit(principal, action, resource) when { true || 1 }; permit(principal, action, resource) when { true && 1 };',
  ],
  [
    '== across types and structural equality',
    'permit(principal, action, resource) when { 1 != "1" && [1, [2]] == [[2], 1, 1] && {a: 1, b: [2]} == {b: [2], a: 1} && decimal("1.0") == decimal("1.0000") };',
  ],
  ['if-then-else', 'permit(principal, action, resource) when { if principal.age > 18 then true else 1 };'],
  [
    'contains, containsAll, containsAny, isEmpty',
    'permit(principal, action, resource) when { principal.tags.contains("a") && principal.tags.containsAll(["b"]) && principal.tags.containsAny(["z", "a"]) && ![].isEmpty() == false };',
  ],
  [
    'tags',
    'permit(principal, action, resource) when { principal.hasTag("level") && principal.getTag("level") == 3 }; permit(principal, action, resource) when { principal.getTag("nope") == 1 };',
  ],
  ['decimal', 'permit(principal, action, resource) when { decimal("1.5").lessThan(decimal("1.50001")) };'],
  [
    'decimal comparisons',
    'permit(principal, action, resource) when { decimal("-1.5").lessThanOrEqual(decimal("-1.5")) && decimal("2.0").greaterThan(decimal("1.9999")) };',
  ],
  [
    'ip',
    'permit(principal, action, resource) when { resource.ip.isInRange(ip("10.0.0.0/8")) && ip("127.0.0.1").isLoopback() && ip("ff02::1").isMulticast() && ip("::1").isIpv6() };',
  ],
  ['bad ip string is an error', 'permit(principal, action, resource) when { ip("01.2.3.4").isIpv4() };'],
  [
    'datetime and duration',
    'permit(principal, action, resource) when { datetime("2024-01-01T10:00:00+0100").offset(duration("1h")) == datetime("2024-01-01T10:00:00Z") && datetime("2024-03-01").durationSince(datetime("2024-02-28")).toDays() == 2 && datetime("1969-12-31T23:00:00Z").toTime() == duration("23h") && datetime("1969-12-31T23:00:00Z").toDate() == datetime("1969-12-31") && duration("-1d2h").toHours() == -26 && datetime("2024-01-01") < datetime("2024-01-02") };',
  ],
  [
    'invalid dates are errors',
    'permit(principal, action, resource) when { datetime("2023-02-29") == datetime("2023-03-01") };',
  ],
  [
    '< on decimals is an error',
    'permit(principal, action, resource) when { decimal("1.0") < decimal("2.0") };',
  ],
];

describe('compiled engine: Cedar semantics, each equal to cedar-wasm', () => {
  it.each(cases)('%s', (_name, policies) => {
    const { compiled, wasm, evaluator } = both(policies, { entities, context: { n: 1 } });
    expect(evaluator.engine).toBe('compiled');
    expect(evaluator.stats.compiled).toBe(1);
    expect(compiled).toEqual(wasm);
  });

  it('refuses what cedar-wasm refuses (a fractional number, a cycle, an action with a non-action parent)', () => {
    const p = 'permit(principal, action, resource);';
    for (const bad of [
      [{ uid: uid('User', 'alice'), attrs: { x: 1.5 }, parents: [] }],
      [
        { uid: uid('Group', 'a'), attrs: {}, parents: [uid('Group', 'b')] },
        { uid: uid('Group', 'b'), attrs: {}, parents: [uid('Group', 'a')] },
      ],
      [{ uid: uid('Action', 'read'), attrs: {}, parents: [uid('Group', 'a')] }],
    ]) {
      const { compiled, wasm } = both(p, { entities: bad });
      expect(wasm).toEqual({ refused: true });
      expect(compiled).toEqual(wasm);
    }
  });

  it('a template: refused at construction by both engines; the compiler reports it not compilable', () => {
    const text = 'permit(principal == ?principal, action, resource);';
    for (const engine of ['compiled', 'cedar-wasm'] as const)
      expect(() => new PolicyEvaluator(text, undefined, { slot: 'unit-template', engine })).toThrow(
        /template/,
      );
    expect(compilePolicySet(text)).toEqual({ ok: false, reason: 'not compilable: the set has templates' });
  });

  it('an integer literal beyond 2^53 falls back (its JSON form is rounded)', () => {
    const { compiled, wasm, evaluator } = both(
      'permit(principal, action, resource) when { 9223372036854775807 > 0 };',
      {},
    );
    expect(evaluator.engine).toBe('cedar-wasm');
    expect(compiled).toEqual(wasm);
  });

  it('the default engine can be switched', () => {
    expect(getDefaultPolicyEngine()).toBe('compiled');
    setDefaultPolicyEngine('cedar-wasm');
    try {
      expect(
        new PolicyEvaluator('permit(principal, action, resource);', undefined, { slot: 'unit-default' })
          .engine,
      ).toBe('cedar-wasm');
    } finally {
      setDefaultPolicyEngine('compiled');
    }
    expect(
      new PolicyEvaluator('permit(principal, action, resource);', undefined, { slot: 'unit-default' }).engine,
    ).toBe('compiled');
  });
});
