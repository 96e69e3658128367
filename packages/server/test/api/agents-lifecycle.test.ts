import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../harness.js';
import {
  agentBody,
  createApiKey,
  createUser,
  DAY,
  expectError,
  expectOk,
  fromNow,
  registerAgent,
  unknownId,
  userWithOperatorKey,
  walk,
} from './helpers.js';

const HOUR = 3_600_000;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const command = (agentId: string, name: string, key: string, body?: Record<string, unknown>) =>
  t.call('POST', `/v1/agents/${agentId}/${name}`, { key, body });
const status = async (agentId: string) =>
  expectOk(await t.call('GET', `/v1/agents/${agentId}`, { key: t.adminKey })).status;

describe('registration', () => {
  it('is pending when an admin key that is not the owner registers the agent', async () => {
    const owner = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, owner.id, { name: 'by-admin' });
    expect(agent).toMatchObject({ name: 'by-admin', ownerId: owner.id, status: 'pending' });
    expect(agent.id).toMatch(/^agt_[0-9A-Z]{26}$/);
    expect(agent.lastStatusChange).toMatchObject({ status: 'pending', by: { kind: 'api_key' } });
    expect(agent).not.toHaveProperty('version');
    expect(await status(agent.id)).toBe('pending');
  });

  it('is active at once when a key bound to the owner registers it', async () => {
    const owner = await userWithOperatorKey(t);
    const agent = await registerAgent(t, owner.secret, owner.user.id, { name: 'by-owner' });
    expect(agent.status).toBe('active');
    expect(agent.createdBy).toEqual({ kind: 'api_key', id: owner.keyId, userId: owner.user.id });
    expect(await status(agent.id)).toBe('active');
  });

  it('is pending when a key bound to another user registers it', async () => {
    const owner = await createUser(t, t.adminKey);
    const other = await userWithOperatorKey(t, 'other');
    const agent = await registerAgent(t, other.secret, owner.id);
    expect(agent.status).toBe('pending');
  });

  it('gets a default expiry of 90 days', async () => {
    const owner = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, owner.id);
    expect(agent.expiresAt).toBe(fromNow(t, 90 * DAY));
  });

  it('refuses an unknown owner with 400 on ownerId', async () => {
    const response = await t.call('POST', '/v1/agents', {
      key: t.adminKey,
      body: await agentBody(unknownId('user')),
    });
    expectError(response, 400, 'invalid_request', 'ownerId');
  });
});

describe('lifecycle transitions', () => {
  it('walks pending → active → suspended → active → revoked', async () => {
    const owner = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, owner.id);
    expect(agent.status).toBe('pending');

    const steps: Array<[string, string, Record<string, unknown>?]> = [
      ['activate', 'active'],
      ['suspend', 'suspended', { reason: 'investigating' }],
      ['resume', 'active'],
      ['revoke', 'revoked', { reason: 'retired' }],
    ];
    for (const [name, expected, body] of steps) {
      const answer = expectOk(await command(agent.id, name, t.adminKey, body));
      expect(answer.status).toBe(expected);
      expect(answer.lastStatusChange).toMatchObject({
        status: expected,
        ...(body ? { reason: body.reason } : {}),
      });
      expect(await status(agent.id)).toBe(expected);
    }
  });

  it('needs a reason to suspend and to revoke', async () => {
    const owner = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, owner.id);
    expectOk(await command(agent.id, 'activate', t.adminKey));
    expectError(await command(agent.id, 'suspend', t.adminKey), 400, 'invalid_request', 'reason');
    expectError(
      await command(agent.id, 'revoke', t.adminKey, { reason: '  ' }),
      400,
      'invalid_request',
      'reason',
    );
    expect(await status(agent.id)).toBe('active');
  });

  it('answers 404 for a lifecycle command on an unknown agent', async () => {
    expectError(await command(unknownId('agent'), 'activate', t.adminKey), 404, 'not_found');
  });
});

