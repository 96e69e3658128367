import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicJwk, startTestApp, type TestApp } from '../harness.js';
import { agentBody, createUser, expectError, expectOk, registerAgent, unknownId } from './helpers.js';

let t: TestApp;
let ownerId: string;
beforeAll(async () => {
  t = await startTestApp();
  ownerId = (await createUser(t, t.adminKey)).id;
});
afterAll(async () => t.close());

const addKey = (agentId: string, jwk: unknown) =>
  t.call('POST', `/v1/agents/${agentId}/keys`, { key: t.adminKey, body: { jwk } });
const retire = (agentId: string, kid: string, body?: Record<string, unknown>) =>
  t.call('POST', `/v1/agents/${agentId}/keys/${kid}/retire`, { key: t.adminKey, body });
const listKeys = async (agentId: string) =>
  expectOk(await t.call('GET', `/v1/agents/${agentId}/keys`, { key: t.adminKey })).items;
const register = async (keys: unknown[]) =>
  t.call('POST', '/v1/agents', { key: t.adminKey, body: await agentBody(ownerId, { keys }) });

/** A public JWK with one member replaced. */
const withMember = (jwk: Record<string, string>, member: string, bytes: Buffer) => ({
  ...jwk,
  [member]: bytes.toString('base64url'),
});

describe('registration with keys', () => {
  it.each([
    ['Ed25519', 'EdDSA' as const, { kty: 'OKP', crv: 'Ed25519' }],
    ['P-256', 'ES256' as const, { kty: 'EC', crv: 'P-256' }],
  ])('accepts an %s key; its kid is the RFC 7638 thumbprint', async (_name, alg, shape) => {
    const jwk = await publicJwk(alg);
    const agent = expectOk(await register([jwk]), 201);
    expect(agent.keys).toHaveLength(1);
    const [key] = agent.keys;
    expect(key.kid).toBe(await calculateJwkThumbprint(jwk as never, 'sha256'));
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({ status: 'active', jwk: { ...shape, x: jwk.x } });
    expect(key.addedAt).toBe(agent.createdAt);
    expect(key.retiredAt).toBeUndefined();
  });

  it('keeps only the public members of the JWK (alg, kid, ext are dropped; the thumbprint is unchanged)', async () => {
    const jwk = await publicJwk();
    const agent = expectOk(
      await register([{ ...jwk, alg: 'EdDSA', kid: 'mine', use: 'sig', ext: true }]),
      201,
    );
    expect(agent.keys[0].jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: jwk.x });
    expect(agent.keys[0].kid).toBe(await calculateJwkThumbprint(jwk as never, 'sha256'));
  });

  it('accepts several keys of mixed types at once', async () => {
    const keys = [await publicJwk(), await publicJwk('ES256')];
    const agent = expectOk(await register(keys), 201);
    expect(agent.keys.map((k: any) => k.kid)).toEqual(
      await Promise.all(keys.map((k) => calculateJwkThumbprint(k as never, 'sha256'))),
    );
  });

  it('refuses the same key listed twice (400)', async () => {
    const jwk = await publicJwk();
    expectError(await register([jwk, jwk]), 400, 'invalid_request', 'keys[1]');
  });

  it('refuses an agent without keys (400 on keys)', async () => {
    expectError(await register([]), 400, 'invalid_request', 'keys');
  });

  it('lists the keys at GET /v1/agents/:id/keys', async () => {
    const agent = expectOk(await register([await publicJwk(), await publicJwk('ES256')]), 201);
    expect(await listKeys(agent.id)).toEqual(agent.keys);
  });

  it('answers 404 for the keys of an unknown agent', async () => {
    expectError(
      await t.call('GET', `/v1/agents/${unknownId('agent')}/keys`, { key: t.adminKey }),
      404,
      'not_found',
    );
  });
});

