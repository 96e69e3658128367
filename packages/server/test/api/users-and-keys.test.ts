import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../harness.js';
import {
  agentBody,
  createApiKey,
  createUser,
  expectError,
  expectOk,
  fromNow,
  keyIdOf,
  registerAgent,
  unknownId,
  userWithOperatorKey,
  walk,
} from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const offboard = (userId: string, key = t.adminKey, reason = 'left the company') =>
  t.call('POST', `/v1/users/${userId}/offboard`, { key, body: { reason } });

describe('users: creation', () => {
  it('creates a local user', async () => {
    const response = await t.call('POST', '/v1/users', {
      key: t.adminKey,
      body: { displayName: 'Alice', email: 'alice@example.com', roles: ['operator'] },
    });
    const user = expectOk(response, 201);
    expect(user).toMatchObject({
      displayName: 'Alice',
      email: 'alice@example.com',
      roles: ['operator'],
      kind: 'local',
      status: 'active',
      orgId: t.defaultOrgId,
    });
    expect(user.id).toMatch(/^usr_[0-9A-Z]{26}$/);
    expect(user.issuer).toBeUndefined();
    expect(user).not.toHaveProperty('version');
    expect(expectOk(await t.call('GET', `/v1/users/${user.id}`, { key: t.adminKey }))).toEqual(user);
  });

  it('creates an OIDC user from issuer and subject', async () => {
    const user = await createUser(t, t.adminKey, {
      issuer: 'https://idp.example.com',
      subject: 'sub-oidc-1',
    });
    expect(user).toMatchObject({
      kind: 'oidc',
      issuer: 'https://idp.example.com',
      subject: 'sub-oidc-1',
      roles: [],
    });
  });

  it('refuses a second user with the same issuer and subject (409 duplicate)', async () => {
    const body = { displayName: 'Bob', issuer: 'https://idp.example.com', subject: 'sub-dup' };
    expectOk(await t.call('POST', '/v1/users', { key: t.adminKey, body }), 201);
    expectError(await t.call('POST', '/v1/users', { key: t.adminKey, body }), 409, 'duplicate');
    // The same subject at another issuer is another person.
    expectOk(
      await t.call('POST', '/v1/users', {
        key: t.adminKey,
        body: { ...body, issuer: 'https://other.example.com' },
      }),
      201,
    );
  });

  it('refuses an issuer without a subject, and a subject without an issuer (400)', async () => {
    expectError(
      await t.call('POST', '/v1/users', {
        key: t.adminKey,
        body: { displayName: 'x', issuer: 'https://idp.example.com' },
      }),
      400,
      'invalid_request',
      'issuer',
    );
    expectError(
      await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'x', subject: 'abc' } }),
      400,
      'invalid_request',
    );
  });

  it('refuses a bad email, an unknown role, or an issuer that is not a URL (400 on the field)', async () => {
    for (const [body, field] of [
      [{ email: 'not-an-email' }, 'email'],
      [{ roles: ['superuser'] }, 'roles.0'],
      [{ issuer: 'not a url', subject: 's' }, 'issuer'],
    ] as const) {
      const response = await t.call('POST', '/v1/users', {
        key: t.adminKey,
        body: { displayName: 'x', ...body },
      });
      expectError(response, 400, 'invalid_request', field);
    }
  });

  it('needs an admin to create users (operator → 403), while an operator may read them', async () => {
    const operator = await createApiKey(t, t.adminKey, { roles: ['operator'] });
    expectError(
      await t.call('POST', '/v1/users', { key: operator.secret, body: { displayName: 'x' } }),
      403,
      'forbidden',
    );
    expectOk(await t.call('GET', '/v1/users', { key: operator.secret }));
  });

  it('lists users with status and kind filters', async () => {
    const oidc = await createUser(t, t.adminKey, { issuer: 'https://idp.example.com', subject: 'sub-list' });
    const users = (await walk(t, t.adminKey, '/v1/users?kind=oidc&limit=2')).items;
    expect(users.every((u) => u.kind === 'oidc')).toBe(true);
    expect(users.map((u) => u.id)).toContain(oidc.id);
  });
});