describe('illegal transitions', () => {
  /** An agent brought to `target` through legal steps. */
  async function agentIn(target: 'pending' | 'active' | 'suspended' | 'revoked'): Promise<string> {
    const owner = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, owner.id);
    if (target !== 'pending') expectOk(await command(agent.id, 'activate', t.adminKey));
    if (target === 'suspended') expectOk(await command(agent.id, 'suspend', t.adminKey, { reason: 'x' }));
    if (target === 'revoked') expectOk(await command(agent.id, 'revoke', t.adminKey, { reason: 'x' }));
    expect(await status(agent.id)).toBe(target);
    return agent.id;
  }

  const cases: Array<[from: 'pending' | 'active' | 'suspended' | 'revoked', command: string]> = [
    ['active', 'activate'],
    ['active', 'resume'],
    ['pending', 'suspend'],
    ['pending', 'resume'],
    ['suspended', 'suspend'],
    ['suspended', 'activate'],
    ['revoked', 'activate'],
    ['revoked', 'suspend'],
    ['revoked', 'resume'],
    ['revoked', 'revoke'],
    ['revoked', 'renew'],
  ];

  it.each(cases)('refuses, from %s, to %s (409 illegal_transition, nothing changes)', async (from, name) => {
    const agentId = await agentIn(from);
    const body = name === 'suspend' || name === 'revoke' ? { reason: 'try' } : undefined;
    const response = await command(agentId, name, t.adminKey, body);
    expectError(response, 409, 'illegal_transition');
    expect(response.body.error.message).toContain(`cannot ${name} an agent that is ${from}`);
    expect(await status(agentId)).toBe(from);
  });

  it('refuses every other change to a revoked agent too', async () => {
    const agentId = await agentIn('revoked');
    const user = await createUser(t, t.adminKey);
    expectError(
      await t.call('PATCH', `/v1/agents/${agentId}`, { key: t.adminKey, body: { name: 'ghost' } }),
      409,
      'illegal_transition',
    );
    expectError(
      await t.call('POST', `/v1/agents/${agentId}/transfer`, {
        key: t.adminKey,
        body: { ownerId: user.id, reason: 'x' },
      }),
      409,
      'illegal_transition',
    );
  });
});

