import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../harness.js';
import {
  agentBody,
  createApiKey,
  createUser,
  expectError,
  expectOk,
  keyIdOf,
  registerAgent,
  unknownId,
  walk,
} from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const createOrg = async (name: string) =>
  expectOk(await t.call('POST', '/v1/orgs', { key: t.platformKey, body: { name } }), 201);

describe('creating an org (platform key)', () => {
  it('answers 201 with the org and its first admin key, secret included', async () => {
    const created = await createOrg('Acme');
    expect(created.org).toMatchObject({ name: 'Acme', status: 'active' });
    expect(created.org.id).toMatch(/^org_[0-9A-Z]{26}$/);
    expect(created.adminKey.secret).toMatch(/^mk_key_[0-9A-Z]{26}_[A-Za-z0-9_-]{43}$/);
    expect(created.adminKey.key).toMatchObject({ orgId: created.org.id, roles: ['admin'] });
    expect(keyIdOf(created.adminKey.secret)).toBe(created.adminKey.key.id);
    expect(created.adminKey.key).not.toHaveProperty('secretHash');
  });

  it('does not show the internal version field, like agents, users and keys', async () => {
    const created = await createOrg('Versionless');
    expect(created.org).not.toHaveProperty('version');
    const shown = expectOk(await t.call('GET', `/v1/orgs/${created.org.id}`, { key: t.platformKey }));
    expect(shown).not.toHaveProperty('version');
  });

  it('gives an admin key that works in the new org only, seeing none of the default org', async () => {
    const owner = await createUser(t, t.adminKey);
    const defaultAgent = await registerAgent(t, t.adminKey, owner.id);

    const { org, adminKey } = await createOrg('Isolated');
    const key = adminKey.secret;
    expect(expectOk(await t.call('GET', '/v1/agents', { key })).items).toEqual([]);
    expect(expectOk(await t.call('GET', '/v1/users', { key })).items).toEqual([]);
    expect(expectOk(await t.call('GET', '/v1/api-keys', { key })).items.map((k: any) => k.id)).toEqual([
      adminKey.key.id,
    ]);
    expectError(await t.call('GET', `/v1/agents/${defaultAgent.id}`, { key }), 404, 'not_found');
    expectError(await t.call('GET', `/v1/users/${owner.id}`, { key }), 404, 'not_found');
    expectError(
      await t.call('POST', `/v1/agents/${defaultAgent.id}/suspend`, { key, body: { reason: 'cross-org' } }),
      404,
      'not_found',
    );
    expectError(
      await t.call('POST', '/v1/agents', { key, body: await agentBody(owner.id) }),
      400,
      'invalid_request',
      'ownerId',
    );

    // It can work in its own org, whose objects are filed there.
    const localOwner = await createUser(t, key);
    expect(localOwner.orgId).toBe(org.id);
    const agent = await registerAgent(t, key, localOwner.id);
    expect(agent.orgId).toBe(org.id);
    expectError(await t.call('GET', `/v1/agents/${agent.id}`, { key: t.adminKey }), 404, 'not_found');
  });

  it('starts the new org its own audit log, from seq 0', async () => {
    const { org, adminKey } = await createOrg('Audited');
    const events = (await walk(t, adminKey.secret, '/v1/audit/events')).items;
    expect(events.map((e) => [e.seq, e.type, e.orgId])).toEqual([
      [0, 'org.created', org.id],
      [1, 'api_key.created', org.id],
    ]);
    expect(events[0].actor).toMatchObject({ kind: 'platform' });
  });

  it('needs a name (400), and no unknown fields', async () => {
    expectError(
      await t.call('POST', '/v1/orgs', { key: t.platformKey, body: {} }),
      400,
      'invalid_request',
      'name',
    );
    expectError(
      await t.call('POST', '/v1/orgs', { key: t.platformKey, body: { name: 'x', plan: 'pro' } }),
      400,
      'invalid_request',
      'body',
    );
  });
});

describe('reading and renaming orgs', () => {
  it('shows an org with GET /v1/orgs/:id and lists it', async () => {
    const { org } = await createOrg('Shown');
    expect(expectOk(await t.call('GET', `/v1/orgs/${org.id}`, { key: t.platformKey }))).toEqual(org);
    const all = (await walk(t, t.platformKey, '/v1/orgs?limit=2')).items.map((o) => o.id);
    expect(all).toContain(org.id);
    expect(all).toContain(t.defaultOrgId);
    expect(new Set(all).size).toBe(all.length);
  });

  it('renames an org with PATCH', async () => {
    const { org } = await createOrg('Old name');
    const renamed = expectOk(
      await t.call('PATCH', `/v1/orgs/${org.id}`, { key: t.platformKey, body: { name: 'New name' } }),
    );
    expect(renamed).toMatchObject({ id: org.id, name: 'New name' });
    expect(expectOk(await t.call('GET', `/v1/orgs/${org.id}`, { key: t.platformKey })).name).toBe('New name');
  });

  it('answers 404 for an unknown org', async () => {
    const id = unknownId('org');
    expectError(await t.call('GET', `/v1/orgs/${id}`, { key: t.platformKey }), 404, 'not_found');
    expectError(
      await t.call('PATCH', `/v1/orgs/${id}`, { key: t.platformKey, body: { name: 'x' } }),
      404,
      'not_found',
    );
  });
});

