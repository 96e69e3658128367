/**
 * API key secrets: stored only as SHA-256, never shown again after creation, never in the audit
 * log; every way of failing to authenticate answers the same 401 (no oracle).
 */
import fs from 'node:fs';
import path from 'node:path';
import { hashSecret, secretMatches } from '@mandate/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../harness.js';
import { createKey, createOrg, createUser, keyIdOf, listAll, secretOf, sha256hex } from './helpers.js';

const HOUR = 3_600_000;

describe('API key secrets at rest and in answers', () => {
  let t: TestApp;
  /** Every full token created in this app: API keys of two orgs, and the platform key. */
  const tokens: string[] = [];
  let orgB: { adminKey: string };

  beforeAll(async () => {
    t = await startTestApp();
    const owner = await createUser(t, t.adminKey, { displayName: 'owner' });
    tokens.push(t.adminKey, t.platformKey);
    tokens.push((await createKey(t, t.adminKey, ['admin'])).secret);
    tokens.push((await createKey(t, t.adminKey, ['operator'], { userId: owner.id })).secret);
    tokens.push((await createKey(t, t.adminKey, ['auditor', 'approver'])).secret);
    tokens.push(
      (await createKey(t, t.adminKey, ['pep'], { expiresAt: new Date(Date.now() + 48 * HOUR).toISOString() }))
        .secret,
    );
    const revoked = await createKey(t, t.adminKey, ['operator']);
    tokens.push(revoked.secret);
    expect(
      (await t.call('POST', `/v1/api-keys/${revoked.id}/revoke`, { key: t.adminKey, body: { reason: 'x' } }))
        .status,
    ).toBe(200);
    orgB = await createOrg(t, 'org b');
    tokens.push(orgB.adminKey);
    tokens.push((await createKey(t, orgB.adminKey, ['auditor'])).secret);
    // Use every API key once, so that last-used writes have happened too.
    for (const token of tokens) await t.call('GET', '/v1/agents', { key: token });
  });
  afterAll(async () => t?.close());

  it('the database file and its WAL hold each hash but no secret (raw bytes of every file in the data folder)', () => {
    const files = fs.readdirSync(t.dir).map((name) => path.join(t.dir, name));
    expect(files).toContain(t.dbFile);
    const bytes = files.filter((file) => fs.statSync(file).isFile()).map((file) => fs.readFileSync(file));
    const walFile = `${t.dbFile}-wal`;
    expect(fs.existsSync(walFile)).toBe(true);
    const all = Buffer.concat([fs.readFileSync(t.dbFile), fs.readFileSync(walFile), ...bytes]);
    expect(tokens.length).toBeGreaterThanOrEqual(9);
    for (const token of tokens) {
      const secret = secretOf(token);
      expect(secret).toHaveLength(43);
      expect(all.includes(secret), `secret of ${token.slice(0, 12)}… found on disk`).toBe(false);
      expect(all.includes(token)).toBe(false);
      // Positive control: the scan does see the stored form.
      expect(all.includes(sha256hex(secret)), `hash of ${token.slice(0, 12)}… not on disk`).toBe(true);
    }
  });

  it('the stored hash is the SHA-256 hex of the secret part', () => {
    for (const token of tokens) expect(hashSecret(secretOf(token))).toBe(sha256hex(secretOf(token)));
  });

  it('list, get and revoke answers carry neither the secret nor its hash', async () => {
    const created = await t.call('POST', '/v1/api-keys', {
      key: t.adminKey,
      body: { name: 'shown once', roles: ['pep'] },
    });
    expect(created.status).toBe(201);
    const secret = secretOf(created.body.secret);
    expect(Object.keys(created.body).sort()).toEqual(['key', 'secret']);
    expect(JSON.stringify(created.body.key)).not.toContain(secret);
    const texts: string[] = [JSON.stringify(created.body.key)];
    for (const key of [t.adminKey, orgB.adminKey]) {
      const list = await t.call('GET', '/v1/api-keys?limit=200', { key });
      expect(list.status).toBe(200);
      texts.push(list.text);
      for (const item of list.body.items) {
        expect(Object.keys(item)).not.toContain('secretHash');
        expect(Object.keys(item)).not.toContain('secret');
        const one = await t.call('GET', `/v1/api-keys/${item.id}`, { key });
        expect(one.status).toBe(200);
        texts.push(one.text);
      }
    }
    const revoked = await t.call('POST', `/v1/api-keys/${created.body.key.id}/revoke`, {
      key: t.adminKey,
      body: {},
    });
    expect(revoked.status).toBe(200);
    texts.push(revoked.text);
    const everything = texts.join('\n');
    expect(everything).not.toMatch(/secretHash|"secret"/);
    for (const token of [...tokens, created.body.secret]) {
      expect(everything).not.toContain(secretOf(token));
      expect(everything).not.toContain(sha256hex(secretOf(token)));
    }
  });

  it('no audit event of either org contains a secret, a hash, or a secretHash member', async () => {
    const events = [
      ...(await listAll(t, t.adminKey, '/v1/audit/events')),
      ...(await listAll(t, orgB.adminKey, '/v1/audit/events')),
    ];
    expect(events.filter((e) => e.type === 'api_key.created').length).toBeGreaterThanOrEqual(8);
    const text = JSON.stringify(events);
    expect(text).not.toContain('secretHash');
    for (const token of tokens) {
      expect(text).not.toContain(secretOf(token));
      expect(text).not.toContain(sha256hex(secretOf(token)));
    }
  });
});

