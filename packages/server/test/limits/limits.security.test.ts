/**
 * Limits (issue: live context): a delegation's maxUses, ratePerMinute and budget hold along the
 * whole chain and under any concurrency. A denied request consumes nothing; a use by a
 * sub-agent counts against every limited link above it.
 */
import type { IssuedToken } from '@mandate/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../harness.js';
import { activeAgent, HOUR, startOAuthApp, type TestAgent } from '../oauth/helpers.js';

let t: TestApp;
let close: () => Promise<void>;
let aliceId: string;

const BOUNDARIES = {
  actions: ['pay.*', 'doc.*'],
  resources: ['*'],
  maxDataClass: 'internal',
  maxDelegationDepth: 2,
};
const pay = (amount: unknown) => ({
  action: 'pay.send',
  resource: { type: 'account', id: 'acme' },
  dataClass: 'internal',
  arguments: { amount },
});

beforeAll(async () => {
  ({ t, close } = await startOAuthApp());
  aliceId = (await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } })).body.id;
});
afterAll(async () => close?.());

async function limited(name: string, limits: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const agent = await activeAgent(t, aliceId, name, BOUNDARIES);
  const granted = await t.call('POST', '/v1/delegations', {
    key: t.adminKey,
    body: {
      delegateAgentId: agent.id,
      purpose: 'pay invoices',
      onBehalfOf: aliceId,
      scope: {
        actions: ['pay.*', 'doc.*'],
        resources: ['*'],
        dataClass: 'internal',
        expiresAt: new Date(t.clock.now().getTime() + HOUR).toISOString(),
        limits,
        maxDepth: 1,
        ...extra,
      },
    },
  });
  expect(granted.status, granted.text).toBe(201);
  const token = await agent.creds.exchange({ delegation: granted.body.id });
  return { agent, token, delegationId: granted.body.id as string };
}

const decide = (agent: TestAgent, token: IssuedToken, request: Record<string, unknown>) =>
  agent.creds.decide(token, request as never);

describe('each limit, on its own', () => {
  it('maxUses: the n+1-th use is limit_exceeded (uses); denied requests consume nothing', async () => {
    const { agent, token } = await limited('three-uses', { maxUses: 3 });
    // Out of scope (another data class): denied before limits, so it takes no use.
    const outside = await decide(agent, token, { ...pay(1), dataClass: 'restricted' });
    expect(outside.decision).toBe('deny');
    for (let i = 0; i < 3; i++) expect((await decide(agent, token, pay(1))).decision).toBe('allow');
    expect(await decide(agent, token, pay(1))).toMatchObject({
      decision: 'deny',
      reasons: [{ code: 'limit_exceeded', limit: 'uses' }],
    });
  });

  it('a use denied by policy takes nothing from the limit', async () => {
    const { agent, token } = await limited('policy-denied', { maxUses: 1 });
    // The baseline forbids nothing here; a published forbid on doc.delete denies after limits.
    const published = await t.call('POST', '/v1/policies', {
      key: t.adminKey,
      body: {
        policies:
          'permit (principal, action, resource) when { context.mandate.delegated == true };\n' +
          'forbid (principal, action == Action::"doc.delete", resource);',
      },
    });
    expect(published.status, published.text).toBe(201);
    try {
      const denied = await decide(agent, token, { action: 'doc.delete', resource: { type: 'doc', id: 'x' } });
      expect(denied.reasons[0]?.code).toBe('policy_denied');
      expect((await decide(agent, token, pay(1))).decision).toBe('allow');
    } finally {
      await t.call('POST', '/v1/policies/0/activate', { key: t.adminKey, body: { reason: 'reset' } });
    }
  });

  it('ratePerMinute: a third use within the minute is refused', async () => {
    const { agent, token } = await limited('two-a-minute', { ratePerMinute: 2 });
    expect((await decide(agent, token, pay(1))).decision).toBe('allow');
    expect((await decide(agent, token, pay(1))).decision).toBe('allow');
    expect(await decide(agent, token, pay(1))).toMatchObject({
      reasons: [{ code: 'limit_exceeded', limit: 'rate' }],
    });
    // 59 s on: still within the minute. (Kept under 60 s: the agent's DPoP proofs use real time.)
    t.clock.advance(59_000);
    expect((await decide(agent, token, pay(1))).reasons[0]?.limit).toBe('rate');
  });

  it('budget: the sum of the argument never exceeds the budget; a bad amount is refused', async () => {
    const { agent, token } = await limited('budgeted', { budget: { argument: 'amount', max: 100 } });
    expect((await decide(agent, token, pay(60))).decision).toBe('allow');
    expect(await decide(agent, token, pay(41))).toMatchObject({
      reasons: [{ code: 'limit_exceeded', limit: 'budget' }],
    });
    for (const bad of [-5, 'ten', null])
      expect((await decide(agent, token, pay(bad))).reasons[0]).toMatchObject({
        code: 'limit_exceeded',
        limit: 'budget',
      });
    expect(await decide(agent, token, { ...pay(1), arguments: {} })).toMatchObject({
      reasons: [{ code: 'limit_exceeded', limit: 'budget' }],
    });
    expect((await decide(agent, token, pay(40))).decision).toBe('allow');
    expect((await decide(agent, token, pay(0.5))).reasons[0]?.limit).toBe('budget');
  });

  it('the record holds what each allowed use consumed', async () => {
    const { agent, token, delegationId } = await limited('recorded', {
      maxUses: 5,
      budget: { argument: 'amount', max: 50 },
    });
    const answer = await decide(agent, token, pay(20));
    const record = await t.call('GET', `/v1/audit/events/${answer.decisionId}`, { key: t.adminKey });
    expect(record.body.after.limits).toEqual([
      { delegationId, uses: 1, maxUses: 5, spent: 20, budget: { argument: 'amount', max: 50 } },
    ]);
  });
});

