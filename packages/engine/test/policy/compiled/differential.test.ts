/**
 * Differential test: random Cedar policy texts, entity graphs and requests, evaluated by the
 * compiled engine and by cedar-wasm; the decision, determining and erroring policies must agree
 * (and a request cedar-wasm refuses must be refused). `FC_SEED=<n>` replays a run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PolicyEvaluator, PolicyParseError } from '../../../src/policy/evaluator.js';
import { outcome } from './helpers.js';

/** Cases are (policy set, entities, request) triples: each generated set is asked 5 requests (about 1 in 6 sets does not parse, hence the margin). */
const CASES = Number(process.env.FC_CASES ?? 20_000);
const PER_SET = 5;
const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;

const ids = ['a', 'b', 'c'];
const principals = ids.map((id) => ({ type: 'User', id }));
const groups = ['g1', 'g2', 'g3'].map((id) => ({ type: 'Group', id }));
const resources = ['d1', 'd2'].map((id) => ({ type: 'Doc', id }));
const actions = ['read', 'write', 'all'].map((id) => ({ type: 'Action', id }));
const text = (u: { type: string; id: string }) => `${u.type}::"${u.id}"`;

const INTS = [
  '0',
  '1',
  '-1',
  '7',
  '9007199254740991',
  '-9007199254740991',
  '4611686018427387904',
  '3037000500',
];
const STRS = ['"a"', '"ab"', '""', '"a*b"', '"b"', '"héllo"', '"x\\*y"'];
const PATTERNS = ['"a*"', '"*"', '"a\\*b"', '"*b*"', '""', '"h*o"', '"ab"', '"**a"'];
const IPS = [
  '"127.0.0.1"',
  '"10.0.0.0/8"',
  '"10.1.2.3"',
  '"::1"',
  '"ff02::1"',
  '"224.0.0.1/4"',
  '"1.2.3.4/33"',
  '"01.2.3.4"',
  '"::ffff:1.2.3.4"',
  '"fe80::/10"',
];
const DECS = ['"1.0"', '"-1.5"', '"0.0001"', '"1.00001"', '"922337203685477.5807"', '"1"', '"-0.1"'];
const DTS = [
  '"2024-01-01"',
  '"2024-02-29T12:00:00Z"',
  '"2023-02-29"',
  '"1969-12-31T23:59:59.999Z"',
  '"2024-01-01T00:00:00+0130"',
  '"2024-01-01T24:00:00Z"',
];
const DURS = ['"1h"', '"-1d2h"', '"1ms"', '"1d2h3m4s5ms"', '"1h1d"', '"-"', '"106751991167d"'];
const ATTRS = ['x', 'y', 'n', 's'];

