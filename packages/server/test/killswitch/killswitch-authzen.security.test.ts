/**
 * An org lock holds plain AuthZEN requests too (no agent credential): every evaluation recorded
 * after the lock is a deny with `org_locked`, and a search finds nothing, until the lock is released.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../harness.js';

let t: TestApp;
let pep: string;
const ask = {
  subject: { type: 'User', id: 'bob' },
  action: { name: 'view' },
  resource: { type: 'Doc', id: 'd1' },
};

beforeAll(async () => {
  t = await startTestApp();
  pep = (await t.call('POST', '/v1/api-keys', { key: t.adminKey, body: { name: 'pep', roles: ['pep'] } }))
    .body.secret;
  const published = await t.call('POST', '/v1/policies', {
    key: t.adminKey,
    body: { policies: 'permit (principal == User::"bob", action == Action::"view", resource);' },
  });
  expect(published.status, published.text).toBe(201);
  const stored = await t.call('PUT', '/v1/entities', {
    key: t.adminKey,
    body: { entities: [{ uid: { type: 'Doc', id: 'd1' } }, { uid: { type: 'Doc', id: 'd2' } }] },
  });
  expect(stored.status, stored.text).toBe(200);
});
afterAll(async () => t?.close());

it('an org lock turns plain evaluations and searches into denies; release restores them', async () => {
  const evaluate = () => t.call('POST', '/access/v1/evaluation', { key: pep, body: ask });
  const search = () =>
    t.call('POST', '/access/v1/search/resource', {
      key: pep,
      body: { ...ask, resource: { type: 'Doc' } },
    });
  expect((await evaluate()).body.decision).toBe(true);
  expect((await search()).body.results).toHaveLength(2);

  const lock = await t.call('POST', '/v1/killswitch', {
    key: t.adminKey,
    body: { scope: 'org', reason: 'stop' },
  });
  expect(lock.status, lock.text).toBe(201);
  const denied = await evaluate();
  expect(denied.body).toMatchObject({ decision: false, context: { reason: 'org_locked' } });
  const record = await t.call('GET', `/v1/audit/events/${denied.body.context.decision_id}`, {
    key: t.adminKey,
  });
  expect(record.body.after).toMatchObject({ kind: 'authzen', result: 'deny', reasons: ['org_locked'] });
  const batch = await t.call('POST', '/access/v1/evaluations', {
    key: pep,
    body: { evaluations: [ask, ask] },
  });
  expect(batch.body.evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([false, false]);
  expect((await search()).body.results).toEqual([]);

  const released = await t.call('POST', `/v1/killswitch/${lock.body.id}/release`, {
    key: t.adminKey,
    body: { reason: 'clear' },
  });
  expect(released.status, released.text).toBe(200);
  expect((await evaluate()).body.decision).toBe(true);
  expect((await search()).body.results).toHaveLength(2);
});