describe('along the chain', () => {
  it("a sub-agent's uses count against its parent's limits too", async () => {
    const parent = await limited('parent', { maxUses: 2 });
    const child = await activeAgent(t, aliceId, 'child', BOUNDARIES);
    const sub = await parent.agent.creds.redelegate(parent.token, parent.delegationId, {
      delegateAgentId: child.id,
      purpose: 'help pay',
      scope: { actions: ['pay.send'] },
    });
    const childToken = await child.creds.exchange({
      subjectToken: parent.token.access_token,
      delegation: sub.id,
    });
    expect((await decide(child, childToken, pay(1))).decision).toBe('allow');
    expect((await decide(parent.agent, parent.token, pay(1))).decision).toBe('allow');
    // The parent's two uses are spent, by either of them.
    expect(await decide(child, childToken, pay(1))).toMatchObject({
      reasons: [{ code: 'limit_exceeded', limit: 'uses' }],
    });
    expect((await decide(parent.agent, parent.token, pay(1))).reasons[0]?.limit).toBe('uses');
  });
});

describe('under concurrency', () => {
  it('200 parallel requests never overspend a use limit or a budget', async () => {
    const { agent, token } = await limited('crowd', {
      maxUses: 50,
      budget: { argument: 'amount', max: 300 },
    });
    const amounts = Array.from({ length: 200 }, (_, i) => 1 + (i % 10));
    const answers = await Promise.all(amounts.map((amount) => decide(agent, token, pay(amount))));
    const allowed = answers.flatMap((a, i) => (a.decision === 'allow' ? [amounts[i] as number] : []));
    expect(allowed.length).toBeLessThanOrEqual(50);
    expect(allowed.reduce((sum, n) => sum + n, 0)).toBeLessThanOrEqual(300);
    // Not vacuous: the limits were reached, and every other answer says which limit.
    expect(allowed.length).toBeGreaterThan(0);
    const denied = answers.filter((a) => a.decision !== 'allow');
    expect(denied.length).toBeGreaterThan(0);
    for (const a of denied) expect(a.reasons[0]).toMatchObject({ code: 'limit_exceeded' });
    // The audit log agrees: exactly as many allow records as allowed answers.
    const records = await t.call('GET', `/v1/audit/events?type=decision&agent=${agent.id}&limit=200`, {
      key: t.adminKey,
    });
    expect(
      records.body.items.filter((r: { after: { result: string } }) => r.after.result === 'allow').length,
    ).toBe(allowed.length);
  });
});
