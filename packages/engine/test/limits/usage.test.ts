import type { Delegation } from '@mandate/core';
import { describe, expect, it } from 'vitest';
import { checkLimits, type DelegationUsage } from '../../src/limits/usage.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

function link(id: string, limits: Delegation['scope']['limits']): Delegation {
  return {
    id,
    orgId: 'org_x',
    rootUserId: 'usr_x',
    delegator: { kind: 'user', id: 'usr_x' },
    delegateAgentId: 'agt_x',
    purpose: 'p',
    scope: {
      actions: ['*'],
      resources: ['*'],
      dataClass: 'public',
      expiresAt: at(3_600_000).toISOString(),
      maxDepth: 1,
      ...(limits ? { limits } : {}),
    },
    depth: 0,
    chain: [id],
    status: 'active',
    createdAt: T0.toISOString(),
    createdBy: { kind: 'system', id: 'mandate' },
    version: 1,
  };
}

/** Applies allowed uses one after another, as the commit check does. */
function run(chain: Delegation[], amounts: unknown[], times: number[]) {
  const usages = new Map<string, DelegationUsage>();
  return amounts.map((amount, i) => {
    const verdict = checkLimits(chain, usages, { amount }, at(times[i] ?? 0));
    if (verdict.ok) for (const n of verdict.next) usages.set(n.delegationId, n.usage);
    return verdict.ok ? 'allow' : verdict.limit;
  });
}

describe('checkLimits', () => {
  it('a chain without limits consumes nothing', () => {
    const verdict = checkLimits([link('a', undefined)], new Map(), {}, T0);
    expect(verdict).toEqual({ ok: true, next: [], consumed: [] });
  });

  it('the rate window slides: a use older than a minute no longer counts', () => {
    const chain = [link('a', { ratePerMinute: 2 })];
    expect(run(chain, [1, 1, 1, 1], [0, 1_000, 59_999, 60_001])).toEqual(['allow', 'allow', 'rate', 'allow']);
  });

  it('every limited link of the chain is checked, the tightest wins, and all are consumed', () => {
    const chain = [
      link('root', { maxUses: 3 }),
      { ...link('leaf', { budget: { argument: 'amount', max: 10 } }), depth: 1 },
    ];
    expect(run(chain, [4, 4, 4, 1], [0, 1, 2, 3])).toEqual(['allow', 'allow', 'budget', 'allow']);
    // Above, the budget refusal took none of the root's uses (the fourth was allowed); here the root's limit stops the fourth.
    expect(run(chain, [1, 1, 1, 1], [0, 1, 2, 3])).toEqual(['allow', 'allow', 'allow', 'uses']);
  });

  it('budget amounts must be finite numbers ≥ 0', () => {
    const chain = [link('a', { budget: { argument: 'amount', max: 10 } })];
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5', null, undefined, { n: 1 }])
      expect(run(chain, [bad], [0])).toEqual(['budget']);
    expect(run(chain, [0, 10, 0], [0, 1, 2])).toEqual(['allow', 'allow', 'allow']);
  });
});