describe('expiry', () => {
  // The clock moves here: a separate app keeps the other describes on real time.
  let e: TestApp;
  beforeAll(async () => {
    e = await startTestApp();
  });
  afterAll(async () => e.close());

  const call = (agentId: string, name: string, body?: Record<string, unknown>) =>
    e.call('POST', `/v1/agents/${agentId}/${name}`, { key: e.adminKey, body });
  const get = async (agentId: string) =>
    expectOk(await e.call('GET', `/v1/agents/${agentId}`, { key: e.adminKey }));
  const listIds = async (query: string) =>
    expectOk(await e.call('GET', `/v1/agents?limit=200&${query}`, { key: e.adminKey })).items.map(
      (a: any) => a.id,
    );

  it('shows an agent past its expiry as expired, in GET and in the expired list; renew makes it active again', async () => {
    const owner = await userWithOperatorKey(e);
    const agent = await registerAgent(e, owner.secret, owner.user.id, { expiresAt: fromNow(e, HOUR) });
    expect(agent.status).toBe('active');

    e.clock.advance(2 * HOUR);
    expect((await get(agent.id)).status).toBe('expired');
    expect(await listIds('status=expired')).toContain(agent.id);
    expect(await listIds('status=active')).not.toContain(agent.id);

    const renewed = expectOk(await call(agent.id, 'renew', { reason: 'still needed' }));
    expect(renewed.status).toBe('active');
    expect(renewed.expiresAt).toBe(fromNow(e, 90 * DAY));
    expect(renewed.lastStatusChange).toMatchObject({ status: 'active', reason: 'still needed' });
    expect((await get(agent.id)).status).toBe('active');
    expect(await listIds('status=expired')).not.toContain(agent.id);
    expect(await listIds('status=active')).toContain(agent.id);
  });

  it('renews to the expiry asked for', async () => {
    const owner = await createUser(e, e.adminKey);
    const agent = await registerAgent(e, e.adminKey, owner.id);
    const expiresAt = fromNow(e, 10 * DAY);
    expect(expectOk(await call(agent.id, 'renew', { expiresAt })).expiresAt).toBe(expiresAt);
  });

  it('keeps a suspended agent suspended when it expires and is renewed', async () => {
    const owner = await createUser(e, e.adminKey);
    const agent = await registerAgent(e, e.adminKey, owner.id, { expiresAt: fromNow(e, HOUR) });
    expectOk(await call(agent.id, 'activate'));
    expectOk(await call(agent.id, 'suspend', { reason: 'paused' }));

    e.clock.advance(2 * HOUR);
    expect((await get(agent.id)).status).toBe('expired');
    expectError(await call(agent.id, 'resume'), 409, 'illegal_transition');

    expect(expectOk(await call(agent.id, 'renew')).status).toBe('suspended');
    expect((await get(agent.id)).status).toBe('suspended');
  });

  it('keeps a pending agent pending when it expires and is renewed', async () => {
    const owner = await createUser(e, e.adminKey);
    const agent = await registerAgent(e, e.adminKey, owner.id, { expiresAt: fromNow(e, HOUR) });
    e.clock.advance(2 * HOUR);
    expectError(await call(agent.id, 'activate'), 409, 'illegal_transition');
    expect(expectOk(await call(agent.id, 'renew')).status).toBe('pending');
  });

  it('lets an expired agent be revoked', async () => {
    const owner = await createUser(e, e.adminKey);
    const agent = await registerAgent(e, e.adminKey, owner.id, { expiresAt: fromNow(e, HOUR) });
    e.clock.advance(2 * HOUR);
    expect(expectOk(await call(agent.id, 'revoke', { reason: 'gone' })).status).toBe('revoked');
    expect(await listIds('status=expired')).not.toContain(agent.id);
    expect(await listIds('status=revoked')).toContain(agent.id);
  });

  it.each([
    ['in the past', -HOUR],
    ['now', 0],
    ['more than 365 days ahead', 366 * DAY],
  ])('refuses an expiresAt %s with 400 on expiresAt', async (_label, offset) => {
    const owner = await createUser(e, e.adminKey);
    const response = await e.call('POST', '/v1/agents', {
      key: e.adminKey,
      body: await agentBody(owner.id, { expiresAt: fromNow(e, offset) }),
    });
    expectError(response, 400, 'invalid_request', 'expiresAt');

    const agent = await registerAgent(e, e.adminKey, owner.id);
    expectError(
      await call(agent.id, 'renew', { expiresAt: fromNow(e, offset) }),
      400,
      'invalid_request',
      'expiresAt',
    );
  });

  it('accepts an expiry of exactly 365 days', async () => {
    const owner = await createUser(e, e.adminKey);
    const agent = await registerAgent(e, e.adminKey, owner.id, { expiresAt: fromNow(e, 365 * DAY) });
    expect(agent.expiresAt).toBe(fromNow(e, 365 * DAY));
  });

  it('refuses an expiresAt that is not an ISO date-time', async () => {
    const owner = await createUser(e, e.adminKey);
    const agent = await registerAgent(e, e.adminKey, owner.id);
    expectError(
      await call(agent.id, 'renew', { expiresAt: 'tomorrow' }),
      400,
      'invalid_request',
      'expiresAt',
    );
  });
});

describe('who may activate and revoke', () => {
  it('lets the owner (an operator key bound to them) activate and revoke their own agent', async () => {
    const owner = await userWithOperatorKey(t);
    const agent = await registerAgent(t, t.adminKey, owner.user.id);
    expect(expectOk(await command(agent.id, 'activate', owner.secret)).status).toBe('active');
    expect(expectOk(await command(agent.id, 'revoke', owner.secret, { reason: 'done' })).status).toBe(
      'revoked',
    );
  });

  it('forbids another operator, bound to another user or to nobody, to activate or revoke it', async () => {
    const owner = await createUser(t, t.adminKey);
    const other = await userWithOperatorKey(t, 'other');
    const unbound = await createApiKey(t, t.adminKey, { roles: ['operator'] });
    const agent = await registerAgent(t, t.adminKey, owner.id);

    for (const key of [other.secret, unbound.secret]) {
      expectError(await command(agent.id, 'activate', key), 403, 'forbidden');
    }
    expect(await status(agent.id)).toBe('pending');
    expectOk(await command(agent.id, 'activate', t.adminKey));
    for (const key of [other.secret, unbound.secret]) {
      expectError(await command(agent.id, 'revoke', key, { reason: 'no' }), 403, 'forbidden');
    }
    expect(await status(agent.id)).toBe('active');
  });

  it('lets any operator suspend, resume and renew', async () => {
    const owner = await createUser(t, t.adminKey);
    const operator = await createApiKey(t, t.adminKey, { roles: ['operator'] });
    const agent = await registerAgent(t, t.adminKey, owner.id);
    expectOk(await command(agent.id, 'activate', t.adminKey));
    expect(expectOk(await command(agent.id, 'suspend', operator.secret, { reason: 'x' })).status).toBe(
      'suspended',
    );
    expect(expectOk(await command(agent.id, 'resume', operator.secret)).status).toBe('active');
    expect(expectOk(await command(agent.id, 'renew', operator.secret)).status).toBe('active');
  });

  it('forbids an auditor to change agents, but lets it read them', async () => {
    const owner = await createUser(t, t.adminKey);
    const auditor = await createApiKey(t, t.adminKey, { roles: ['auditor'] });
    const agent = await registerAgent(t, t.adminKey, owner.id);
    expectOk(await t.call('GET', `/v1/agents/${agent.id}`, { key: auditor.secret }));
    expectError(await command(agent.id, 'suspend', auditor.secret, { reason: 'x' }), 403, 'forbidden');
    expectError(
      await t.call('PATCH', `/v1/agents/${agent.id}`, { key: auditor.secret, body: { name: 'x' } }),
      403,
      'forbidden',
    );
  });
});

