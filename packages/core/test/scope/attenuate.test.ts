import {
  attenuate,
  constraintContains,
  covers,
  patternContains,
  requiresApproval,
  type Scope,
} from '@mandate/core';
import { describe, expect, it } from 'vitest';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
const iso = (minutes: number) => at(minutes).toISOString();

/** Alice grants agent A email.* on her mailbox, internal data, 2 hours, one further hop. */
const alice: Scope = {
  actions: ['email.*'],
  resources: ['mailbox:alice/*'],
  dataClass: 'internal',
  environments: ['prod'],
  arguments: { 'email.send': { to: { suffix: '@example.com' } } },
  limits: { maxUses: 100, ratePerMinute: 10, budget: { argument: 'cost', max: 50 } },
  expiresAt: iso(120),
  maxDepth: 1,
  requireApproval: ['email.delete'],
};

describe('attenuate: A re-delegates email.read to B', () => {
  it('narrows, inherits what is not asked for, and uses up one hop', () => {
    const result = attenuate(alice, { actions: ['email.read'] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.scope).toMatchObject({
      actions: ['email.read'],
      resources: ['mailbox:alice/*'],
      dataClass: 'internal',
      environments: ['prod'],
      maxDepth: 0,
      expiresAt: alice.expiresAt,
      requireApproval: ['email.delete'],
    });
    expect(result.scope.arguments).toEqual(alice.arguments);
    expect(
      covers(result.scope, {
        action: 'email.read',
        resource: 'mailbox:alice/inbox',
        dataClass: 'internal',
        environment: 'prod',
        at: at(1),
      }),
    ).toEqual({ ok: true });
    expect(
      covers(result.scope, {
        action: 'email.send',
        resource: 'mailbox:alice/inbox',
        dataClass: 'internal',
        environment: 'prod',
        at: at(1),
      }),
    ).toMatchObject({ ok: false, dimension: 'action' });
  });

  it.each([
    ['action', { actions: ['calendar.read'] }],
    ['action', { actions: ['*'] }],
    ['resource', { resources: ['mailbox:bob/*'] }],
    ['resource', { resources: ['mailbox:*'] }],
    ['data_class', { dataClass: 'confidential' }],
    ['environment', { environments: ['prod', 'staging'] }],
    ['argument', { arguments: { 'email.*': { to: { suffix: '.com' } } } }],
    ['limits', { limits: { maxUses: 101 } }],
    ['limits', { limits: { ratePerMinute: 11 } }],
    ['limits', { limits: { budget: { argument: 'cost', max: 51 } } }],
    ['limits', { limits: { budget: { argument: 'amount', max: 1 } } }],
    ['expiry', { expiresAt: iso(121) }],
    ['not_before', { notBefore: iso(-1), expiresAt: iso(60) }],
    ['depth', { maxDepth: 1 }],
  ] as const)('refuses widening %s and names the dimension', (dimension, requested) => {
    const parent = { ...alice, notBefore: iso(0) };
    const result = attenuate(parent, requested as never);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.widenings.map((w) => w.dimension)).toContain(dimension);
  });

  it('names every widening dimension at once', () => {
    const result = attenuate(alice, { actions: ['*'], dataClass: 'restricted', expiresAt: iso(500) });
    expect(result.ok ? [] : result.widenings.map((w) => w.dimension).sort()).toEqual([
      'action',
      'data_class',
      'expiry',
    ]);
  });

  it('a child of a leaf (maxDepth 0) is refused: depth', () => {
    const b = attenuate(alice, { actions: ['email.read'] });
    if (!b.ok) throw new Error('setup');
    const c = attenuate(b.scope, { actions: ['email.read'] });
    expect(c.ok ? [] : c.widenings.map((w) => w.dimension)).toEqual(['depth']);
  });

  it('narrowing a credential within one delegation does not use a hop', () => {
    const narrowed = attenuate(
      { ...alice, maxDepth: 0 },
      { actions: ['email.read'] },
      { redelegation: false },
    );
    expect(narrowed.ok).toBe(true);
  });

  it('an approval requirement can be added, never dropped', () => {
    const result = attenuate(alice, { requireApproval: ['email.send'] });
    if (!result.ok) throw new Error('setup');
    expect(requiresApproval(result.scope, 'email.delete')).toBe(true);
    expect(requiresApproval(result.scope, 'email.send')).toBe(true);
    expect(requiresApproval(alice, 'email.send')).toBe(false);
  });
});

describe('covers', () => {
  const base = {
    action: 'email.send',
    resource: 'mailbox:alice/outbox',
    dataClass: 'internal' as const,
    environment: 'prod',
    at: at(10),
  };
  it.each([
    ['not_before', { ...base, at: at(-10) }, { ...alice, notBefore: iso(0) }],
    ['expiry', { ...base, at: at(120) }, alice],
    ['resource', { ...base, resource: 'mailbox:alice' }, alice],
    ['data_class', { ...base, dataClass: 'restricted' as const }, alice],
    ['environment', { ...base, environment: undefined }, alice],
    ['argument', { ...base, arguments: { to: 'eve@evil.test' } }, alice],
    ['argument', { ...base, arguments: {} }, alice],
  ])('fails on %s', (dimension, request, scope) => {
    expect(covers(scope as Scope, request)).toMatchObject({ ok: false, dimension });
  });

  it('an expiry that is not a date counts as passed', () => {
    expect(
      covers({ ...alice, expiresAt: 'soon' }, { ...base, arguments: { to: 'bob@example.com' } }),
    ).toMatchObject({ ok: false, dimension: 'expiry' });
  });

  it('allows a request that meets every dimension', () => {
    expect(covers(alice, { ...base, arguments: { to: 'bob@example.com' } })).toEqual({ ok: true });
  });
});

describe('patternContains', () => {
  it.each([
    ['*', 'email.*', true],
    ['email.*', 'email.drafts.*', true],
    ['email.*', 'email.read', true],
    ['email.*', 'email', false],
    ['email.*', '*', false],
    ['email.read', 'email.*', false],
    ['mailbox:alice/*', 'mailbox:alice/inbox/2026', true],
    ['mailbox:alice/*', 'mailbox:alicebob/x', false],
    ['doc:*', 'doc:1', true],
    ['doc:*', 'docs:1', false],
  ])('%s ⊇ %s is %s', (outer, inner, expected) => {
    expect(patternContains(outer, inner)).toBe(expected);
  });
});

describe('constraintContains', () => {
  it.each([
    [{ max: 100 }, { max: 50 }, true],
    [{ max: 100 }, { max: 150 }, false],
    [{ max: 100 }, {}, false],
    [{ max: 100 }, { eq: 20 }, true],
    [{ max: 100 }, { in: [20, 200] }, false],
    [{ in: ['a', 'b'] }, { eq: 'a' }, true],
    [{ in: ['a', 'b'] }, { prefix: 'a' }, false],
    [{ prefix: 'ab' }, { prefix: 'abc' }, true],
    [{ prefix: 'abc' }, { prefix: 'ab' }, false],
    [{ suffix: '.com' }, { suffix: '@example.com' }, true],
    [{ maxLength: 5 }, { maxLength: 3 }, true],
    [{ maxLength: 3 }, { eq: 'abcd' }, false],
    [{ eq: 1 }, { min: 1, max: 1 }, false],
  ])('%j ⊇ %j is %s', (outer, inner, expected) => {
    expect(constraintContains(outer, inner)).toBe(expected);
  });
});
