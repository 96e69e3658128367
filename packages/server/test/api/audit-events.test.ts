import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicJwk, startTestApp, type TestApp } from '../harness.js';
import {
  agentBody,
  auditEvents,
  createApiKey,
  createUser,
  DAY,
  expectError,
  expectOk,
  fromNow,
  keyIdOf,
  registerAgent,
  unknownId,
  walk,
} from './helpers.js';

let t: TestApp;
let admin: { kind: 'api_key'; id: string };
beforeAll(async () => {
  t = await startTestApp();
  admin = { kind: 'api_key', id: keyIdOf(t.adminKey) };
});
afterAll(async () => t.close());

/** Seq of the last event in the log. */
async function lastSeq(app = t): Promise<number> {
  const events = await auditEvents(app, app.adminKey);
  return events[events.length - 1].seq;
}

describe('one event per change', () => {
  // These tests run in order and share the objects they create.
  let seen: number;
  let alice: any;
  let bob: any;
  let aliceKey: { id: string; secret: string };
  let agent: any;
  let secondKid: string;

  beforeAll(async () => {
    bob = await createUser(t, t.adminKey, { displayName: 'Bob' });
    seen = await lastSeq();
  });

  /** The events appended since the last call: asserts there is exactly one, of `type`, and returns it. */
  async function onlyNewEvent(type: string): Promise<any> {
    const page = expectOk(await t.call('GET', `/v1/audit/events?cursor=${seen}`, { key: t.adminKey }));
    expect(page.items.map((e: any) => e.type)).toEqual([type]);
    const [event] = page.items;
    expect(event.seq).toBe(seen + 1);
    expect(event.orgId).toBe(t.defaultOrgId);
    expect(event.time).toBe(t.clock.now().toISOString());
    seen = event.seq;
    return event;
  }

  it('user.created', async () => {
    alice = await createUser(t, t.adminKey, { displayName: 'Alice', email: 'alice@example.com' });
    const event = await onlyNewEvent('user.created');
    expect(event).toMatchObject({
      actor: admin,
      target: { type: 'user', id: alice.id },
      refs: { userId: alice.id },
    });
    expect(event.after).toEqual(alice);
    expect(event.before).toBeUndefined();
    expect(event.reason).toBeUndefined();
  });

  it('user.updated', async () => {
    const updated = expectOk(
      await t.call('PATCH', `/v1/users/${alice.id}`, { key: t.adminKey, body: { roles: ['operator'] } }),
    );
    const event = await onlyNewEvent('user.updated');
    expect(event).toMatchObject({ actor: admin, target: { type: 'user', id: alice.id } });
    expect(event.before.roles).toEqual([]);
    expect(event.after).toEqual(updated);
  });

  it('api_key.created (never with the secret)', async () => {
    const created = await createApiKey(t, t.adminKey, {
      roles: ['operator'],
      userId: alice.id,
      name: 'alice cli',
    });
    aliceKey = { id: created.id, secret: created.secret };
    const event = await onlyNewEvent('api_key.created');
    expect(event).toMatchObject({
      actor: admin,
      target: { type: 'api_key', id: created.id },
      refs: { userId: alice.id },
    });
    expect(event.after).toEqual(created.key);
    expect(event.after).not.toHaveProperty('secretHash');
    expect(JSON.stringify(event)).not.toContain(created.secret.slice(-43));
  });

  it('agent.registered', async () => {
    agent = await registerAgent(t, t.adminKey, alice.id, { name: 'mailer' });
    const event = await onlyNewEvent('agent.registered');
    expect(event).toMatchObject({
      actor: admin,
      target: { type: 'agent', id: agent.id },
      refs: { agentId: agent.id, userId: alice.id },
    });
    expect(event.before).toBeUndefined();
    expect(event.after).toEqual(agent);
  });

  it('agent.registered by a key bound to a user names that user in the actor', async () => {
    const other = await registerAgent(t, aliceKey.secret, bob.id, { name: 'helper' });
    const event = await onlyNewEvent('agent.registered');
    expect(event.actor).toEqual({ kind: 'api_key', id: aliceKey.id, userId: alice.id });
    expect(event.target).toEqual({ type: 'agent', id: other.id });
    expect(event.after.status).toBe('pending');
  });

  it('agent.updated', async () => {
    expectOk(
      await t.call('PATCH', `/v1/agents/${agent.id}`, { key: t.adminKey, body: { name: 'mailer-2' } }),
    );
    const event = await onlyNewEvent('agent.updated');
    expect(event).toMatchObject({ actor: admin, target: { type: 'agent', id: agent.id } });
    expect(event.before.name).toBe('mailer');
    expect(event.after.name).toBe('mailer-2');
  });

  it('agent.activated (by its owner, with a reason)', async () => {
    expectOk(
      await t.call('POST', `/v1/agents/${agent.id}/activate`, {
        key: aliceKey.secret,
        body: { reason: 'approved' },
      }),
    );
    const event = await onlyNewEvent('agent.activated');
    expect(event.actor).toEqual({ kind: 'api_key', id: aliceKey.id, userId: alice.id });
    expect(event.before.status).toBe('pending');
    expect(event.after.status).toBe('active');
    expect(event.reason).toBe('approved');
  });

  it('agent.suspended', async () => {
    expectOk(
      await t.call('POST', `/v1/agents/${agent.id}/suspend`, {
        key: t.adminKey,
        body: { reason: 'odd traffic' },
      }),
    );
    const event = await onlyNewEvent('agent.suspended');
    expect(event).toMatchObject({
      actor: admin,
      target: { type: 'agent', id: agent.id },
      reason: 'odd traffic',
    });
    expect([event.before.status, event.after.status]).toEqual(['active', 'suspended']);
  });

  it('agent.resumed (no reason given: none recorded)', async () => {
    expectOk(await t.call('POST', `/v1/agents/${agent.id}/resume`, { key: t.adminKey }));
    const event = await onlyNewEvent('agent.resumed');
    expect([event.before.status, event.after.status]).toEqual(['suspended', 'active']);
    expect(event).not.toHaveProperty('reason');
  });

  it('agent.renewed', async () => {
    const expiresAt = fromNow(t, 30 * DAY);
    expectOk(
      await t.call('POST', `/v1/agents/${agent.id}/renew`, {
        key: t.adminKey,
        body: { expiresAt, reason: 'q3' },
      }),
    );
    const event = await onlyNewEvent('agent.renewed');
    expect(event.before.expiresAt).toBe(agent.expiresAt);
    expect(event.after.expiresAt).toBe(expiresAt);
    expect(event.reason).toBe('q3');
  });

  it('agent.key_added', async () => {
    const updated = expectOk(
      await t.call('POST', `/v1/agents/${agent.id}/keys`, {
        key: t.adminKey,
        body: { jwk: await publicJwk('ES256') },
      }),
      201,
    );
    secondKid = updated.keys[1].kid;
    const event = await onlyNewEvent('agent.key_added');
    expect(event.before.keys).toHaveLength(1);
    expect(event.after.keys.map((k: any) => k.kid)).toEqual([agent.keys[0].kid, secondKid]);
  });

  it('agent.key_retired', async () => {
    const kid = agent.keys[0].kid;
    expectOk(
      await t.call('POST', `/v1/agents/${agent.id}/keys/${kid}/retire`, {
        key: t.adminKey,
        body: { reason: 'rotation' },
      }),
    );
    const event = await onlyNewEvent('agent.key_retired');
    expect(event.before.keys[0].status).toBe('active');
    expect(event.after.keys[0]).toMatchObject({ kid, status: 'retired' });
    expect(event.reason).toBe('rotation');
  });

  it('agent.owner_transferred', async () => {
    expectOk(
      await t.call('POST', `/v1/agents/${agent.id}/transfer`, {
        key: t.adminKey,
        body: { ownerId: bob.id, reason: 'reorg' },
      }),
    );
    const event = await onlyNewEvent('agent.owner_transferred');
    expect(event).toMatchObject({ actor: admin, target: { type: 'agent', id: agent.id }, reason: 'reorg' });
    expect(event.before.ownerId).toBe(alice.id);
    expect(event.after.ownerId).toBe(bob.id);
  });

  it('agent.revoked', async () => {
    expectOk(
      await t.call('POST', `/v1/agents/${agent.id}/revoke`, {
        key: t.adminKey,
        body: { reason: 'replaced' },
      }),
    );
    const event = await onlyNewEvent('agent.revoked');
    expect([event.before.status, event.after.status]).toEqual(['active', 'revoked']);
    expect(event.reason).toBe('replaced');
  });

  it('api_key.revoked', async () => {
    expectOk(
      await t.call('POST', `/v1/api-keys/${aliceKey.id}/revoke`, {
        key: t.adminKey,
        body: { reason: 'leaving' },
      }),
    );
    const event = await onlyNewEvent('api_key.revoked');
    expect(event).toMatchObject({
      actor: admin,
      target: { type: 'api_key', id: aliceKey.id },
      reason: 'leaving',
    });
    expect(event.before.revokedAt).toBeUndefined();
    expect(event.after.revokedAt).toBe(t.clock.now().toISOString());
    expect(event.after).not.toHaveProperty('secretHash');
  });

  it('user.offboarded', async () => {
    expectOk(
      await t.call('POST', `/v1/users/${alice.id}/offboard`, { key: t.adminKey, body: { reason: 'left' } }),
    );
    const event = await onlyNewEvent('user.offboarded');
    expect(event).toMatchObject({ actor: admin, target: { type: 'user', id: alice.id }, reason: 'left' });
    expect([event.before.status, event.after.status]).toEqual(['active', 'offboarded']);
  });

  describe('reading the log', () => {
    it('numbers events 0..n-1 without gaps', async () => {
      const events = await auditEvents(t);
      expect(events.length).toBeGreaterThan(15);
      expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i));
      expect(events.slice(0, 2).map((e) => e.type)).toEqual(['org.created', 'api_key.created']);
    });

    it('filters by type', async () => {
      const suspended = await auditEvents(t, t.adminKey, 'type=agent.suspended');
      expect(suspended.map((e) => e.target.id)).toEqual([agent.id]);
      const created = await auditEvents(t, t.adminKey, 'type=user.created');
      expect(created.map((e) => e.target.id)).toEqual([bob.id, alice.id]);
      expect(await auditEvents(t, t.adminKey, 'type=no.such.type')).toEqual([]);
    });

    it('filters by agent', async () => {
      const events = await auditEvents(t, t.adminKey, `agent=${agent.id}`);
      expect(events.map((e) => e.type)).toEqual([
        'agent.registered',
        'agent.updated',
        'agent.activated',
        'agent.suspended',
        'agent.resumed',
        'agent.renewed',
        'agent.key_added',
        'agent.key_retired',
        'agent.owner_transferred',
        'agent.revoked',
      ]);
    });

    it('filters by user', async () => {
      const events = await auditEvents(t, t.adminKey, `user=${alice.id}`);
      expect(events.every((e) => e.refs.userId === alice.id)).toBe(true);
      const types = events.map((e) => e.type);
      for (const type of [
        'user.created',
        'user.updated',
        'api_key.created',
        'agent.registered',
        'user.offboarded',
      ]) {
        expect(types).toContain(type);
      }
      expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => a - b));
    });

    it('pages with a cursor: every event once, in order', async () => {
      const all = await auditEvents(t);
      const { items, pages } = await walk(t, t.adminKey, '/v1/audit/events?limit=4');
      expect(items).toEqual(all);
      expect(pages.slice(0, -1).every((page) => page.length === 4)).toBe(true);
      const filtered = await walk(t, t.adminKey, `/v1/audit/events?agent=${agent.id}&limit=3`);
      expect(filtered.items).toEqual(await auditEvents(t, t.adminKey, `agent=${agent.id}`));
    });

    it('shows each event at /v1/audit/events/:seq as listed', async () => {
      for (const event of await auditEvents(t)) {
        expect(expectOk(await t.call('GET', `/v1/audit/events/${event.seq}`, { key: t.adminKey }))).toEqual(
          event,
        );
      }
      expectError(await t.call('GET', '/v1/audit/events/100000', { key: t.adminKey }), 404, 'not_found');
    });
  });
});