describe('update (PATCH)', () => {
  it('changes name, description, labels, metadata and environments', async () => {
    const owner = await createUser(t, t.adminKey);
    const operator = await createApiKey(t, t.adminKey, { roles: ['operator'] });
    const agent = await registerAgent(t, t.adminKey, owner.id, { labels: ['old'], metadata: { model: 'a' } });
    const changes = {
      name: 'renamed',
      description: 'reads mail',
      labels: ['team:mail', 'tier-1'],
      metadata: { model: 'b', provider: 'acme', temperature: 0.2, beta: true },
      environments: ['prod'],
    };
    const updated = expectOk(
      await t.call('PATCH', `/v1/agents/${agent.id}`, { key: operator.secret, body: changes }),
    );
    expect(updated).toMatchObject(changes);
    expect(updated.boundaries).toEqual(agent.boundaries);
    expect(updated.status).toBe('pending');
    expect(expectOk(await t.call('GET', `/v1/agents/${agent.id}`, { key: t.adminKey }))).toMatchObject(
      changes,
    );
  });

  it('leaves fields that are not sent as they were', async () => {
    const owner = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, owner.id, { name: 'keep', labels: ['a'] });
    const updated = expectOk(
      await t.call('PATCH', `/v1/agents/${agent.id}`, { key: t.adminKey, body: { description: 'new' } }),
    );
    expect(updated).toMatchObject({ name: 'keep', labels: ['a'], description: 'new' });
  });

  it('de-duplicates labels and environments as registration does', async () => {
    const owner = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, owner.id, { labels: ['a', 'a'] });
    expect(agent.labels).toEqual(['a']);
    const updated = expectOk(
      await t.call('PATCH', `/v1/agents/${agent.id}`, {
        key: t.adminKey,
        body: { labels: ['b', 'b'], environments: ['prod', 'prod'] },
      }),
    );
    expect(updated.labels).toEqual(['b']);
    expect(updated.environments).toEqual(['prod']);
  });

  it('changes boundaries for an admin only (operator → 403)', async () => {
    const owner = await createUser(t, t.adminKey);
    const operator = await createApiKey(t, t.adminKey, { roles: ['operator'] });
    const agent = await registerAgent(t, t.adminKey, owner.id);
    const wider = {
      actions: ['email.*', 'calendar.read'],
      resources: ['*'],
      maxDataClass: 'confidential',
      maxCredentialTtlSeconds: 600,
      maxDelegationDepth: 1,
    };

    expectError(
      await t.call('PATCH', `/v1/agents/${agent.id}`, { key: operator.secret, body: { boundaries: wider } }),
      403,
      'forbidden',
    );
    expect(expectOk(await t.call('GET', `/v1/agents/${agent.id}`, { key: t.adminKey })).boundaries).toEqual(
      agent.boundaries,
    );

    const updated = expectOk(
      await t.call('PATCH', `/v1/agents/${agent.id}`, { key: t.adminKey, body: { boundaries: wider } }),
    );
    expect(updated.boundaries).toEqual(wider);
  });

  it('a boundaries update must give the whole ceiling: a partial one is refused, never widened by defaults', async () => {
    const owner = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, owner.id);
    const narrow = {
      actions: ['email.read'],
      resources: ['mailbox:alice/*'],
      maxDataClass: 'public',
      maxCredentialTtlSeconds: 60,
      maxDelegationDepth: 0,
    };
    expectOk(
      await t.call('PATCH', `/v1/agents/${agent.id}`, { key: t.adminKey, body: { boundaries: narrow } }),
    );
    const partial = await t.call('PATCH', `/v1/agents/${agent.id}`, {
      key: t.adminKey,
      body: { boundaries: { actions: ['email.read'], resources: ['mailbox:alice/*'] } },
    });
    expect(partial.status).toBe(400);
    expect(expectOk(await t.call('GET', `/v1/agents/${agent.id}`, { key: t.adminKey })).boundaries).toEqual(
      narrow,
    );
  });

  it('refuses to change a revoked agent (409)', async () => {
    const owner = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, owner.id);
    expectOk(await command(agent.id, 'revoke', t.adminKey, { reason: 'x' }));
    expectError(
      await t.call('PATCH', `/v1/agents/${agent.id}`, { key: t.adminKey, body: { name: 'zombie' } }),
      409,
      'illegal_transition',
    );
    expect(expectOk(await t.call('GET', `/v1/agents/${agent.id}`, { key: t.adminKey })).name).toBe(
      agent.name,
    );
  });

  it('answers 404 for an unknown agent', async () => {
    expectError(
      await t.call('PATCH', `/v1/agents/${unknownId('agent')}`, { key: t.adminKey, body: { name: 'x' } }),
      404,
      'not_found',
    );
  });
});

