/**
 * Review fixes: an agent cannot flood approvers with requests, and the webhook's URL is recorded
 * without its query (which often carries a token) in the audit log.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from '../harness.js';
import { chainFor } from './helpers.js';

let t: TestApp;
let rootUserId: string;

beforeAll(async () => {
  t = await startTestApp();
  rootUserId = (await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Root' } })).body
    .id;
});
afterAll(async () => t?.close());

it('an agent has at most 20 requests pending: past that, nothing is filed and the call is denied', async () => {
  const chain = await chainFor(t, rootUserId);
  const pay = (amount: number) => ({
    action: 'pay.send',
    resource: { type: 'account', id: 'acme' },
    arguments: { amount },
  });
  const ids = new Set<string>();
  for (let i = 1; i <= 20; i++) {
    const answer = await chain.ask(pay(i));
    expect(answer.decision).toBe('approval_required');
    ids.add(answer.approval?.id as string);
  }
  expect(ids.size).toBe(20);
  const flooded = await chain.ask(pay(21));
  expect(flooded.decision).toBe('deny');
  expect(flooded.reasons[0]).toMatchObject({ code: 'approval_required' });
  expect(flooded.reasons[0]?.detail).toMatch(/not filed/);
  expect(flooded.approval).toBeUndefined();
  const pending = await t.call('GET', '/v1/approvals?status=pending&limit=200', { key: t.adminKey });
  expect(pending.body.items.filter((a: { agentId: string }) => a.agentId === chain.agent.id)).toHaveLength(
    20,
  );
  // Asking again for one already pending still finds its request.
  expect((await chain.ask(pay(5))).decision).toBe('approval_required');
});

it('the audit record of a webhook change holds its origin and path, not its query', async () => {
  const set = await t.call('PUT', '/v1/approvals/webhook', {
    key: t.adminKey,
    body: { url: 'https://hooks.example.com/mandate?token=s3cr3t' },
  });
  expect(set.status, set.text).toBe(200);
  const events = await t.call('GET', '/v1/audit/events?type=webhook.configured', { key: t.adminKey });
  const record = events.body.items.at(-1);
  expect(record.after).toEqual({ url: 'https://hooks.example.com/mandate' });
  expect(JSON.stringify(events.body)).not.toContain('s3cr3t');
});

it('a pending request can be cancelled (by an operator); the next call files a fresh one', async () => {
  const chain = await chainFor(t, rootUserId);
  const pay = { action: 'pay.send', resource: { type: 'account', id: 'acme' }, arguments: { amount: 1 } };
  const first = await chain.ask(pay);
  const operator = (
    await t.call('POST', '/v1/api-keys', { key: t.adminKey, body: { name: 'op', roles: ['operator'] } })
  ).body.secret;
  const cancelled = await t.call('POST', `/v1/approvals/${first.approval?.id}/cancel`, {
    key: operator,
    body: { comment: 'task abandoned' },
  });
  expect(cancelled.status, cancelled.text).toBe(200);
  expect(cancelled.body.status).toBe('cancelled');
  // Cancelled is final: it cannot be approved afterwards.
  const late = await t.call('POST', `/v1/approvals/${first.approval?.id}/approve`, {
    key: t.adminKey,
    body: {},
  });
  expect(late.status).toBeGreaterThanOrEqual(403);
  const again = await chain.ask(pay);
  expect(again.decision).toBe('approval_required');
  expect(again.approval?.id).not.toBe(first.approval?.id);
  const events = await t.call('GET', '/v1/audit/events?type=approval.cancelled', { key: t.adminKey });
  expect(events.body.items.at(-1)).toMatchObject({
    target: { id: first.approval?.id },
    reason: 'task abandoned',
  });
});

it('lapsed requests stop counting: after more than 1,000 expired requests the org still files new ones', async () => {
  // 52 rounds of 20 requests, each round left to expire (10 minutes), so that more lapsed
  // requests exist than one scan of the pending list reads (1,000). Before they were re-tagged
  // `expired` in the store, the scan overflowed and nothing could be filed again in the org.
  const chain = await chainFor(t, rootUserId, { hours: 12 });
  const pay = (amount: number) => ({
    action: 'pay.send',
    resource: { type: 'account', id: 'lapsed' },
    arguments: { amount },
  });
  const started = t.clock.now().getTime();
  // The agent signs its assertions and proofs with Date: keep it at the server's test clock.
  vi.useFakeTimers({ toFake: ['Date'] });
  let fresh: Awaited<ReturnType<typeof chain.ask>>;
  try {
    for (let round = 0; round < 52; round++) {
      vi.setSystemTime(t.clock.now());
      await chain.refresh();
      for (let i = 1; i <= 20; i++) {
        const answer = await chain.ask(pay(i));
        expect(answer.decision, `round ${round}, request ${i}`).toBe('approval_required');
      }
      t.clock.advance(11 * 60_000);
    }
    vi.setSystemTime(t.clock.now());
    await chain.refresh();
    fresh = await chain.ask(pay(1000));
  } finally {
    vi.useRealTimers();
    t.clock.advance(started - t.clock.now().getTime());
  }
  expect(fresh.decision).toBe('approval_required');
  expect(fresh.approval?.status).toBe('pending');
  // The pending list holds live requests only; the lapsed ones list as expired.
  const pending = await t.call('GET', '/v1/approvals?status=pending&limit=200', { key: t.adminKey });
  const mine = pending.body.items.filter((a: { agentId: string }) => a.agentId === chain.agent.id);
  expect(mine.map((a: { id: string }) => a.id)).toEqual([fresh.approval?.id]);
}, 120_000);