const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => {
  const e = () => tie('e');
  const leaf = fc.oneof(
    fc.constantFrom(...INTS, ...STRS, 'true', 'false', 'principal', 'action', 'resource', 'context'),
    fc.constantFrom(...principals, ...groups, ...resources, ...actions).map(text),
    fc.constantFrom(...ATTRS).map((a) => `context.${a}`),
    fc.constantFrom(...ATTRS).map((a) => `principal.${a}`),
    fc.constantFrom(...ATTRS).map((a) => `resource.${a}`),
    fc.constantFrom(...IPS).map((s) => `ip(${s})`),
    fc.constantFrom(...DECS).map((s) => `decimal(${s})`),
    fc.constantFrom(...DTS).map((s) => `datetime(${s})`),
    fc.constantFrom(...DURS).map((s) => `duration(${s})`),
  );
  const boolLeaf = fc.oneof(
    fc.constantFrom(
      'true',
      'false',
      'context has x',
      'principal has n',
      'resource.x == 1',
      'context.x == true',
    ),
    fc.constantFrom(...groups).map((g) => `principal in ${text(g)}`),
    fc.constantFrom(...groups).map((g) => `resource in ${text(g)}`),
  );
  const bin = (op: string) => fc.tuple(e(), e()).map(([a, b]) => `(${a} ${op} ${b})`);
  const method = (m: string, arity: 0 | 1) =>
    arity === 0 ? e().map((a) => `(${a}).${m}()`) : fc.tuple(e(), e()).map(([a, b]) => `(${a}).${m}(${b})`);
  return {
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      leaf,
      boolLeaf,
      boolLeaf,
      ...['+', '-', '*', '==', '!=', '<', '<=', '>', '>=', '&&', '||', 'in'].map(bin),
      e().map((a) => `(-${a})`),
      e().map((a) => `(!${a})`),
      ...[
        'contains',
        'containsAll',
        'containsAny',
        'getTag',
        'hasTag',
        'lessThan',
        'greaterThanOrEqual',
        'isInRange',
        'offset',
        'durationSince',
      ].map((m) => method(m, 1)),
      ...[
        'isEmpty',
        'isIpv4',
        'isLoopback',
        'isMulticast',
        'toDate',
        'toTime',
        'toHours',
        'toMilliseconds',
      ].map((m) => method(m, 0)),
      fc.tuple(e(), fc.constantFrom(...ATTRS, 'x.y')).map(([a, b]) => `(${a} has ${b})`),
      fc.tuple(e(), fc.constantFrom(...ATTRS)).map(([a, b]) => `(${a}).${b}`),
      fc.tuple(e(), fc.constantFrom(...PATTERNS)).map(([a, p]) => `(${a} like ${p})`),
      fc.tuple(e(), fc.constantFrom('User', 'Group', 'Doc')).map(([a, t]) => `(${a} is ${t})`),
      fc.tuple(e(), e()).map(([a, b]) => `(${a} is User in ${b})`),
      fc.tuple(e(), e(), e()).map(([a, b, c]) => `(if ${a} then ${b} else ${c})`),
      fc.array(e(), { maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`),
      fc.tuple(e(), e()).map(([a, b]) => `{x: ${a}, y: ${b}}`),
    ),
  };
}).e;

const scope = (v: string, pool: { type: string; id: string }[], type: string) =>
  fc.oneof(
    fc.constant(v),
    fc.constantFrom(...pool).map((u) => `${v} == ${text(u)}`),
    fc.constantFrom(...groups, ...pool).map((u) => `${v} in ${text(u)}`),
    fc.constant(`${v} is ${type}`),
    fc.constantFrom(...groups).map((u) => `${v} is ${type} in ${text(u)}`),
  );
const actionScope = fc.oneof(
  fc.constant('action'),
  fc.constantFrom(...actions).map((u) => `action == ${text(u)}`),
  fc.constantFrom(...actions).map((u) => `action in ${text(u)}`),
  fc.subarray(actions, { minLength: 1 }).map((us) => `action in [${us.map(text).join(', ')}]`),
);
const condition = fc.tuple(fc.constantFrom('when', 'unless'), expr).map(([k, e]) => `${k} { ${e} }`);
const policy = fc
  .tuple(
    fc.constantFrom('permit', 'forbid'),
    scope('principal', principals, 'User'),
    actionScope,
    scope('resource', resources, 'Doc'),
    fc.array(condition, { maxLength: 2 }),
  )
  .map(([eff, p, a, r, cs]) => `${eff}(${p}, ${a}, ${r}) ${cs.join(' ')};`);

// Attribute values as JSON, including the escapes and implicit forms Cedar reads.
const json: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(0, 1, -1, 7, 9007199254740991, 'a', 'ab', '', 'a*b', true, false),
    fc.constantFrom(...principals, ...groups).map((u) => ({ __entity: u })),
    fc.constantFrom(...principals).map((u) => ({ ...u })),
    fc.constantFrom(
      { __extn: { fn: 'ip', arg: '10.0.0.1' } },
      { __extn: { fn: 'decimal', arg: '1.5' } },
      { __extn: { fn: 'datetime', arg: '2024-01-01' } },
      { __extn: { fn: 'duration', arg: '2h' } },
      {
        __extn: {
          fn: 'offset',
          args: [
            { __extn: { fn: 'datetime', arg: '1970-01-01' } },
            { __extn: { fn: 'duration', arg: '1d' } },
          ],
        },
      },
    ),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...ATTRS), tie('v'), { maxKeys: 3 }),
  ),
})).v;
const attrs = fc.dictionary(fc.constantFrom(...ATTRS), json, { maxKeys: 3 });
// Parents: users and docs in groups, groups in later groups, actions in `all`; a few random
// extra edges make cycles and non-action parents (both engines must then refuse).
const parentsOf = (u: { type: string; id: string }) => {
  if (u.type === 'Action') return u.id === 'all' ? [] : actions.filter((a) => a.id === 'all');
  if (u.type === 'Group') return groups.slice(groups.findIndex((g) => g.id === u.id) + 1);
  return groups;
};
const entity = (u: { type: string; id: string }) =>
  fc.record({
    uid: fc.constant(u),
    attrs,
    parents: fc.oneof(
      { weight: 19, arbitrary: fc.subarray(parentsOf(u)) },
      { weight: 1, arbitrary: fc.subarray([...groups, ...actions]) },
    ),
    tags: fc.option(attrs, { nil: undefined }),
  });
const entities = fc
  .tuple(
    ...[...principals, ...groups, ...resources, ...actions].map((u) =>
      fc.option(entity(u), { nil: undefined, freq: 3 }),
    ),
  )
  .map((es) =>
    es
      .filter((e) => e !== undefined)
      .map((e) => (e.tags === undefined ? { uid: e.uid, attrs: e.attrs, parents: e.parents } : e)),
  );

const request = fc.record({
  principal: fc.constantFrom(...principals, ...groups),
  action: fc.constantFrom(...actions),
  resource: fc.constantFrom(...resources, ...principals),
  context: attrs,
});

describe('compiled engine vs cedar-wasm (differential)', () => {
  it(`agrees on ${CASES} random policy sets, entity graphs and requests`, { timeout: 180_000 }, () => {
    console.log(`differential seed: ${seed} (replay with FC_SEED=${seed})`);
    let compared = 0;
    let compiledSets = 0;
    let byCompiled = 0;
    const kinds = { allow: 0, erroring: 0, refused: 0 };
    fc.assert(
      fc.property(
        fc.array(policy, { minLength: 1, maxLength: 5 }),
        entities,
        fc.array(request, { minLength: PER_SET, maxLength: PER_SET }),
        (ps, es, reqs) => {
          const text = ps.join('\n');
          let compiled: PolicyEvaluator;
          let wasm: PolicyEvaluator;
          try {
            compiled = new PolicyEvaluator(text, undefined, { slot: 'diff-compiled', engine: 'compiled' });
            wasm = new PolicyEvaluator(text, undefined, { slot: 'diff-wasm', engine: 'cedar-wasm' });
          } catch (error) {
            if (error instanceof PolicyParseError) return; // Cedar refuses the text: nothing to compare
            throw error;
          }
          if (compiled.engine === 'compiled') compiledSets++;
          for (const req of reqs) {
            const r = { ...req, entities: es };
            const got = outcome(compiled, r);
            expect(got).toEqual(outcome(wasm, r));
            compared++;
            if ('refused' in got) kinds.refused++;
            else {
              if (got.decision === 'allow') kinds.allow++;
              if (got.erroring.length > 0) kinds.erroring++;
            }
          }
          byCompiled += compiled.stats.compiled;
        },
      ),
      { numRuns: Math.ceil((CASES / PER_SET) * 1.25), seed },
    );
    console.log(
      `differential: ${compared} requests compared (${byCompiled} answered by the compiled engine), ` +
        `${compiledSets} sets compiled; ${kinds.allow} allow, ${kinds.erroring} with erroring policies, ${kinds.refused} refused`,
    );
    expect(compared).toBeGreaterThanOrEqual(CASES);
    expect(byCompiled).toBeGreaterThan(compared / 2);
  });
});