describe('owner transfer', () => {
  const transfer = (agentId: string, key: string, body: Record<string, unknown>) =>
    t.call('POST', `/v1/agents/${agentId}/transfer`, { key, body });

  it('gives the agent a new owner', async () => {
    const from = await createUser(t, t.adminKey);
    const to = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, from.id);
    const moved = expectOk(await transfer(agent.id, t.adminKey, { ownerId: to.id, reason: 'team change' }));
    expect(moved.ownerId).toBe(to.id);
    expect(moved.status).toBe('pending');
    expect(expectOk(await t.call('GET', `/v1/agents/${agent.id}`, { key: t.adminKey })).ownerId).toBe(to.id);
    const owned = expectOk(await t.call('GET', `/v1/agents?owner=${to.id}`, { key: t.adminKey }));
    expect(owned.items.map((a: any) => a.id)).toEqual([agent.id]);
  });

  it('needs an admin (operator → 403)', async () => {
    const from = await userWithOperatorKey(t);
    const to = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, from.secret, from.user.id);
    expectError(await transfer(agent.id, from.secret, { ownerId: to.id, reason: 'x' }), 403, 'forbidden');
    expect(expectOk(await t.call('GET', `/v1/agents/${agent.id}`, { key: t.adminKey })).ownerId).toBe(
      from.user.id,
    );
  });

  it('refuses an unknown or offboarded new owner with 400 on ownerId', async () => {
    const from = await createUser(t, t.adminKey);
    const gone = await createUser(t, t.adminKey);
    expectOk(
      await t.call('POST', `/v1/users/${gone.id}/offboard`, { key: t.adminKey, body: { reason: 'left' } }),
    );
    const agent = await registerAgent(t, t.adminKey, from.id);
    for (const ownerId of [unknownId('user'), gone.id]) {
      expectError(
        await transfer(agent.id, t.adminKey, { ownerId, reason: 'x' }),
        400,
        'invalid_request',
        'ownerId',
      );
    }
  });

  it('refuses a transfer to the current owner (409) and one without a reason (400)', async () => {
    const from = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, from.id);
    expectError(await transfer(agent.id, t.adminKey, { ownerId: from.id, reason: 'x' }), 409, 'conflict');
    const to = await createUser(t, t.adminKey);
    expectError(await transfer(agent.id, t.adminKey, { ownerId: to.id }), 400, 'invalid_request', 'reason');
  });
});