describe('users: update', () => {
  it('changes roles, display name and email', async () => {
    const user = await createUser(t, t.adminKey, { roles: ['operator'] });
    const updated = expectOk(
      await t.call('PATCH', `/v1/users/${user.id}`, {
        key: t.adminKey,
        body: { roles: ['auditor', 'approver', 'auditor'], displayName: 'Renamed', email: 'r@example.com' },
      }),
    );
    expect(updated).toMatchObject({
      roles: ['auditor', 'approver'],
      displayName: 'Renamed',
      email: 'r@example.com',
    });
    expect(expectOk(await t.call('GET', `/v1/users/${user.id}`, { key: t.adminKey }))).toEqual(updated);
  });

  it('answers 404 for an unknown user', async () => {
    expectError(
      await t.call('PATCH', `/v1/users/${unknownId('user')}`, {
        key: t.adminKey,
        body: { displayName: 'x' },
      }),
      404,
      'not_found',
    );
  });

  it('refuses to change an offboarded user (409)', async () => {
    const user = await createUser(t, t.adminKey);
    expectOk(await offboard(user.id));
    const response = await t.call('PATCH', `/v1/users/${user.id}`, {
      key: t.adminKey,
      body: { displayName: 'x' },
    });
    expect(response.status).toBe(409);
  });
});

describe('users: offboarding', () => {
  it('is refused (409) while the user owns a non-revoked agent, and allowed once the agent is transferred', async () => {
    const leaver = await createUser(t, t.adminKey);
    const heir = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, leaver.id);

    const refused = await offboard(leaver.id);
    expectError(refused, 409, 'conflict');
    expect(refused.body.error.message).toContain('1 agent');
    expect(expectOk(await t.call('GET', `/v1/users/${leaver.id}`, { key: t.adminKey })).status).toBe(
      'active',
    );

    expectOk(
      await t.call('POST', `/v1/agents/${agent.id}/transfer`, {
        key: t.adminKey,
        body: { ownerId: heir.id, reason: 'x' },
      }),
    );
    const done = expectOk(await offboard(leaver.id));
    expect(done.status).toBe('offboarded');
    expect(done.offboardedAt).toBe(t.clock.now().toISOString());
    expect(
      expectOk(await t.call('GET', '/v1/users?status=offboarded&limit=200', { key: t.adminKey })).items.map(
        (u: any) => u.id,
      ),
    ).toContain(leaver.id);
  });

  it('counts suspended and pending agents as live, revoked ones not', async () => {
    const leaver = await createUser(t, t.adminKey);
    const agent = await registerAgent(t, t.adminKey, leaver.id);
    expectError(await offboard(leaver.id), 409, 'conflict');
    expectOk(
      await t.call('POST', `/v1/agents/${agent.id}/revoke`, { key: t.adminKey, body: { reason: 'x' } }),
    );
    expect(expectOk(await offboard(leaver.id)).status).toBe('offboarded');
  });

  it('refuses to offboard an offboarded user (409)', async () => {
    const user = await createUser(t, t.adminKey);
    expectOk(await offboard(user.id));
    expectError(await offboard(user.id), 409, 'illegal_transition');
  });

  it('needs a reason (400), an admin (403) and a known user (404)', async () => {
    const user = await createUser(t, t.adminKey);
    const operator = await createApiKey(t, t.adminKey, { roles: ['operator'] });
    expectError(
      await t.call('POST', `/v1/users/${user.id}/offboard`, { key: t.adminKey, body: {} }),
      400,
      'invalid_request',
      'reason',
    );
    expectError(await offboard(user.id, operator.secret), 403, 'forbidden');
    expectError(await offboard(unknownId('user')), 404, 'not_found');
  });

  it('refuses an offboarded user as the owner of a new agent (400 on ownerId)', async () => {
    const user = await createUser(t, t.adminKey);
    expectOk(await offboard(user.id));
    const response = await t.call('POST', '/v1/agents', { key: t.adminKey, body: await agentBody(user.id) });
    expectError(response, 400, 'invalid_request', 'ownerId');
  });
});