describe('who may read the log', () => {
  it('lets an auditor read events, not an operator (403)', async () => {
    const auditor = await createApiKey(t, t.adminKey, { roles: ['auditor'] });
    const operator = await createApiKey(t, t.adminKey, { roles: ['operator'] });
    expect(
      expectOk(await t.call('GET', '/v1/audit/events', { key: auditor.secret })).items.length,
    ).toBeGreaterThan(0);
    expectOk(await t.call('GET', '/v1/audit/events/0', { key: auditor.secret }));
    expectError(await t.call('GET', '/v1/audit/events', { key: operator.secret }), 403, 'forbidden');
    expectError(await t.call('GET', '/v1/audit/events/0', { key: operator.secret }), 403, 'forbidden');
  });
});

describe('refused changes', () => {
  it('append nothing', async () => {
    const owner = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, owner.id);
    const operator = await createApiKey(t, t.adminKey, { roles: ['operator'] });
    const before = await lastSeq();

    const refusals = [
      await t.call('POST', `/v1/agents/${agent.id}/resume`, { key: t.adminKey }), // illegal transition
      await t.call('POST', `/v1/agents/${agent.id}/activate`, { key: operator.secret }), // forbidden
      await t.call('POST', `/v1/agents/${agent.id}/transfer`, {
        key: operator.secret,
        body: { ownerId: owner.id, reason: 'x' },
      }),
      await t.call('PATCH', `/v1/agents/${agent.id}`, { key: t.adminKey, body: { name: '' } }), // invalid
      await t.call('PATCH', `/v1/agents/${unknownId('agent')}`, { key: t.adminKey, body: { name: 'x' } }), // not found
      await t.call('POST', `/v1/agents/${agent.id}/keys/${agent.keys[0].kid}/retire`, { key: t.adminKey }), // last key
      await t.call('POST', `/v1/agents/${agent.id}/keys`, {
        key: t.adminKey,
        body: { jwk: agent.keys[0].jwk },
      }), // dup
      await t.call('POST', `/v1/users/${owner.id}/offboard`, { key: t.adminKey, body: { reason: 'x' } }), // owns agent
      await t.call('POST', '/v1/agents', {
        key: t.adminKey,
        body: await agentBody(owner.id, { expiresAt: fromNow(t, -1) }),
      }),
      await t.call('GET', '/v1/agents', { key: 'garbage' }),
    ];
    expect(refusals.map((r) => r.status)).toEqual([409, 403, 403, 400, 404, 409, 409, 409, 400, 401]);
    expect(await lastSeq()).toBe(before);
  });

  it('and reads append nothing either', async () => {
    const before = await lastSeq();
    expectOk(await t.call('GET', '/v1/agents', { key: t.adminKey }));
    expectOk(await t.call('GET', '/v1/users', { key: t.adminKey }));
    expectOk(await t.call('GET', '/v1/api-keys', { key: t.adminKey }));
    expect(await lastSeq()).toBe(before);
  });
});