describe('rotation: add, then retire', () => {
  it('adds a key (201), both keys then active; retiring the old one marks it retired with retiredAt', async () => {
    const agent = await registerAgent(t, t.adminKey, ownerId);
    const oldKid = agent.keys[0].kid;
    const next = await publicJwk('ES256');
    const newKid = await calculateJwkThumbprint(next as never, 'sha256');

    const added = expectOk(await addKey(agent.id, next), 201);
    expect(added.keys.map((k: any) => [k.kid, k.status])).toEqual([
      [oldKid, 'active'],
      [newKid, 'active'],
    ]);

    const retired = expectOk(await retire(agent.id, oldKid, { reason: 'rotation' }));
    const old = retired.keys.find((k: any) => k.kid === oldKid);
    expect(old.status).toBe('retired');
    expect(typeof old.retiredAt).toBe('string');
    expect(Date.parse(old.retiredAt)).toBe(t.clock.now().getTime());
    expect(retired.keys.find((k: any) => k.kid === newKid).status).toBe('active');

    expect(await listKeys(agent.id)).toEqual(retired.keys);
  });

  it('refuses to retire the last active key (409 last_active_key)', async () => {
    const agent = await registerAgent(t, t.adminKey, ownerId);
    const response = await retire(agent.id, agent.keys[0].kid);
    expectError(response, 409, 'last_active_key');
    expect((await listKeys(agent.id))[0].status).toBe('active');
  });

  it('refuses to retire the last active key even when retired keys remain', async () => {
    const agent = await registerAgent(t, t.adminKey, ownerId);
    const second = expectOk(await addKey(agent.id, await publicJwk()), 201).keys[1].kid;
    expectOk(await retire(agent.id, agent.keys[0].kid));
    expectError(await retire(agent.id, second), 409, 'last_active_key');
  });

  it('refuses to retire an already retired key (409)', async () => {
    const agent = await registerAgent(t, t.adminKey, ownerId);
    expectOk(await addKey(agent.id, await publicJwk()), 201);
    expectOk(await retire(agent.id, agent.keys[0].kid));
    expectError(await retire(agent.id, agent.keys[0].kid), 409, 'illegal_transition');
  });

  it('answers 404 for an unknown kid, 400 for a kid that is not a thumbprint', async () => {
    const agent = await registerAgent(t, t.adminKey, ownerId);
    const stranger = await calculateJwkThumbprint((await publicJwk()) as never, 'sha256');
    expectError(await retire(agent.id, stranger), 404, 'not_found');
    expectError(await retire(agent.id, 'short'), 400, 'invalid_request', 'kid');
  });

  it('refuses the same key added twice to one agent (409 duplicate)', async () => {
    const agent = await registerAgent(t, t.adminKey, ownerId);
    const jwk = await publicJwk();
    expectOk(await addKey(agent.id, jwk), 201);
    expectError(await addKey(agent.id, jwk), 409, 'duplicate');
    expect(await listKeys(agent.id)).toHaveLength(2);
  });

  it('refuses to add a key to a revoked agent (409)', async () => {
    const agent = await registerAgent(t, t.adminKey, ownerId);
    expectOk(
      await t.call('POST', `/v1/agents/${agent.id}/revoke`, { key: t.adminKey, body: { reason: 'x' } }),
    );
    expectError(await addKey(agent.id, await publicJwk()), 409, 'illegal_transition');
  });

  it('holds at most 10 active keys (409 conflict on the 11th)', async () => {
    const agent = await registerAgent(t, t.adminKey, ownerId);
    for (let i = 1; i < 10; i++) expectOk(await addKey(agent.id, await publicJwk()), 201);
    expectError(await addKey(agent.id, await publicJwk()), 409, 'conflict');
  });
});

describe('one key, one agent', () => {
  it('refuses a public key already registered on another agent (409 duplicate), at registration and when added', async () => {
    const jwk = await publicJwk();
    const first = expectOk(await register([jwk]), 201);
    expectError(await register([jwk]), 409, 'duplicate');

    const second = await registerAgent(t, t.adminKey, ownerId);
    expectError(await addKey(second.id, jwk), 409, 'duplicate');
    expect(await listKeys(second.id)).toHaveLength(1);
    expect(await listKeys(first.id)).toHaveLength(1);
  });

  it('still refuses the key once it is retired on its first agent', async () => {
    const first = await registerAgent(t, t.adminKey, ownerId);
    const jwk = await publicJwk();
    expectOk(await addKey(first.id, jwk), 201);
    expectOk(await retire(first.id, await calculateJwkThumbprint(jwk as never, 'sha256')));
    expectError(await register([jwk]), 409, 'duplicate');
  });
});

describe('bad keys', () => {
  let agentId: string;
  beforeAll(async () => {
    agentId = (await registerAgent(t, t.adminKey, ownerId)).id;
  });

  /** Each bad key is refused both at registration (field keys[0]) and when added (field jwk). */
  async function expectRefused(jwk: unknown, messagePart?: string) {
    const registered = await register([jwk]);
    expectError(registered, 400, 'invalid_request', 'keys[0]');
    const added = await addKey(agentId, jwk);
    expectError(added, 400, 'invalid_request', 'jwk');
    if (messagePart) {
      expect(registered.body.error.message).toContain(messagePart);
      expect(added.body.error.message).toContain(messagePart);
    }
  }

  it.each(['EdDSA', 'ES256'] as const)(
    'refuses a private %s JWK (with "d"), saying it is private',
    async (alg) => {
      const { privateKey } = await generateKeyPair(alg, { extractable: true });
      const jwk = await exportJWK(privateKey);
      expect(jwk.d).toBeDefined();
      await expectRefused(jwk, 'private');
    },
  );

  it('refuses an RSA key', async () => {
    const { publicKey } = await generateKeyPair('RS256', { extractable: true });
    await expectRefused(await exportJWK(publicKey), 'Ed25519');
  });

  it('refuses other curves (P-384, X25519)', async () => {
    const { publicKey } = await generateKeyPair('ES384', { extractable: true });
    await expectRefused(await exportJWK(publicKey));
    await expectRefused({ kty: 'OKP', crv: 'X25519', x: (await publicJwk()).x });
  });

  it.each([31, 33, 0])('refuses an Ed25519 key whose x is %i bytes long', async (length) => {
    await expectRefused(withMember(await publicJwk(), 'x', Buffer.alloc(length, 7)));
  });

  it('refuses a P-256 point that is not on the curve', async () => {
    const jwk = await publicJwk('ES256');
    const y = Buffer.from(jwk.y as string, 'base64url');
    y[31] = (y[31] as number) ^ 1;
    await expectRefused(withMember(jwk, 'y', y), 'not a valid key');
  });

  it('refuses a P-256 key without y, and keys that are not objects', async () => {
    const { y: _y, ...noY } = await publicJwk('ES256');
    await expectRefused(noY);
    expectError(await register(['a string']), 400, 'invalid_request', 'keys.0');
    expectError(await addKey(agentId, null), 400, 'invalid_request', 'jwk');
  });

  it('refuses a key whose use is not "sig"', async () => {
    await expectRefused({ ...(await publicJwk()), use: 'enc' }, 'sig');
  });

  it('leaves the agent untouched after all these refusals', async () => {
    expect(await listKeys(agentId)).toHaveLength(1);
  });
});
