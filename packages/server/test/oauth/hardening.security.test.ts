/**
 * Rules added after a security review of the token endpoint, each a test that fails without it:
 * a subject token must be key-bound and meant for Mandate; a standing (autonomous) grant is
 * neither exchanged as a human's nor re-delegated; a credential narrowed in depth caps the
 * re-delegation by one hop; an emergency rotation ends every token of the withdrawn key; the
 * OAuth routes answer media-type errors in the OAuth shape.
 */
import { MasterKey, MemoryStore, TokenSigningKeys } from '@mandate/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../harness.js';
import { activeAgent, claimsOf, HOUR, introspect, pepKey, startOAuthApp, type TestAgent } from './helpers.js';

let t: TestApp;
let close: () => Promise<void>;
let aliceId: string;
let a: TestAgent;
let b: TestAgent;
let c: TestAgent;
let pep: string;

const grant = async (
  agent: TestAgent,
  scope: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) => {
  const granted = await t.call('POST', '/v1/delegations', {
    key: t.adminKey,
    body: {
      delegateAgentId: agent.id,
      purpose: 'hardening',
      onBehalfOf: aliceId,
      scope: {
        actions: ['email.*'],
        resources: ['mailbox:alice/*'],
        expiresAt: new Date(t.clock.now().getTime() + HOUR).toISOString(),
        maxDepth: 2,
        ...scope,
      },
      ...extra,
    },
  });
  expect(granted.status, granted.text).toBe(201);
  return granted.body.id as string;
};

beforeAll(async () => {
  ({ t, close } = await startOAuthApp());
  const alice = await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } });
  aliceId = alice.body.id;
  a = await activeAgent(t, aliceId, 'a');
  b = await activeAgent(t, aliceId, 'b');
  c = await activeAgent(t, aliceId, 'c');
  pep = await pepKey(t);
});
afterAll(async () => close?.());

describe('subject tokens', () => {
  it('a bearer (unbound) token of A cannot be exchanged by B: handing it on would hand on A', async () => {
    const dlgA = await grant(a);
    const bound = await a.creds.exchange({ delegation: dlgA });
    await a.creds.redelegate(bound, dlgA, {
      delegateAgentId: b.id,
      purpose: 'read',
      scope: { actions: ['email.read'] },
    });
    const bearer = await a.creds.exchange({ delegation: dlgA, dpop: false });
    await expect(b.creds.exchange({ subjectToken: bearer.access_token })).rejects.toMatchObject({
      code: 'invalid_grant',
      message: expect.stringMatching(/key-bound/),
    });
    // Control: A's key-bound token is a valid subject token.
    await expect(b.creds.exchange({ subjectToken: bound.access_token })).resolves.toMatchObject({
      token_type: 'DPoP',
    });
  });

  it('a token minted for another audience is neither a subject token nor a credential at Mandate', async () => {
    const dlgA = await grant(a);
    const control = await a.creds.exchange({ delegation: dlgA });
    await a.creds.redelegate(control, dlgA, {
      delegateAgentId: b.id,
      purpose: 'read',
      scope: { actions: ['email.read'] },
    });
    const forApi = await a.creds.exchange({ delegation: dlgA, resource: ['https://mail.example/'] });
    expect(claimsOf(forApi.access_token).aud).toBe('https://mail.example/');
    await expect(b.creds.exchange({ subjectToken: forApi.access_token })).rejects.toMatchObject({
      code: 'invalid_grant',
    });
    await expect(
      a.creds.redelegate(forApi, dlgA, { delegateAgentId: c.id, purpose: 'x', scope: {} }),
    ).rejects.toMatchObject({ status: 401, message: expect.stringMatching(/^token_invalid/) });
    // It is still a valid token of the org for introspection (an enforcement point may ask).
    expect((await introspect(t, pep, forApi.access_token)).body.active).toBe(true);
  });
});

describe('standing delegations', () => {
  it('are used with client_credentials only: exchanging one by id is refused', async () => {
    const owned = await activeAgent(t, aliceId, 'autonomous');
    const standing = await grant(owned, { maxDepth: 1 }, { standing: true });
    await expect(owned.creds.exchange({ delegation: standing })).rejects.toMatchObject({
      code: 'invalid_grant',
    });
    const token = await owned.creds.clientCredentials();
    expect(claimsOf(token.access_token)).toMatchObject({ sub: owned.id, client_id: owned.id, dlg: standing });
    expect(claimsOf(token.access_token).act).toBeUndefined();
    // …and are not handed on (there would be no human root to name in the sub-agent's token).
    await expect(
      owned.creds.redelegate(token, standing, { delegateAgentId: b.id, purpose: 'x', scope: {} }),
    ).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/standing/) });
  });
});