describe('API keys: secrets', () => {
  it('returns the secret once, at creation, and never in GET or list', async () => {
    const response = await t.call('POST', '/v1/api-keys', {
      key: t.adminKey,
      body: { name: 'ci', roles: ['operator', 'operator'] },
    });
    const created = expectOk(response, 201);
    expect(created.secret).toMatch(/^mk_key_[0-9A-Z]{26}_[A-Za-z0-9_-]{43}$/);
    expect(keyIdOf(created.secret)).toBe(created.key.id);
    expect(created.key).toMatchObject({ name: 'ci', roles: ['operator'], orgId: t.defaultOrgId });
    expect(created.key).not.toHaveProperty('secret');
    expect(created.key).not.toHaveProperty('secretHash');
    expect(created.key).not.toHaveProperty('version');

    const secretPart = created.secret.split('_').slice(3).join('_');
    const shown = await t.call('GET', `/v1/api-keys/${created.key.id}`, { key: t.adminKey });
    expect(expectOk(shown)).toEqual(created.key);
    const list = await walk(t, t.adminKey, '/v1/api-keys?limit=2');
    expect(list.items.map((k) => k.id)).toContain(created.key.id);
    for (const text of [shown.text, JSON.stringify(list.items)]) {
      expect(text).not.toContain('"secret"');
      expect(text).not.toContain('secretHash');
      expect(text).not.toContain(secretPart);
    }
  });

  it('works as a credential at once, with the roles it was given', async () => {
    const auditor = await createApiKey(t, t.adminKey, { roles: ['auditor'] });
    expectOk(await t.call('GET', '/v1/agents', { key: auditor.secret }));
    expectOk(await t.call('GET', '/v1/audit/events', { key: auditor.secret }));
    expectError(
      await t.call('POST', '/v1/users', { key: auditor.secret, body: { displayName: 'x' } }),
      403,
      'forbidden',
    );
  });

  it('refuses a wrong secret for an existing key id (401)', async () => {
    const created = await createApiKey(t, t.adminKey, { roles: ['admin'] });
    const forged = `mk_${created.id}_${'A'.repeat(43)}`;
    expectError(await t.call('GET', '/v1/agents', { key: forged }), 401, 'unauthorized');
  });

  it('needs an admin to manage keys (operator → 403)', async () => {
    const operator = await createApiKey(t, t.adminKey, { roles: ['operator'] });
    expectError(
      await t.call('POST', '/v1/api-keys', { key: operator.secret, body: { name: 'x', roles: ['admin'] } }),
      403,
      'forbidden',
    );
    expectError(await t.call('GET', '/v1/api-keys', { key: operator.secret }), 403, 'forbidden');
  });

  it('answers 404 for an unknown key id', async () => {
    expectError(
      await t.call('GET', `/v1/api-keys/${unknownId('apiKey')}`, { key: t.adminKey }),
      404,
      'not_found',
    );
  });
});