describe('the expiry sweep', () => {
  // The clock moves here.
  let e: TestApp;
  beforeAll(async () => {
    e = await startTestApp();
  });
  afterAll(async () => e.close());

  const expiredEvents = async () => auditEvents(e, e.adminKey, 'type=agent.expired');

  it('records one agent.expired event by the system per expired agent, once', async () => {
    const owner = await createUser(e, e.adminKey);
    const expiring = await registerAgent(e, e.adminKey, owner.id, { expiresAt: fromNow(e, 3_600_000) });
    const lasting = await registerAgent(e, e.adminKey, owner.id);
    const revoked = await registerAgent(e, e.adminKey, owner.id, { expiresAt: fromNow(e, 3_600_000) });
    expectOk(
      await e.call('POST', `/v1/agents/${revoked.id}/revoke`, { key: e.adminKey, body: { reason: 'x' } }),
    );

    expect(await e.engine.agents.recordExpiries(e.defaultOrgId)).toBe(0);
    expect(await expiredEvents()).toEqual([]);

    e.clock.advance(2 * 3_600_000);
    const before = await lastSeq(e);
    expect(await e.engine.agents.recordExpiries(e.defaultOrgId)).toBe(1);

    const added = await auditEvents(e, e.adminKey, `cursor=${before}`);
    expect(added).toHaveLength(1);
    const [event] = added;
    expect(event).toMatchObject({
      type: 'agent.expired',
      actor: { kind: 'system' },
      target: { type: 'agent', id: expiring.id },
      refs: { agentId: expiring.id },
      before: { status: 'pending' },
      after: { status: 'expired', expiresAt: expiring.expiresAt },
    });
    expect(event.seq).toBe(before + 1);
    expect(added.map((x) => x.target.id)).not.toContain(lasting.id);

    expect(await e.engine.agents.recordExpiries(e.defaultOrgId)).toBe(0);
    expect(await lastSeq(e)).toBe(before + 1);
    expect((await expiredEvents()).map((x) => x.target.id)).toEqual([expiring.id]);
  });

  it('records the expiry again after a renewal that also runs out', async () => {
    const owner = await createUser(e, e.adminKey);
    const agent = await registerAgent(e, e.adminKey, owner.id, { expiresAt: fromNow(e, 3_600_000) });
    e.clock.advance(2 * 3_600_000);
    expect(await e.engine.agents.recordExpiries(e.defaultOrgId)).toBe(1);

    expectOk(
      await e.call('POST', `/v1/agents/${agent.id}/renew`, {
        key: e.adminKey,
        body: { expiresAt: fromNow(e, 3_600_000) },
      }),
    );
    expect(await e.engine.agents.recordExpiries(e.defaultOrgId)).toBe(0);
    e.clock.advance(2 * 3_600_000);
    expect(await e.engine.agents.recordExpiries(e.defaultOrgId)).toBe(1);
    expect(await e.engine.agents.recordExpiries(e.defaultOrgId)).toBe(0);

    const forAgent = await auditEvents(e, e.adminKey, `agent=${agent.id}`);
    expect(forAgent.map((x) => x.type)).toEqual([
      'agent.registered',
      'agent.expired',
      'agent.renewed',
      'agent.expired',
    ]);
  });
});