describe('re-delegation depth from a narrowed credential', () => {
  it('a token narrowed to maxDepth 1 allows one more hop, not two', async () => {
    const dlgA = await grant(a, { maxDepth: 2 });
    const narrowed = await a.creds.exchange({ delegation: dlgA, narrow: { maxDepth: 1 } });
    expect(claimsOf(narrowed.access_token).authorization_details[0].scope.maxDepth).toBe(1);
    await expect(
      a.creds.redelegate(narrowed, dlgA, { delegateAgentId: b.id, purpose: 'x', scope: { maxDepth: 1 } }),
    ).rejects.toThrow(/depth \(/);
    const child = await a.creds.redelegate(narrowed, dlgA, {
      delegateAgentId: b.id,
      purpose: 'x',
      scope: {},
    });
    expect(child.scope.maxDepth).toBe(0);
    const tokenB = await b.creds.exchange({ subjectToken: narrowed.access_token, delegation: child.id });
    await expect(
      b.creds.redelegate(tokenB, child.id, { delegateAgentId: c.id, purpose: 'x', scope: {} }),
    ).rejects.toThrow(/depth/);
  });

  it('a token narrowed to maxDepth 0 cannot re-delegate at all', async () => {
    const dlgA = await grant(a, { maxDepth: 2 });
    const narrowed = await a.creds.exchange({ delegation: dlgA, narrow: { maxDepth: 0 } });
    await expect(
      a.creds.redelegate(narrowed, dlgA, { delegateAgentId: b.id, purpose: 'x', scope: {} }),
    ).rejects.toThrow(/depth/);
  });
});

describe('signing keys', () => {
  it('an emergency rotation (compromised) ends every token the old key signed at once', async () => {
    const dlgA = await grant(a);
    const before = await a.creds.exchange({ delegation: dlgA });
    expect((await introspect(t, pep, before.access_token)).body.active).toBe(true);
    const routine = await t.call('POST', '/v1/signing-keys/rotate', { key: t.platformKey, body: {} });
    expect(routine.status, routine.text).toBe(200);
    // A routine rotation keeps the old key's tokens working…
    expect((await introspect(t, pep, before.access_token)).body.active).toBe(true);
    const middle = await a.creds.exchange({ delegation: dlgA });
    const emergency = await t.call('POST', '/v1/signing-keys/rotate', {
      key: t.platformKey,
      body: { compromised: true },
    });
    expect(emergency.status, emergency.text).toBe(200);
    // …an emergency one withdraws the key that signed `middle` at once.
    expect((await introspect(t, pep, middle.access_token)).body.active).toBe(false);
    const jwks = (await t.call('GET', '/.well-known/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
    expect(emergency.body.retired).toHaveLength(1);
    expect(jwks).not.toContain(emergency.body.retired[0]);
    const after = await a.creds.exchange({ delegation: dlgA });
    expect((await introspect(t, pep, after.access_token)).body.active).toBe(true);
  });

  it('a key record written into the store without the master key is refused at load', async () => {
    const store = new MemoryStore();
    const masterKey = MasterKey.generate();
    const clock = { now: () => new Date() };
    const genuine = new TokenSigningKeys(store.platform, masterKey, clock);
    await genuine.load();
    const [record] = await store.platform.listTokenSigningKeys();
    if (!record) throw new Error('no key');
    // An attacker with write access to the database plants a key of their own as a retired one.
    const planted = {
      ...record,
      kid: 'planted-key',
      publicJwk: { ...record.publicJwk, x: 'A'.repeat(43) },
      status: 'retired' as const,
      retiredAt: new Date().toISOString(),
      publishUntil: new Date(Date.now() + 60_000).toISOString(),
    };
    await store.platform.saveTokenSigningKeys([planted]);
    await expect(new TokenSigningKeys(store.platform, masterKey, clock).load()).rejects.toThrow(
      /does not match|cannot be opened/,
    );
  });
});

describe('OAuth error shape before the handler', () => {
  it('a text/plain body at /oauth/token is a 400 invalid_request in the OAuth shape', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'text/plain' },
      payload: 'grant_type=client_credentials',
    });
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toEqual({
      error: 'invalid_request',
      error_description: expect.any(String),
    });
    expect(response.headers['cache-control']).toBe('no-store');
  });
});
