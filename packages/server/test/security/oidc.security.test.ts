/**
 * OIDC ID tokens as credentials: a test issuer (an RS256 key pair whose public JWKS is a local
 * file), tokens signed with jose's SignJWT, and every way a token must be refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundaries, publicJwk, startTestApp, type TestApp } from '../harness.js';
import { createAgent, createUser, listAll, uniqueName } from './helpers.js';

const ISSUER = 'https://idp.test';
const AUDIENCE = 'mandate';
const KID = 'idp-key-1';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

const b64url = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

describe('OIDC ID tokens', () => {
  let t: TestApp;
  let idp: KeyPair;
  let attacker: KeyPair;
  let jwksText: string;
  let tmp: string;

  /** A token as the test issuer would sign it, with `claims` merged over sane defaults. */
  async function token(
    claims: JWTPayload & Record<string, unknown> = {},
    options: {
      key?: KeyPair['privateKey'] | Uint8Array;
      alg?: string;
      header?: Record<string, unknown>;
    } = {},
  ): Promise<string> {
    const payload: Record<string, unknown> = {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'alice',
      iat: now(),
      exp: now() + 600,
      groups: ['mandate-ops'],
      ...claims,
    };
    for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
    return new SignJWT(payload)
      .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: KID, typ: 'JWT', ...options.header })
      .sign(options.key ?? idp.privateKey);
  }

  const call = (method: string, url: string, bearer: string, body?: unknown) =>
    t.call(method, url, { key: bearer, body });
  let unauthorizedText: string;

  beforeAll(async () => {
    idp = await generateKeyPair('RS256', { extractable: true });
    attacker = await generateKeyPair('RS256', { extractable: true });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-oidc-'));
    const jwksFile = path.join(tmp, 'jwks.json');
    jwksText = JSON.stringify({
      keys: [{ ...(await exportJWK(idp.publicKey)), kid: KID, alg: 'RS256', use: 'sig' }],
    });
    fs.writeFileSync(jwksFile, jwksText);
    t = await startTestApp({
      oidc: [
        {
          issuer: ISSUER,
          audience: AUDIENCE,
          jwksFile,
          roleMap: { 'mandate-admins': 'admin', 'mandate-ops': 'operator' },
          rolesClaim: 'groups',
        },
      ],
    });
    unauthorizedText = (await t.call('GET', '/v1/agents')).text;
  });
  afterAll(async () => {
    await t?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const usersWithSubject = async (subject: string) =>
    (await listAll(t, t.adminKey, '/v1/users')).filter((u) => u.issuer === ISSUER && u.subject === subject);

  it('a valid token with groups [mandate-ops] can list agents and register one', async () => {
    const bearer = await token({ sub: 'ops-1', name: 'Ops One', email: 'ops1@example.test' });
    const list = await call('GET', '/v1/agents', bearer);
    expect(list.status, list.text).toBe(200);
    const [me] = await usersWithSubject('ops-1');
    expect(me).toMatchObject({
      kind: 'oidc',
      displayName: 'Ops One',
      email: 'ops1@example.test',
      status: 'active',
    });
    const registered = await call('POST', '/v1/agents', bearer, {
      name: 'oidc-agent',
      ownerId: me.id,
      boundaries,
      keys: [await publicJwk()],
    });
    expect(registered.status, registered.text).toBe(201);
    // Registered by its owner: active at once, and attributed to the user.
    expect(registered.body.status).toBe('active');
    expect(registered.body.createdBy).toEqual({ kind: 'user', id: me.id, issuer: ISSUER });
  });

  it('the user is created on first use (user.created by the user itself) and reused afterwards', async () => {
    const subject = uniqueName('first-use');
    expect(await usersWithSubject(subject)).toEqual([]);
    const bearer = await token({ sub: subject });
    for (let i = 0; i < 3; i++) expect((await call('GET', '/v1/agents', bearer)).status).toBe(200);
    expect(
      (await call('GET', '/v1/agents', await token({ sub: subject, groups: ['mandate-ops'] }))).status,
    ).toBe(200);
    const users = await usersWithSubject(subject);
    expect(users).toHaveLength(1);
    const created = (await listAll(t, t.adminKey, '/v1/audit/events')).filter(
      (e) => e.type === 'user.created' && e.target?.id === users[0].id,
    );
    expect(created).toHaveLength(1);
    expect(created[0].actor).toEqual({ kind: 'user', id: users[0].id, issuer: ISSUER });
  });

  it('roles come only from the mapped claim', async () => {
    // A group named like a role but not in the role map grants nothing.
    const unmapped = await token({ sub: uniqueName('unmapped'), groups: ['admin'] });
    const keys = await call('GET', '/v1/api-keys', unmapped);
    expect([keys.status, keys.body?.error?.code]).toEqual([403, 'forbidden']);
    // Without a reading role, a user in person lists only the agents they own (none here).
    const own = await call('GET', '/v1/agents', unmapped);
    expect([own.status, own.body?.items]).toEqual([200, []]);
    expect((await call('GET', '/v1/users', unmapped)).status).toBe(403);
    // Nor does the default `roles` claim when the issuer's roles claim is `groups`.
    const wrongClaim = await token({ sub: uniqueName('roles-claim'), groups: [], roles: ['admin'] });
    expect((await call('GET', '/v1/api-keys', wrongClaim)).status).toBe(403);
    // Nor a string claim, nor names of Object.prototype members.
    const proto = await token({
      sub: uniqueName('proto'),
      groups: ['__proto__', 'constructor', 'toString', 'hasOwnProperty'],
    });
    const protoAnswer = await call('GET', '/v1/users', proto);
    expect([protoAnswer.status, protoAnswer.body?.error?.code], protoAnswer.text).toEqual([403, 'forbidden']);
    // mandate-ops maps to operator: reads agents, but API keys stay admin-only.
    const ops = await token({ sub: uniqueName('ops'), groups: ['mandate-ops'] });
    expect((await call('GET', '/v1/agents', ops)).status).toBe(200);
    expect((await call('GET', '/v1/api-keys', ops)).status).toBe(403);
    // Positive control: the mapped admin group does reach /v1/api-keys.
    const admins = await token({ sub: uniqueName('admin'), groups: ['mandate-admins'] });
    expect((await call('GET', '/v1/api-keys', admins)).status).toBe(200);
    // A space-separated string claim is read as a list of values, each mapped.
    const asString = await token({ sub: uniqueName('string'), groups: 'admin mandate-ops' });
    expect((await call('GET', '/v1/agents', asString)).status).toBe(200);
    expect((await call('GET', '/v1/api-keys', asString)).status).toBe(403);
  });

  describe('the owner in person, holding no role', () => {
    /** A user of the issuer (created by their first request) who owns a pending agent an admin registered. */
    async function ownerWithAgent() {
      const subject = uniqueName('owner');
      const bearer = await token({ sub: subject, groups: [] });
      expect((await call('GET', '/v1/agents', bearer)).status).toBe(200);
      const [user] = await usersWithSubject(subject);
      const agent = await createAgent(t, t.adminKey, user.id);
      return { bearer, user, agent };
    }

    it('sees and lists only their own agents', async () => {
      const { bearer, agent } = await ownerWithAgent();
      const other = await ownerWithAgent();
      expect((await call('GET', `/v1/agents/${agent.id}`, bearer)).body.id).toBe(agent.id);
      const list = await call('GET', '/v1/agents', bearer);
      expect(list.body.items.map((a: { id: string }) => a.id)).toEqual([agent.id]);
      const theirs = await call('GET', `/v1/agents/${other.agent.id}`, bearer);
      expect([theirs.status, theirs.body?.error?.code]).toEqual([404, 'not_found']);
    });

    it('may activate, suspend, add a key to and revoke their own agent', async () => {
      const { bearer, agent } = await ownerWithAgent();
      const step = (command: string, body: unknown = {}) =>
        call('POST', `/v1/agents/${agent.id}/${command}`, bearer, body);
      expect((await step('activate')).body.status).toBe('active');
      expect((await step('suspend', { reason: 'mine' })).body.status).toBe('suspended');
      const key = await call('POST', `/v1/agents/${agent.id}/keys`, bearer, { jwk: await publicJwk() });
      expect(key.status, key.text).toBe(201);
      expect((await step('revoke', { reason: 'done' })).body.status).toBe('revoked');
    });

    it('may not resume (undo a suspension) or renew, nor act on an agent they do not own', async () => {
      const { bearer, agent } = await ownerWithAgent();
      const other = await ownerWithAgent();
      await call('POST', `/v1/agents/${agent.id}/activate`, bearer, {});
      await call('POST', `/v1/agents/${agent.id}/suspend`, t.adminKey, { reason: 'ops' });
      const refused = async (url: string, body: unknown) => {
        const answer = await call('POST', url, bearer, body);
        expect([answer.status, answer.body?.error?.code], answer.text).toEqual([403, 'forbidden']);
      };
      await refused(`/v1/agents/${agent.id}/resume`, {});
      await refused(`/v1/agents/${agent.id}/renew`, {});
      await refused(`/v1/agents/${other.agent.id}/activate`, {});
      await refused(`/v1/agents/${other.agent.id}/revoke`, { reason: 'not mine' });
      await refused(`/v1/agents/${other.agent.id}/keys`, { jwk: await publicJwk() });
      const after = await call('GET', `/v1/agents/${other.agent.id}`, t.adminKey);
      expect([after.body.status, after.body.keys.length]).toEqual(['pending', 1]);
    });
  });

  it('an OIDC admin is still an org principal: platform routes are 403', async () => {
    const admins = await token({ sub: uniqueName('admin'), groups: ['mandate-admins'] });
    const orgs = await call('GET', '/v1/orgs', admins);
    expect([orgs.status, orgs.body?.error?.code]).toEqual([403, 'forbidden']);
  });

  describe('refused with the same 401', () => {
    const rejected: Array<[string, () => Promise<string>]> = [
      ['expired (beyond the clock tolerance)', () => token({ iat: now() - 7200, exp: now() - 3600 })],
      ['not yet valid (nbf in the future)', () => token({ nbf: now() + 3600 })],
      ['issued for another issuer', () => token({ iss: 'https://other-idp.test' })],
      ['issuer differing only by a trailing slash', () => token({ iss: `${ISSUER}/` })],
      ['for another audience', () => token({ aud: 'someone-else' })],
      ['with no audience', () => token({ aud: undefined })],
      ['signed by another key (with the trusted kid)', () => token({}, { key: attacker.privateKey })],
      [
        'signed by another key (with its own kid)',
        () => token({}, { key: attacker.privateKey, header: { kid: 'evil' } }),
      ],
      [
        'signed by another key that is embedded in the header (jwk)',
        async () =>
          token(
            {},
            {
              key: attacker.privateKey,
              header: { kid: undefined, jwk: await exportJWK(attacker.publicKey) },
            },
          ),
      ],
      [
        'alg none',
        async () =>
          `${b64url({ alg: 'none', typ: 'JWT', kid: KID })}.${b64url({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: now(), exp: now() + 600, groups: ['mandate-admins'] })}.`,
      ],
      [
        'alg none with a copied signature',
        async () => {
          const [, , signature] = (await token()).split('.');
          return `${b64url({ alg: 'none', kid: KID })}.${b64url({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: now(), exp: now() + 600 })}.${signature}`;
        },
      ],
      [
        'HS256 signed with some secret',
        () => token({}, { alg: 'HS256', key: new TextEncoder().encode('x'.repeat(64)) }),
      ],
      [
        "HS256 keyed with the issuer's public key (PEM)",
        async () =>
          token({}, { alg: 'HS256', key: new TextEncoder().encode(await exportSPKI(idp.publicKey)) }),
      ],
      [
        "HS256 keyed with the issuer's JWKS text",
        () => token({}, { alg: 'HS256', key: new TextEncoder().encode(jwksText) }),
      ],
      [
        'edited payload (groups raised to admins, signature kept)',
        async () => {
          const [header, payload, signature] = (await token({ groups: ['mandate-ops'] })).split('.');
          const claims = JSON.parse(Buffer.from(payload as string, 'base64url').toString());
          return `${header}.${b64url({ ...claims, groups: ['mandate-admins'] })}.${signature}`;
        },
      ],
      [
        'edited payload (another subject, signature kept)',
        async () => {
          const [header, payload, signature] = (await token({ sub: 'alice' })).split('.');
          const claims = JSON.parse(Buffer.from(payload as string, 'base64url').toString());
          return `${header}.${b64url({ ...claims, sub: 'mallory' })}.${signature}`;
        },
      ],
      ['signature stripped', async () => `${(await token()).split('.').slice(0, 2).join('.')}.`],
      ['missing sub', () => token({ sub: undefined })],
      ['missing exp', () => token({ exp: undefined })],
      ['missing iat', () => token({ iat: undefined })],
      [
        'from an issuer that is not configured (self-signed)',
        () => token({ iss: 'https://evil.test' }, { key: attacker.privateKey }),
      ],
      [
        'payload that is not JSON',
        async () => `${b64url({ alg: 'RS256', kid: KID })}.${b64url('not json')}.AAAA`,
      ],
    ];

    it.each(rejected)('%s', async (_name, make) => {
      const bearer = await make();
      const answer = await call('GET', '/v1/agents', bearer);
      expect([answer.status, answer.text]).toEqual([401, unauthorizedText]);
      // ...and no user was created for it.
      const subjects = new Set(
        (await listAll(t, t.adminKey, '/v1/users')).map((u) => `${u.issuer}|${u.subject}`),
      );
      expect(subjects.has(`${ISSUER}|mallory`)).toBe(false);
      expect(subjects.has('https://evil.test|alice')).toBe(false);
    });

    it('the 401 is the one every other failed credential gets', async () => {
      expect(JSON.parse(unauthorizedText)).toEqual({
        error: { code: 'unauthorized', message: expect.any(String) },
      });
      expect((await t.call('GET', '/v1/agents', { key: 'mk_key_00000000000000000000000000_x' })).text).toBe(
        unauthorizedText,
      );
    });
  });

  it('an access token of the same issuer (typ at+jwt) is not an ID token: 401', async () => {
    const bearer = await token(
      { sub: uniqueName('typed'), groups: ['mandate-admins'] },
      { header: { typ: 'at+jwt' } },
    );
    const answer = await call('GET', '/v1/agents', bearer);
    expect([answer.status, answer.text]).toEqual([401, unauthorizedText]);
  });

  it('a user offboarded by an admin gets 401 with a valid token', async () => {
    const subject = uniqueName('leaver');
    const bearer = await token({ sub: subject, groups: ['mandate-admins'] });
    expect((await call('GET', '/v1/agents', bearer)).status).toBe(200);
    const [user] = await usersWithSubject(subject);
    const offboard = await t.call('POST', `/v1/users/${user.id}/offboard`, {
      key: t.adminKey,
      body: { reason: 'left' },
    });
    expect(offboard.status, offboard.text).toBe(200);
    const after = await call('GET', '/v1/agents', bearer);
    expect([after.status, after.text]).toEqual([401, unauthorizedText]);
    // A fresh token for the same subject does not bring the user back either.
    const fresh = await call('GET', '/v1/agents', await token({ sub: subject, groups: ['mandate-admins'] }));
    expect(fresh.status).toBe(401);
    expect(await usersWithSubject(subject)).toHaveLength(1);
  });

  it('a user pre-registered by an admin under another issuer is not reachable with this issuer', async () => {
    const subject = uniqueName('pre');
    await createUser(t, t.adminKey, {
      displayName: 'pre',
      issuer: 'https://other-idp.test',
      subject,
      roles: ['admin'],
    });
    // Same subject, trusted issuer: a different (new, role-less beyond the token) user.
    const bearer = await token({ sub: subject, groups: [] });
    expect((await call('GET', '/v1/api-keys', bearer)).status).toBe(403);
  });

  // jose only checks that `sub` is present: an array `sub` once reached the user lookup, where
  // better-sqlite3 spread it into the bound parameters and so aliased the existing user 'alice'.
  const nonStringSubs: Array<[string, unknown]> = [
    ['null', null],
    ['an object', { id: 'alice' }],
    ['a boolean', true],
    ['an array holding an existing subject', ['alice']],
    ['a number', 42],
    ['an empty string', ''],
  ];
  for (const [label, sub] of nonStringSubs) {
    it(`a token whose sub is ${label} is refused with 401 and creates or reaches no user`, async () => {
      // 'alice' exists (a user of the trusted issuer), so an alias would show.
      expect((await call('GET', '/v1/agents', await token({ sub: 'alice' }))).status).toBe(200);
      const before = (await listAll(t, t.adminKey, '/v1/users')).length;
      const eventsBefore = (await listAll(t, t.adminKey, '/v1/audit/events')).length;
      const bearer = await token({ sub: sub as never });
      for (let i = 0; i < 2; i++) {
        const answer = await call('GET', '/v1/agents', bearer);
        expect([answer.status, answer.text]).toEqual([401, unauthorizedText]);
      }
      expect((await listAll(t, t.adminKey, '/v1/users')).length).toBe(before);
      expect((await listAll(t, t.adminKey, '/v1/audit/events')).length).toBe(eventsBefore);
    });
  }
});