describe('platform keys and org keys do not mix', () => {
  it('refuses an org admin key on /v1/orgs (403)', async () => {
    const { org } = await createOrg('Guarded');
    expectError(await t.call('GET', '/v1/orgs', { key: t.adminKey }), 403, 'forbidden');
    expectError(await t.call('POST', '/v1/orgs', { key: t.adminKey, body: { name: 'x' } }), 403, 'forbidden');
    expectError(await t.call('GET', `/v1/orgs/${org.id}`, { key: t.adminKey }), 403, 'forbidden');
    expectError(
      await t.call('PATCH', `/v1/orgs/${t.defaultOrgId}`, { key: t.adminKey, body: { name: 'x' } }),
      403,
      'forbidden',
    );
  });

  it('refuses any other org role on /v1/orgs too (403)', async () => {
    const auditor = await createApiKey(t, t.adminKey, { roles: ['auditor'] });
    expectError(await t.call('GET', '/v1/orgs', { key: auditor.secret }), 403, 'forbidden');
  });

  it('refuses a platform key inside an org (403)', async () => {
    expectError(await t.call('GET', '/v1/agents', { key: t.platformKey }), 403, 'forbidden');
    expectError(
      await t.call('POST', '/v1/users', { key: t.platformKey, body: { displayName: 'x' } }),
      403,
      'forbidden',
    );
    expectError(await t.call('GET', '/v1/audit/events', { key: t.platformKey }), 403, 'forbidden');
  });

  it('refuses /v1/orgs without a credential (401)', async () => {
    expectError(await t.call('GET', '/v1/orgs'), 401, 'unauthorized');
  });
});

describe('health and readiness', () => {
  it.each([
    ['/healthz', { status: 'ok' }],
    ['/readyz', { status: 'ready' }],
  ])('%s answers 200 without auth', async (url, body) => {
    expect(expectOk(await t.call('GET', url))).toEqual(body);
  });

  it('ignores a credential, even a garbage one', async () => {
    expectOk(await t.call('GET', '/healthz', { key: 'garbage' }));
  });
});

describe('OpenAPI document', () => {
  let doc: any;
  beforeAll(async () => {
    doc = expectOk(await t.call('GET', '/openapi.json'));
  });

  const pathOf = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}');
  const apiRoutes = () => t.routes.filter((route) => route.url !== '/openapi.json');

  it('is OpenAPI 3.1, served without auth', async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: 'test' });
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
  });

  it('lists every API route of the route table, with {param} paths and its method', async () => {
    expect(apiRoutes().length).toBeGreaterThan(20);
    for (const route of apiRoutes()) {
      const operation = doc.paths[pathOf(route.url)]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.url}`).toBeDefined();
      expect(operation.operationId).toBe(route.operationId);
      expect(Object.keys(operation.responses)).toContain(String(route.status ?? 200));
      expect(operation.security !== undefined).toBe(route.auth !== 'none');
    }
  });

  it('declares every path parameter, and nothing it does not serve', async () => {
    for (const [path, operations] of Object.entries<any>(doc.paths)) {
      expect(path).not.toContain(':');
      const params = [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]);
      for (const [method, operation] of Object.entries<any>(operations)) {
        const declared = operation.parameters.filter((p: any) => p.in === 'path').map((p: any) => p.name);
        expect(declared.sort(), `${method} ${path}`).toEqual([...params].sort());
        const served = t.routes.some((r) => pathOf(r.url) === path && r.method.toLowerCase() === method);
        expect(served, `${method} ${path}`).toBe(true);
      }
    }
    const operationIds = Object.values<any>(doc.paths).flatMap((ops) =>
      Object.values<any>(ops).map((o) => o.operationId),
    );
    expect(new Set(operationIds).size).toBe(operationIds.length);
  });

  it('lists GET /openapi.json itself', async () => {
    expect(t.routes.some((r) => r.url === '/openapi.json')).toBe(true);
    expect(doc.paths['/openapi.json']?.get?.operationId).toBe('getOpenApi');
  });
});