describe('API keys: revocation', () => {
  it('stops a revoked key at once (401)', async () => {
    const created = await createApiKey(t, t.adminKey, { roles: ['operator'] });
    expectOk(await t.call('GET', '/v1/agents', { key: created.secret }));
    const revoked = expectOk(
      await t.call('POST', `/v1/api-keys/${created.id}/revoke`, {
        key: t.adminKey,
        body: { reason: 'leaked' },
      }),
    );
    expect(revoked.revokedAt).toBe(t.clock.now().toISOString());
    expect(revoked.revokedBy).toEqual({ kind: 'api_key', id: keyIdOf(t.adminKey) });
    expectError(await t.call('GET', '/v1/agents', { key: created.secret }), 401, 'unauthorized');
  });

  it('refuses to revoke a key twice (409) or an unknown key (404)', async () => {
    const created = await createApiKey(t, t.adminKey, { roles: ['operator'] });
    expectOk(await t.call('POST', `/v1/api-keys/${created.id}/revoke`, { key: t.adminKey }));
    expectError(
      await t.call('POST', `/v1/api-keys/${created.id}/revoke`, { key: t.adminKey }),
      409,
      'illegal_transition',
    );
    expectError(
      await t.call('POST', `/v1/api-keys/${unknownId('apiKey')}/revoke`, { key: t.adminKey }),
      404,
      'not_found',
    );
  });

  it('lets an admin key revoke itself, after which it is refused', async () => {
    const admin = await createApiKey(t, t.adminKey, { roles: ['admin'] });
    expectOk(await t.call('POST', `/v1/api-keys/${admin.id}/revoke`, { key: admin.secret }));
    expectError(await t.call('GET', '/v1/agents', { key: admin.secret }), 401, 'unauthorized');
  });
});

describe('API keys: expiry and last use', () => {
  // The clock moves here.
  let e: TestApp;
  beforeAll(async () => {
    e = await startTestApp();
  });
  afterAll(async () => e.close());

  it('sets lastUsedAt when the key is used', async () => {
    const created = await createApiKey(e, e.adminKey, { roles: ['operator'] });
    expect(created.key.lastUsedAt).toBeUndefined();
    expect(
      expectOk(await e.call('GET', `/v1/api-keys/${created.id}`, { key: e.adminKey })).lastUsedAt,
    ).toBeUndefined();

    expectOk(await e.call('GET', '/v1/agents', { key: created.secret }));
    const usedAt = e.clock.now().toISOString();
    expect(expectOk(await e.call('GET', `/v1/api-keys/${created.id}`, { key: e.adminKey })).lastUsedAt).toBe(
      usedAt,
    );

    e.clock.advance(10 * 60_000);
    expectOk(await e.call('GET', '/v1/agents', { key: created.secret }));
    expect(expectOk(await e.call('GET', `/v1/api-keys/${created.id}`, { key: e.adminKey })).lastUsedAt).toBe(
      e.clock.now().toISOString(),
    );
  });

  it('refuses an expiresAt in the past (400 on expiresAt)', async () => {
    const response = await e.call('POST', '/v1/api-keys', {
      key: e.adminKey,
      body: { name: 'x', roles: ['operator'], expiresAt: fromNow(e, -60_000) },
    });
    expectError(response, 400, 'invalid_request', 'expiresAt');
  });

  it('stops working once its expiry passes (401)', async () => {
    const created = await createApiKey(e, e.adminKey, { roles: ['operator'], expiresAt: fromNow(e, 60_000) });
    expectOk(await e.call('GET', '/v1/agents', { key: created.secret }));
    e.clock.advance(2 * 60_000);
    expectError(await e.call('GET', '/v1/agents', { key: created.secret }), 401, 'unauthorized');
  });
});

describe('API keys bound to a user', () => {
  it('act for that user, and stop working (401) once the user is offboarded', async () => {
    const { user, secret, keyId } = await userWithOperatorKey(t, 'temp');
    const shown = expectOk(await t.call('GET', `/v1/api-keys/${keyId}`, { key: t.adminKey }));
    expect(shown.userId).toBe(user.id);
    expectOk(await t.call('GET', '/v1/agents', { key: secret }));

    expectOk(await offboard(user.id));
    expectError(await t.call('GET', '/v1/agents', { key: secret }), 401, 'unauthorized');
  });

  it('cannot be created for an unknown or offboarded user (400 on userId)', async () => {
    const gone = await createUser(t, t.adminKey);
    expectOk(await offboard(gone.id));
    for (const userId of [unknownId('user'), gone.id]) {
      const response = await t.call('POST', '/v1/api-keys', {
        key: t.adminKey,
        body: { name: 'x', roles: ['operator'], userId },
      });
      expectError(response, 400, 'invalid_request', 'userId');
    }
  });
});