describe('list filters and pagination', () => {
  // A separate org content, so that filters are compared with exact sets.
  let l: TestApp;
  const ids: Record<string, string> = {};
  let alice: any;
  let bob: any;
  beforeAll(async () => {
    l = await startTestApp();
    const a = await userWithOperatorKey(l, 'alice');
    alice = a.user;
    bob = await createUser(l, l.adminKey, { displayName: 'bob' });
    ids.mailActive = (
      await registerAgent(l, a.secret, alice.id, {
        name: 'mail-reader',
        labels: ['team:mail'],
        environments: ['prod'],
      })
    ).id;
    ids.mailPending = (
      await registerAgent(l, l.adminKey, alice.id, { name: 'mail-sender', labels: ['team:mail', 'beta'] })
    ).id;
    ids.crawler = (
      await registerAgent(l, l.adminKey, bob.id, {
        name: 'crawler',
        labels: ['team:web'],
        environments: ['prod', 'dev'],
      })
    ).id;
    expectOk(await l.call('POST', `/v1/agents/${ids.crawler}/activate`, { key: l.adminKey }));
    expectOk(
      await l.call('POST', `/v1/agents/${ids.crawler}/suspend`, { key: l.adminKey, body: { reason: 'x' } }),
    );
    ids.revoked = (
      await registerAgent(l, l.adminKey, bob.id, { name: 'Mail-old', environments: ['dev'] })
    ).id;
    expectOk(
      await l.call('POST', `/v1/agents/${ids.revoked}/revoke`, { key: l.adminKey, body: { reason: 'x' } }),
    );
  });
  afterAll(async () => l.close());

  const listed = async (query: string) =>
    new Set(
      expectOk(await l.call('GET', `/v1/agents?${query}`, { key: l.adminKey })).items.map((a: any) => a.id),
    );

  it('filters by status', async () => {
    expect(await listed('status=active')).toEqual(new Set([ids.mailActive]));
    expect(await listed('status=pending')).toEqual(new Set([ids.mailPending]));
    expect(await listed('status=suspended')).toEqual(new Set([ids.crawler]));
    expect(await listed('status=revoked')).toEqual(new Set([ids.revoked]));
    expect(await listed('status=expired')).toEqual(new Set());
  });

  it('filters by owner', async () => {
    expect(await listed(`owner=${alice.id}`)).toEqual(new Set([ids.mailActive, ids.mailPending]));
    expect(await listed(`owner=${bob.id}`)).toEqual(new Set([ids.crawler, ids.revoked]));
    expect(await listed(`owner=${unknownId('user')}`)).toEqual(new Set());
  });

  it('filters by label', async () => {
    expect(await listed('label=team:mail')).toEqual(new Set([ids.mailActive, ids.mailPending]));
    expect(await listed('label=beta')).toEqual(new Set([ids.mailPending]));
    expect(await listed('label=none')).toEqual(new Set());
  });

  it('filters by environment', async () => {
    expect(await listed('environment=prod')).toEqual(new Set([ids.mailActive, ids.crawler]));
    expect(await listed('environment=dev')).toEqual(new Set([ids.crawler, ids.revoked]));
  });

  it('filters by name prefix, case-sensitively', async () => {
    expect(await listed('name=mail')).toEqual(new Set([ids.mailActive, ids.mailPending]));
    expect(await listed('name=mail-r')).toEqual(new Set([ids.mailActive]));
    expect(await listed('name=Mail')).toEqual(new Set([ids.revoked]));
    expect(await listed('name=%25')).toEqual(new Set());
  });

  it('combines filters', async () => {
    expect(await listed(`owner=${alice.id}&status=active&label=team:mail`)).toEqual(
      new Set([ids.mailActive]),
    );
    expect(await listed(`owner=${bob.id}&environment=prod&status=active`)).toEqual(new Set());
  });

  it('walks 7 agents with limit=3 in pages of 3, 3 and 1, each seen exactly once', async () => {
    const owner = await createUser(l, l.adminKey, { displayName: 'many' });
    const created: string[] = [];
    for (let i = 0; i < 7; i++)
      created.push((await registerAgent(l, l.adminKey, owner.id, { name: `bulk-${i}` })).id);

    const { items, pages } = await walk(l, l.adminKey, `/v1/agents?owner=${owner.id}&limit=3`);
    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    const seen = items.map((a) => a.id);
    expect(new Set(seen).size).toBe(seen.length);
    expect(new Set(seen)).toEqual(new Set(created));

    // Unfiltered, too: every agent of the org exactly once.
    const all = (await walk(l, l.adminKey, '/v1/agents?limit=3')).items.map((a) => a.id);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(7 + Object.keys(ids).length);
  });

  it('has no nextCursor when everything fits on one page', async () => {
    const page = expectOk(await l.call('GET', '/v1/agents?limit=200', { key: l.adminKey }));
    expect(page.nextCursor).toBeUndefined();
  });
});