describe('failed authentication', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  const flip = (secret: string) => `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;

  it('a key with a correct id and a wrong secret is 401; the right secret works', async () => {
    const { secret: token, id } = await createKey(t, t.adminKey, ['admin']);
    expect((await t.call('GET', '/v1/agents', { key: token })).status).toBe(200);
    const wrong = `mk_${id}_${flip(secretOf(token))}`;
    expect(wrong).not.toBe(token);
    const answer = await t.call('GET', '/v1/agents', { key: wrong });
    expect([answer.status, answer.body?.error?.code]).toEqual([401, 'unauthorized']);
    // Another key's secret with this key's id.
    const other = await createKey(t, t.adminKey, ['admin']);
    const swapped = await t.call('GET', '/v1/agents', { key: `mk_${id}_${secretOf(other.secret)}` });
    expect(swapped.status).toBe(401);
  });

  it('a revoked key stops working at once (401)', async () => {
    const { secret, id } = await createKey(t, t.adminKey, ['operator']);
    expect((await t.call('GET', '/v1/agents', { key: secret })).status).toBe(200);
    expect((await t.call('POST', `/v1/api-keys/${id}/revoke`, { key: t.adminKey, body: {} })).status).toBe(
      200,
    );
    const answer = await t.call('GET', '/v1/agents', { key: secret });
    expect([answer.status, answer.body?.error?.code]).toEqual([401, 'unauthorized']);
  });

  it('the same 401 body for unknown key, wrong secret, revoked, expired, offboarded user, malformed, and no header', async () => {
    const good = await createKey(t, t.adminKey, ['admin']);
    const revoked = await createKey(t, t.adminKey, ['admin']);
    await t.call('POST', `/v1/api-keys/${revoked.id}/revoke`, { key: t.adminKey, body: {} });
    const leaver = await createUser(t, t.adminKey, { displayName: 'leaver' });
    const bound = await createKey(t, t.adminKey, ['operator'], { userId: leaver.id });
    expect((await t.call('GET', '/v1/agents', { key: bound.secret })).status).toBe(200);
    const offboard = await t.call('POST', `/v1/users/${leaver.id}/offboard`, {
      key: t.adminKey,
      body: { reason: 'left' },
    });
    expect(offboard.status).toBe(200);
    const expiring = await createKey(t, t.adminKey, ['admin'], {
      expiresAt: new Date(t.clock.now().getTime() + HOUR).toISOString(),
    });
    expect((await t.call('GET', '/v1/agents', { key: expiring.secret })).status).toBe(200);
    t.clock.advance(2 * HOUR);
    expect((await t.call('GET', '/v1/agents', { key: good.secret })).status).toBe(200);

    const unknownKey = `mk_key_${'0'.repeat(26)}_${secretOf(good.secret)}`;
    const cases: Record<string, Record<string, string>> = {
      'unknown key id': { authorization: `Bearer ${unknownKey}` },
      'wrong secret': { authorization: `Bearer mk_${good.id}_${flip(secretOf(good.secret))}` },
      'secret of the wrong length': {
        authorization: `Bearer mk_${good.id}_${secretOf(good.secret).slice(1)}`,
      },
      revoked: { authorization: `Bearer ${revoked.secret}` },
      expired: { authorization: `Bearer ${expiring.secret}` },
      'bound to an offboarded user': { authorization: `Bearer ${bound.secret}` },
      'platform key with a wrong secret': { authorization: `Bearer ${t.platformKey.slice(0, -1)}x` },
      'malformed token': { authorization: 'Bearer not-a-key' },
      'JWT-shaped garbage': { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.' },
      'two tokens': { authorization: `Bearer ${good.secret} ${good.secret}` },
      'wrong scheme': { authorization: `Basic ${Buffer.from(`x:${good.secret}`).toString('base64')}` },
      'bare key without scheme': { authorization: good.secret },
      'empty bearer': { authorization: 'Bearer ' },
      'no header': {},
    };
    const answers = new Map<string, { status: number; text: string; type: unknown }>();
    for (const [name, headers] of Object.entries(cases)) {
      const response = await t.app.inject({ method: 'GET', url: '/v1/agents', headers });
      answers.set(name, {
        status: response.statusCode,
        text: response.body,
        type: response.headers['content-type'],
      });
    }
    const reference = answers.get('no header');
    expect(reference?.status).toBe(401);
    expect(JSON.parse(reference?.text ?? '{}').error.code).toBe('unauthorized');
    for (const [name, answer] of answers) expect({ name, ...answer }).toEqual({ name, ...reference });
    // The same on a write route and on a route with an id in its path.
    for (const [method, url] of [
      ['POST', '/v1/users'],
      ['GET', `/v1/api-keys/${good.id}`],
    ]) {
      for (const headers of Object.values(cases)) {
        const response = await t.app.inject({
          method: method as 'GET',
          url,
          headers,
          payload: method === 'POST' ? {} : undefined,
        });
        expect([response.statusCode, response.body]).toEqual([401, reference?.text]);
      }
    }
  });

  it('keyIdOf / secretOf split a token the way the server does', async () => {
    const { secret, id } = await createKey(t, t.adminKey, ['pep']);
    expect(keyIdOf(secret)).toBe(id);
    expect(secret).toBe(`mk_${id}_${secretOf(secret)}`);
  });
});

describe('secretMatches (exported by @mandate/engine)', () => {
  const secret = 'x'.repeat(43);
  it('is true for the secret whose hash is stored', () => {
    expect(secretMatches(secret, hashSecret(secret))).toBe(true);
    expect(secretMatches(secret, sha256hex(secret))).toBe(true);
  });
  it('is false for a different secret of the same length, and for a prefix or extension', () => {
    expect(secretMatches(`${'x'.repeat(42)}y`, hashSecret(secret))).toBe(false);
    expect(secretMatches(secret.slice(1), hashSecret(secret))).toBe(false);
    expect(secretMatches(`${secret}x`, hashSecret(secret))).toBe(false);
    expect(secretMatches('', hashSecret(secret))).toBe(false);
  });
  it('is false, without throwing, for a stored hash of the wrong length or not hex', () => {
    const hash = hashSecret(secret);
    for (const stored of [
      hash.slice(0, 62),
      `${hash}00`,
      '',
      'not hex at all',
      hash.slice(0, 63),
      'zz'.repeat(32),
    ]) {
      expect(() => secretMatches(secret, stored)).not.toThrow();
      expect(secretMatches(secret, stored), stored).toBe(false);
    }
  });
  it('does not accept the hash itself as the secret', () => {
    expect(secretMatches(hashSecret(secret), hashSecret(secret))).toBe(false);
  });
});
