/**
 * Attacks on the authorization server, at the HTTP level: forged, edited, expired and foreign
 * access tokens; misused DPoP proofs; abuse of the token endpoint (client assertions, grants,
 * parameters, narrowing); and token revocation.
 *
 * Every attack is built to be valid in every respect but the one under test, and sits next to
 * a control that differs only in that respect and is accepted: if the check were removed, the
 * attack would go through like its control and the test would fail. Assertions and DPoP proofs
 * are signed here (not by the SDK) with times from the app's TestClock, so a test can move the
 * clock and still make a valid control.
 *
 * Tokens the server's own key must sign (a server-signed token with a future `nbf`, a foreign
 * `iss`, a `typ` other than `at+jwt`, or an `act` that is not its delegation's chain) are made
 * with the engine's token signing key through `t.engine.oauth` — a test seam only, nothing an
 * attacker reaches — so that the one check under test is the only thing wrong with them.
 */
import { TokenError, verifyAccessToken } from '@mandate/core';
import { AgentCredentials } from '@mandate/sdk';
import {
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ISSUER, startTestApp, type TestApp } from '../harness.js';
import { createOrg } from '../security/helpers.js';
import { activeAgent, claimsOf, HOUR, introspect, pepKey, type TestAgent } from './helpers.js';

const FORM = 'application/x-www-form-urlencoded';
const TOKEN_URL = `${ISSUER}/oauth/token`;
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const DELEGATION_TYPE = 'urn:mandate:params:oauth:token-type:delegation';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

// ---------------------------------------------------------------------------------------------
// Keys, assertions, proofs and forged tokens

/** What jose signs with (a CryptoKey; typed through jose, as Node's types name no global CryptoKey). */
type PrivateKey = Awaited<ReturnType<typeof importJWK>>;

interface KeyPair {
  privateKey: PrivateKey;
  publicJwk: JWK;
  kid: string;
}

/** An agent's key as the tests sign with it (the thumbprint is the agent key's kid). */
async function keyOf(agent: Pick<TestAgent, 'privateJwk' | 'publicJwk'>): Promise<KeyPair> {
  const publicJwk = { kty: 'OKP', crv: 'Ed25519', x: agent.publicJwk.x } as JWK;
  return {
    privateKey: await importJWK(agent.privateJwk, 'EdDSA'),
    publicJwk,
    kid: await calculateJwkThumbprint(publicJwk, 'sha256'),
  };
}

/** A fresh Ed25519 key nobody registered. */
async function freshKey(): Promise<KeyPair & { privateJwk: JWK }> {
  const pair = await generateKeyPair('EdDSA', { extractable: true });
  const publicJwk = await exportJWK(pair.publicKey);
  return {
    privateKey: pair.privateKey,
    privateJwk: await exportJWK(pair.privateKey),
    publicJwk,
    kid: await calculateJwkThumbprint(publicJwk, 'sha256'),
  };
}

const nowSeconds = (t: TestApp) => Math.floor(t.clock.now().getTime() / 1000);
const randomJti = () => base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
const b64json = (value: unknown) => base64url.encode(JSON.stringify(value));
const ath = async (token: string) =>
  base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))));

interface AssertionOptions {
  key?: KeyPair;
  /** The header kid; `null` leaves it out. */
  kid?: string | null;
  typ?: string;
  iss?: string;
  sub?: string;
  aud?: string;
  iat?: number;
  /** Seconds from now (the app clock). */
  expIn?: number;
  jti?: string;
}

/** An RFC 7523 client assertion by `agent`, valid unless an option says otherwise. */
async function assertion(t: TestApp, agent: TestAgent, o: AssertionOptions = {}): Promise<string> {
  const key = o.key ?? (await keyOf(agent));
  const now = nowSeconds(t);
  const header: Record<string, unknown> = { alg: 'EdDSA' };
  const kid = o.kid === undefined ? key.kid : o.kid;
  if (kid !== null) header.kid = kid;
  if (o.typ !== undefined) header.typ = o.typ;
  return new SignJWT({})
    .setProtectedHeader(header as { alg: string })
    .setIssuer(o.iss ?? agent.id)
    .setSubject(o.sub ?? agent.id)
    .setAudience(o.aud ?? TOKEN_URL)
    .setIssuedAt(o.iat ?? now)
    .setExpirationTime(now + (o.expIn ?? 60))
    .setJti(o.jti ?? randomJti())
    .sign(key.privateKey);
}

interface ProofOptions {
  htm?: string;
  htu?: string;
  /** The token whose hash the proof carries (`ath`); none for the token endpoint. */
  token?: string;
  /** Set `ath` to this value instead of the token's hash. */
  athValue?: string;
  iat?: number;
  jti?: string;
}

/** An RFC 9449 DPoP proof made with `key`, valid for the request described unless told otherwise. */
async function proof(t: TestApp, key: KeyPair, o: ProofOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    htm: o.htm ?? 'POST',
    htu: o.htu ?? TOKEN_URL,
    jti: o.jti ?? randomJti(),
  };
  if (o.athValue !== undefined) claims.ath = o.athValue;
  else if (o.token !== undefined) claims.ath = await ath(o.token);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', typ: 'dpop+jwt', jwk: key.publicJwk })
    .setIssuedAt(o.iat ?? nowSeconds(t))
    .sign(key.privateKey);
}

/** Replaces the payload of a signed JWT, keeping its header and signature. */
function withPayload(token: string, edit: (claims: Record<string, any>) => void): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
  edit(claims);
  const edited = b64json(claims);
  expect(edited).not.toBe(payload);
  return `${header}.${edited}.${signature}`;
}

/** Signs claims with the server's own token signing key (test seam; see the header comment). */
async function serverSigned(
  t: TestApp,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const { kid, privateKey } = await t.engine.oauth.keys.signingKey();
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid, ...header } as { alg: string })
    .sign(privateKey);
}

// ---------------------------------------------------------------------------------------------
// Requests

interface Answer {
  status: number;
  body: any;
  headers: Record<string, unknown>;
}

async function post(
  t: TestApp,
  url: string,
  params: Record<string, string | string[]>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    for (const item of Array.isArray(value) ? value : [value]) form.append(name, item);
  const response = await t.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': FORM, ...headers },
    payload: form.toString(),
  });
  return { status: response.statusCode, body: JSON.parse(response.body), headers: response.headers };
}

const tokenRequest = (
  t: TestApp,
  params: Record<string, string | string[]>,
  headers?: Record<string, string>,
) => post(t, '/oauth/token', params, headers);

/** Token-exchange parameters for `agent` and a delegation made to it (first hop). */
async function exchangeParams(
  t: TestApp,
  agent: TestAgent,
  delegationId: string,
  extra: Record<string, string | string[]> = {},
): Promise<Record<string, string | string[]>> {
  return {
    grant_type: TOKEN_EXCHANGE,
    subject_token: delegationId,
    subject_token_type: DELEGATION_TYPE,
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: await assertion(t, agent),
    ...extra,
  };
}

/** A token for `agent` on a first-hop delegation; key-bound (DPoP) unless `bound` is false. */
async function mint(
  t: TestApp,
  agent: TestAgent,
  delegationId: string,
  options: { bound?: boolean; extra?: Record<string, string | string[]> } = {},
): Promise<string> {
  const headers: Record<string, string> =
    options.bound === false ? {} : { dpop: await proof(t, await keyOf(agent)) };
  const answer = await tokenRequest(t, await exchangeParams(t, agent, delegationId, options.extra), headers);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.token_type).toBe(options.bound === false ? 'Bearer' : 'DPoP');
  return answer.body.access_token;
}

/** An OAuth error answer: status, code, RFC 6749 §5.2 body, and never cached. */
function expectOAuthError(answer: Answer, status: number, error: string): void {
  expect({ status: answer.status, error: answer.body.error }, JSON.stringify(answer.body)).toEqual({
    status,
    error,
  });
  expect(Object.keys(answer.body).sort()).toEqual(['error', 'error_description']);
  expect(typeof answer.body.error_description).toBe('string');
  expect(answer.headers['cache-control']).toBe('no-store');
  if (status === 401) expect(answer.headers['www-authenticate']).toBeDefined();
}

function expectIssued(answer: Answer): any {
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(typeof answer.body.access_token).toBe('string');
  expect(answer.headers['cache-control']).toBe('no-store');
  expect(answer.headers.pragma).toBe('no-cache');
  return answer.body;
}

/** The redelegate route, the one route agents authenticate to with their own access token. */
/** Headers that present a key-bound `token` at the redelegate route, with a proof by `agent`'s key. */
async function presented(
  t: TestApp,
  agent: Pick<TestAgent, 'privateJwk' | 'publicJwk'>,
  token: string,
  delegationId: string,
): Promise<Record<string, string>> {
  return {
    authorization: `DPoP ${token}`,
    dpop: await proof(t, await keyOf(agent), { htu: redelegateUrl(delegationId), token }),
  };
}

async function redelegate(
  t: TestApp,
  delegationId: string,
  headers: Record<string, string>,
  body: Record<string, unknown>,
): Promise<Answer> {
  const response = await t.app.inject({
    method: 'POST',
    url: `/v1/delegations/${delegationId}/redelegate`,
    headers: { 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(body),
  });
  return { status: response.statusCode, body: JSON.parse(response.body), headers: response.headers };
}

const redelegateUrl = (delegationId: string) => `${ISSUER}/v1/delegations/${delegationId}/redelegate`;

/** The agent's token was refused at authentication, with this reason code. */
function expectRefused(answer: Answer, reason: string): void {
  expect(
    {
      status: answer.status,
      code: answer.body.error?.code,
      reason: answer.body.error?.message?.split(':')[0],
    },
    JSON.stringify(answer.body),
  ).toEqual({ status: 401, code: 'unauthorized', reason });
  expect(String(answer.headers['www-authenticate'])).toMatch(/^(DPoP|Bearer) error="invalid_token"$/);
}

function expectCreated(answer: Answer): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
}

// ---------------------------------------------------------------------------------------------
// The world: Alice's org, agents A (holding dlgA, depth 1), B (A re-delegates to it), C (unrelated)

interface World {
  t: TestApp;
  aliceId: string;
  a: TestAgent;
  b: TestAgent;
  c: TestAgent;
  dlgA: string;
  pep: string;
  /** A redelegate body that A's token may send (narrower than dlgA). */
  toB: Record<string, unknown>;
}

/** A first-hop delegation, recorded by an admin for `userId`: email.* on Alice's mailbox, internal, 2 h, depth 1. */
async function grant(t: TestApp, adminKey: string, agentId: string, userId: string): Promise<string> {
  const granted = await t.call('POST', '/v1/delegations', {
    key: adminKey,
    body: {
      delegateAgentId: agentId,
      purpose: 'triage the inbox',
      onBehalfOf: userId,
      scope: {
        actions: ['email.*'],
        resources: ['mailbox:alice/*'],
        dataClass: 'internal',
        expiresAt: new Date(t.clock.now().getTime() + 2 * HOUR).toISOString(),
        maxDepth: 1,
      },
    },
  });
  expect(granted.status, granted.text).toBe(201);
  return granted.body.id as string;
}

/** Registers and activates an agent in the org of `adminKey` (helpers' activeAgent is org A only). */
async function agentIn(t: TestApp, adminKey: string, ownerId: string, name: string): Promise<TestAgent> {
  const key = await freshKey();
  const created = await t.call('POST', '/v1/agents', {
    key: adminKey,
    body: {
      name,
      ownerId,
      boundaries: { actions: ['email.*'], resources: ['mailbox:alice/*'], maxDelegationDepth: 2 },
      keys: [key.publicJwk],
    },
  });
  expect(created.status, created.text).toBe(201);
  const activated = await t.call('POST', `/v1/agents/${created.body.id}/activate`, {
    key: adminKey,
    body: {},
  });
  expect(activated.status, activated.text).toBe(200);
  return {
    id: created.body.id,
    privateJwk: key.privateJwk,
    publicJwk: key.publicJwk,
    creds: new AgentCredentials({
      url: ISSUER,
      agentId: created.body.id,
      privateJwk: key.privateJwk,
      fetch: t.fetch,
    }),
  };
}

async function makeWorld(): Promise<World> {
  const t = await startTestApp();
  const alice = await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } });
  expect(alice.status, alice.text).toBe(201);
  const aliceId = alice.body.id as string;
  const a = await activeAgent(t, aliceId, 'assistant-a');
  const b = await activeAgent(t, aliceId, 'reader-b');
  const c = await activeAgent(t, aliceId, 'bystander-c');
  const dlgA = await grant(t, t.adminKey, a.id, aliceId);
  const pep = await pepKey(t);
  return {
    t,
    aliceId,
    a,
    b,
    c,
    dlgA,
    pep,
    toB: { delegateAgentId: b.id, purpose: 'read the newsletters', scope: { actions: ['email.read'] } },
  };
}

// =============================================================================================

let w: World;
beforeAll(async () => {
  w = await makeWorld();
});
afterAll(async () => w?.t.close());

describe('access tokens: forged, edited, foreign', () => {
  let token: string;
  let claims: Record<string, any>;
  let jwks: { keys: JWK[] };

  beforeAll(async () => {
    token = await mint(w.t, w.a, w.dlgA);
    claims = claimsOf(token);
    const fetched = await w.t.call('GET', '/.well-known/jwks.json');
    expect(fetched.status).toBe(200);
    jwks = fetched.body;
  });

  /** The token is refused by the redelegate route (token_invalid) and inactive at introspection. */
  async function expectForgeryRefused(forged: string, reason = 'token_invalid') {
    expectRefused(await redelegate(w.t, w.dlgA, await presented(w.t, w.a, forged, w.dlgA), w.toB), reason);
    expect(await introspect(w.t, w.pep, forged)).toEqual({ status: 200, body: { active: false } });
  }

  it('control: the genuine token is accepted by the redelegate route and active at introspection', async () => {
    expectCreated(await redelegate(w.t, w.dlgA, await presented(w.t, w.a, token, w.dlgA), w.toB));
    expect(await introspect(w.t, w.pep, token)).toMatchObject({
      status: 200,
      body: { active: true, client_id: w.a.id, token_type: 'DPoP' },
    });
  });

  it('alg "none" (no signature) is refused', async () => {
    const header = { alg: 'none', typ: 'at+jwt', kid: jwks.keys[0]?.kid };
    await expectForgeryRefused(`${b64json(header)}.${token.split('.')[1]}.`);
  });

  it('HS256 with the published public key as the HMAC secret is refused', async () => {
    const published = jwks.keys[0] as JWK & { kid: string };
    const secrets: Uint8Array[] = [
      base64url.decode(published.x as string),
      new TextEncoder().encode(published.x as string),
      new TextEncoder().encode(JSON.stringify(published)),
    ];
    for (const secret of secrets) {
      const forged = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: published.kid })
        .sign(secret);
      await expectForgeryRefused(forged);
    }
  });

  it('a token signed by a fresh Ed25519 key is refused, under an unknown kid or the real one', async () => {
    const attacker = await freshKey();
    for (const kid of ['attacker-key', jwks.keys[0]?.kid as string]) {
      const forged = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid })
        .sign(attacker.privateKey);
      await expectForgeryRefused(forged);
    }
    // Control: the same claims under the server's own key are accepted (the key is what differs).
    expect((await introspect(w.t, w.pep, await serverSigned(w.t, claims))).body.active).toBe(true);
  });

  const edits: Array<[string, (c: Record<string, any>, x: World) => void]> = [
    ['sub (another user)', (c) => (c.sub = 'usr_01J0000000000000000000000Z')],
    ['dlg (another delegation)', (c) => (c.dlg = 'dlg_01J0000000000000000000000Z')],
    ['org (another org)', (c) => (c.org = 'org_01J0000000000000000000000Z')],
    ['exp (an hour later)', (c) => (c.exp += 3600)],
    [
      'authorization_details (widened to every action)',
      (c) => (c.authorization_details[0].scope.actions = ['*']),
    ],
    ['cnf (a key binding added)', (c) => (c.cnf = { jkt: 'A'.repeat(43) })],
    [
      'client_id and act (presented as B)',
      (c, x) => Object.assign(c, { client_id: x.b.id, act: { sub: x.b.id } }),
    ],
    ['act (a nested actor added)', (c, x) => (c.act = { sub: c.act.sub, act: { sub: x.c.id } })],
  ];
  it.each(edits)('an edited payload keeping the original signature is refused: %s', async (_, edit) => {
    await expectForgeryRefused(withPayload(token, (c) => edit(c, w)));
  });

  it('server-signed, but typ is not at+jwt: refused', async () => {
    await expectForgeryRefused(await serverSigned(w.t, claims, { typ: 'JWT' }));
    // Control: the same claims with typ at+jwt.
    expectCreated(
      await redelegate(
        w.t,
        w.dlgA,
        await presented(w.t, w.a, await serverSigned(w.t, claims), w.dlgA),
        w.toB,
      ),
    );
  });

  it('server-signed, but not valid yet (nbf, or iat, ten minutes ahead): refused', async () => {
    const ahead = nowSeconds(w.t) + 600;
    await expectForgeryRefused(await serverSigned(w.t, { ...claims, jti: randomJti(), nbf: ahead }));
    await expectForgeryRefused(await serverSigned(w.t, { ...claims, jti: randomJti(), iat: ahead }));
    // Control: nbf and iat now.
    const now = nowSeconds(w.t);
    const valid = await serverSigned(w.t, { ...claims, jti: randomJti(), nbf: now, iat: now });
    expectCreated(await redelegate(w.t, w.dlgA, await presented(w.t, w.a, valid, w.dlgA), w.toB));
  });

  it('server-signed, but another issuer: refused', async () => {
    await expectForgeryRefused(await serverSigned(w.t, { ...claims, iss: 'https://evil.test' }));
    await expectForgeryRefused(await serverSigned(w.t, { ...claims, iss: `${ISSUER}/` }));
    // Control: the same claims with this server's issuer.
    const valid = await serverSigned(w.t, { ...claims, jti: randomJti(), iss: ISSUER });
    expectCreated(await redelegate(w.t, w.dlgA, await presented(w.t, w.a, valid, w.dlgA), w.toB));
  });

  it("server-signed, but its act is not its delegation's chain: refused as chain_broken", async () => {
    // B is a real agent of the org, but dlgA was made to A: the signature is fine, the chain is not.
    const asB = { ...claims, jti: randomJti(), client_id: w.b.id, act: { sub: w.b.id } };
    await expectForgeryRefused(await serverSigned(w.t, asB), 'chain_broken');
    const underC = { ...claims, jti: randomJti(), act: { sub: w.a.id, act: { sub: w.c.id } } };
    await expectForgeryRefused(await serverSigned(w.t, underC), 'chain_broken');
    const forAnotherUser = { ...claims, jti: randomJti(), sub: 'usr_01J0000000000000000000000Z' };
    await expectForgeryRefused(await serverSigned(w.t, forAnotherUser), 'chain_broken');
    // Control: the token's own claims, server-signed afresh.
    const genuine = await serverSigned(w.t, { ...claims, jti: randomJti() });
    expectCreated(await redelegate(w.t, w.dlgA, await presented(w.t, w.a, genuine, w.dlgA), w.toB));
  });

  it('a verifier naming another issuer or audience refuses the token (core verifyAccessToken on the JWKS)', async () => {
    const now = w.t.clock.now();
    // Control: issuer and default audience (the issuer itself).
    await expect(
      verifyAccessToken(token, { keys: jwks, issuer: ISSUER, audience: ISSUER, now }),
    ).resolves.toMatchObject({
      agents: [w.a.id],
    });
    for (const options of [
      { issuer: 'https://evil.test', audience: ISSUER },
      { issuer: ISSUER, audience: 'https://api.example.test' },
    ]) {
      const attempt = verifyAccessToken(token, { keys: jwks, ...options, now });
      await expect(attempt).rejects.toBeInstanceOf(TokenError);
      await expect(attempt).rejects.toMatchObject({ code: 'token_invalid' });
    }
    // A token asked for a resource is for that resource only.
    const forApi = await mint(w.t, w.a, w.dlgA, {
      bound: false,
      extra: { resource: 'https://api.example.test/' },
    });
    expect(claimsOf(forApi).aud).toBe('https://api.example.test/');
    await expect(
      verifyAccessToken(forApi, { keys: jwks, issuer: ISSUER, audience: 'https://api.example.test/', now }),
    ).resolves.toBeDefined();
    await expect(
      verifyAccessToken(forApi, { keys: jwks, issuer: ISSUER, audience: 'https://other.example.test/', now }),
    ).rejects.toMatchObject({ code: 'token_invalid' });
  });

  describe("another org's token", () => {
    let tokenO: string;
    let dlgO: string;
    let pepO: string;
    let secondO: TestAgent;
    let agentO: TestAgent;

    beforeAll(async () => {
      const t = w.t;
      const other = await createOrg(t, 'other org');
      const user = await t.call('POST', '/v1/users', { key: other.adminKey, body: { displayName: 'Olga' } });
      expect(user.status, user.text).toBe(201);
      const agent = await agentIn(t, other.adminKey, user.body.id, 'olga-agent');
      agentO = agent;
      secondO = await agentIn(t, other.adminKey, user.body.id, 'olga-helper');
      dlgO = await grant(t, other.adminKey, agent.id, user.body.id);
      tokenO = await mint(t, agent, dlgO);
      const key = await t.call('POST', '/v1/api-keys', {
        key: other.adminKey,
        body: { name: 'pep', roles: ['pep'] },
      });
      expect(key.status, key.text).toBe(201);
      pepO = key.body.secret;
    });

    it("is inactive at org A's introspection (control: active at its own org's)", async () => {
      expect(await introspect(w.t, pepO, tokenO)).toMatchObject({ status: 200, body: { active: true } });
      expect(await introspect(w.t, w.pep, tokenO)).toEqual({ status: 200, body: { active: false } });
    });

    it("re-delegates neither A's delegation nor to A's agents (control: within its own org)", async () => {
      const children = async () =>
        (await w.t.call('GET', `/v1/delegations?parent=${w.dlgA}&limit=200`, { key: w.t.adminKey })).body
          .items.length;
      const before = await children();
      const onA = await redelegate(w.t, w.dlgA, await presented(w.t, agentO, tokenO, w.dlgA), w.toB);
      expect({ status: onA.status, code: onA.body.error?.code }).toEqual({ status: 403, code: 'forbidden' });
      const toA = await redelegate(w.t, dlgO, await presented(w.t, agentO, tokenO, dlgO), w.toB);
      expect({ status: toA.status, field: toA.body.error?.field }).toEqual({
        status: 400,
        field: 'delegateAgentId',
      });
      expect(await children()).toBe(before);
      expectCreated(
        await redelegate(w.t, dlgO, await presented(w.t, agentO, tokenO, dlgO), {
          ...w.toB,
          delegateAgentId: secondO.id,
        }),
      );
    });
  });
});

describe('access tokens: expired, issued in the future (an app of its own: the clock moves)', () => {
  let x: World;
  beforeAll(async () => {
    x = await makeWorld();
  });
  afterAll(async () => x?.t.close());

  it('a token past exp (and the 30 s skew) is refused as token_expired; a fresh one is accepted', async () => {
    const token = await mint(x.t, x.a, x.dlgA);
    expectCreated(await redelegate(x.t, x.dlgA, await presented(x.t, x.a, token, x.dlgA), x.toB));
    const { exp } = claimsOf(token);
    x.t.clock.advance((exp - nowSeconds(x.t) + 31) * 1000);
    expectRefused(
      await redelegate(x.t, x.dlgA, await presented(x.t, x.a, token, x.dlgA), x.toB),
      'token_expired',
    );
    expect(await introspect(x.t, x.pep, token)).toEqual({ status: 200, body: { active: false } });
    // Control: a token minted now (the delegation itself is good for two hours).
    const fresh = await mint(x.t, x.a, x.dlgA);
    expectCreated(await redelegate(x.t, x.dlgA, await presented(x.t, x.a, fresh, x.dlgA), x.toB));
  });

  it('a token whose iat is ten minutes ahead of the server clock is refused; one minted now is accepted', async () => {
    const early = await mint(x.t, x.a, x.dlgA);
    x.t.clock.advance(-600_000); // the server's clock goes back: `early` was issued in its future
    expectRefused(
      await redelegate(x.t, x.dlgA, await presented(x.t, x.a, early, x.dlgA), x.toB),
      'token_invalid',
    );
    expect(await introspect(x.t, x.pep, early)).toEqual({ status: 200, body: { active: false } });
    const now = await mint(x.t, x.a, x.dlgA);
    expectCreated(await redelegate(x.t, x.dlgA, await presented(x.t, x.a, now, x.dlgA), x.toB));
  });
});

describe("access tokens: a token's own narrowing and kind bind its use", () => {
  it('a token narrowed to email.read cannot re-delegate more than email.read (control: email.read)', async () => {
    const narrowed = await mint(w.t, w.a, w.dlgA, { extra: { scope: 'email.read' } });
    for (const scope of [{ actions: ['email.send'] }, { actions: ['email.*'] }]) {
      const answer = await redelegate(w.t, w.dlgA, await presented(w.t, w.a, narrowed, w.dlgA), {
        ...w.toB,
        scope,
      });
      expect({ status: answer.status, code: answer.body.error?.code }).toEqual({
        status: 400,
        code: 'invalid_request',
      });
      expect(answer.body.error.message).toMatch(/credential/);
    }
    expectCreated(await redelegate(w.t, w.dlgA, await presented(w.t, w.a, narrowed, w.dlgA), w.toB));
    // A child that names no actions inherits what the credential carries, not the delegation.
    const inherited = await redelegate(w.t, w.dlgA, await presented(w.t, w.a, narrowed, w.dlgA), {
      ...w.toB,
      scope: {},
    });
    expectCreated(inherited);
    expect(inherited.body.scope.actions).toEqual(['email.read']);
  });

  it('a delegated token re-signed as autonomous (no act, sub = the agent) is refused as chain_broken', async () => {
    const claims = claimsOf(await mint(w.t, w.a, w.dlgA));
    const { act: _act, ...rest } = claims;
    const autonomous = await serverSigned(w.t, { ...rest, jti: randomJti(), sub: w.a.id });
    expectRefused(
      await redelegate(w.t, w.dlgA, await presented(w.t, w.a, autonomous, w.dlgA), w.toB),
      'chain_broken',
    );
    expect(await introspect(w.t, w.pep, autonomous)).toEqual({ status: 200, body: { active: false } });
    // Control: the same claims, act and sub kept, server-signed afresh.
    const delegated = await serverSigned(w.t, { ...claims, jti: randomJti() });
    expectCreated(await redelegate(w.t, w.dlgA, await presented(w.t, w.a, delegated, w.dlgA), w.toB));
  });

  it('introspection needs an API key with role pep, auditor or admin', async () => {
    const token = await mint(w.t, w.a, w.dlgA);
    for (const roles of [['operator'], ['approver']]) {
      const key = await w.t.call('POST', '/v1/api-keys', { key: w.t.adminKey, body: { name: 'k', roles } });
      expect(key.status, key.text).toBe(201);
      const answer = await post(
        w.t,
        '/oauth/introspect',
        { token },
        { authorization: `Bearer ${key.body.secret}` },
      );
      expectOAuthError(answer, 403, 'access_denied');
    }
    expectOAuthError(await post(w.t, '/oauth/introspect', { token }), 401, 'invalid_client');
    // An agent's own access token is not an introspection credential.
    expectOAuthError(
      await post(w.t, '/oauth/introspect', { token }, { authorization: `Bearer ${token}` }),
      401,
      'invalid_client',
    );
    for (const roles of [['pep'], ['auditor'], ['admin']]) {
      const key = await w.t.call('POST', '/v1/api-keys', { key: w.t.adminKey, body: { name: 'k', roles } });
      expect((await introspect(w.t, key.body.secret, token)).body.active).toBe(true);
    }
  });
});

describe('DPoP: key-bound tokens at the redelegate route', () => {
  let token: string;
  let key: KeyPair;
  const url = () => redelegateUrl(w.dlgA);
  const present = (dpop: string | undefined, scheme = 'DPoP', tok = token) =>
    redelegate(w.t, w.dlgA, { authorization: `${scheme} ${tok}`, ...(dpop ? { dpop } : {}) }, w.toB);

  beforeAll(async () => {
    token = await mint(w.t, w.a, w.dlgA);
    key = await keyOf(w.a);
    expect(claimsOf(token).cnf).toEqual({ jkt: key.kid });
  });

  it('control: DPoP scheme, a fresh proof of this request by the bound key, with ath', async () => {
    expectCreated(await present(await proof(w.t, key, { htu: url(), token })));
  });

  it('a proof for another method is refused', async () => {
    for (const htm of ['GET', 'PUT', 'post'])
      expectRefused(await present(await proof(w.t, key, { htm, htu: url(), token })), 'pop_invalid');
  });

  it('a proof for another URL is refused', async () => {
    for (const htu of [
      `${ISSUER}/v1/delegations/${w.dlgA}/revoke`,
      `${ISSUER}/oauth/token`,
      `https://evil.test/v1/delegations/${w.dlgA}/redelegate`,
      `http://mandate.test:8080/v1/delegations/${w.dlgA}/redelegate`,
    ])
      expectRefused(await present(await proof(w.t, key, { htu, token })), 'pop_invalid');
    // Control: RFC 9449 §4.3 compares htu without query and fragment.
    expectCreated(await present(await proof(w.t, key, { htu: `${url()}?x=1#y`, token })));
  });

  it('a proof signed by a key other than cnf.jkt is refused — a fresh key, or another active key of the agent', async () => {
    expectRefused(await present(await proof(w.t, await freshKey(), { htu: url(), token })), 'pop_invalid');
    // B's registered key: a token stolen by another agent of the org.
    expectRefused(await present(await proof(w.t, await keyOf(w.b), { htu: url(), token })), 'pop_invalid');
    // A second key registered on A itself: still not the key this token is bound to.
    const second = await freshKey();
    const added = await w.t.call('POST', `/v1/agents/${w.a.id}/keys`, {
      key: w.t.adminKey,
      body: { jwk: second.publicJwk },
    });
    expect(added.status, added.text).toBe(201);
    expectRefused(await present(await proof(w.t, second, { htu: url(), token })), 'pop_invalid');
    expectCreated(await present(await proof(w.t, key, { htu: url(), token })));
  });

  it('a replayed proof is refused (the first use is accepted)', async () => {
    const once = await proof(w.t, key, { htu: url(), token });
    expectCreated(await present(once));
    expectRefused(await present(once), 'pop_invalid');
  });

  it('a proof without ath, or with the ath of another token, is refused', async () => {
    expectRefused(await present(await proof(w.t, key, { htu: url() })), 'pop_invalid');
    const other = await mint(w.t, w.a, w.dlgA);
    expectRefused(await present(await proof(w.t, key, { htu: url(), token: other })), 'pop_invalid');
    expectRefused(
      await present(await proof(w.t, key, { htu: url(), athValue: (await ath(token)).slice(0, -1) })),
      'pop_invalid',
    );
  });

  it('a proof made more than the window (60 s) ago, or ahead, is refused', async () => {
    for (const skew of [-120, 120])
      expectRefused(
        await present(await proof(w.t, key, { htu: url(), token, iat: nowSeconds(w.t) + skew })),
        'pop_invalid',
      );
    expectCreated(await present(await proof(w.t, key, { htu: url(), token, iat: nowSeconds(w.t) - 30 })));
  });

  it('a key-bound token presented as Bearer is refused, without a proof or even with one', async () => {
    expectRefused(await present(undefined, 'Bearer'), 'pop_invalid');
    expectRefused(await present(await proof(w.t, key, { htu: url(), token }), 'Bearer'), 'pop_invalid');
  });

  it('two DPoP headers (each a valid proof) are refused: a request carries exactly one', async () => {
    const response = await w.t.app.inject({
      method: 'POST',
      url: `/v1/delegations/${w.dlgA}/redelegate`,
      headers: {
        'content-type': 'application/json',
        authorization: `DPoP ${token}`,
        dpop: [await proof(w.t, key, { htu: url(), token }), await proof(w.t, key, { htu: url(), token })],
      },
      payload: JSON.stringify(w.toB),
    });
    expectRefused(
      { status: response.statusCode, body: JSON.parse(response.body), headers: response.headers },
      'pop_invalid',
    );
  });

  it('a key-bound token under the DPoP scheme without a DPoP header is refused', async () => {
    expectRefused(await present(undefined, 'DPoP'), 'pop_invalid');
  });

  it('an unbound (bearer) token cannot act at Mandate, under either scheme (control: a bound one)', async () => {
    const unbound = await mint(w.t, w.a, w.dlgA, { bound: false });
    expectRefused(
      await present(await proof(w.t, key, { htu: url(), token: unbound }), 'DPoP', unbound),
      'pop_invalid',
    );
    expectRefused(await present(undefined, 'Bearer', unbound), 'pop_invalid');
    expectCreated(await present(await proof(w.t, key, { htu: url(), token })));
  });

  // A key-bound token dies with its key: retiring the key (rotation, compromise) ends it at once
  // (earlier builds kept it usable until it expired).
  it('a token bound to a key the agent has since retired is refused', async () => {
    const r = await activeAgent(w.t, w.aliceId, 'rotating-r');
    const dlgR = await grant(w.t, w.t.adminKey, r.id, w.aliceId);
    const oldKey = await keyOf(r);
    const bound = await mint(w.t, r, dlgR);
    const presentR = async () =>
      redelegate(
        w.t,
        dlgR,
        {
          authorization: `DPoP ${bound}`,
          dpop: await proof(w.t, oldKey, { htu: redelegateUrl(dlgR), token: bound }),
        },
        w.toB,
      );
    expectCreated(await presentR()); // control: before the rotation
    const newKey = await freshKey();
    const added = await w.t.call('POST', `/v1/agents/${r.id}/keys`, {
      key: w.t.adminKey,
      body: { jwk: newKey.publicJwk },
    });
    expect(added.status, added.text).toBe(201);
    const retired = await w.t.call('POST', `/v1/agents/${r.id}/keys/${oldKey.kid}/retire`, {
      key: w.t.adminKey,
      body: { reason: 'compromised' },
    });
    expect(retired.status, retired.text).toBe(200);
    // The retired key can no longer get a token…
    expectOAuthError(
      await tokenRequest(w.t, await exchangeParams(w.t, r, dlgR), { dpop: await proof(w.t, oldKey) }),
      401,
      'invalid_client',
    );
    // …and the token it already holds is refused too.
    expect(await introspect(w.t, w.pep, bound)).toEqual({ status: 200, body: { active: false } });
    const refused = await presentR();
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(/^pop_invalid/);
  });
});

describe('token endpoint: client authentication (private_key_jwt)', () => {
  /** A first-hop exchange by A with this assertion in place of a valid one. */
  const exchangeWith = async (clientAssertion: string, extra: Record<string, string> = {}) =>
    tokenRequest(w.t, {
      ...(await exchangeParams(w.t, w.a, w.dlgA)),
      client_assertion: clientAssertion,
      ...extra,
    });

  it('control: a valid assertion gets a token, never cached (no-store)', async () => {
    expectIssued(await exchangeWith(await assertion(w.t, w.a)));
    // The aud may also be the issuer identifier itself (RFC 7523 §3).
    expectIssued(await exchangeWith(await assertion(w.t, w.a, { aud: ISSUER })));
  });

  it('an assertion signed by a key not registered on the agent is refused (kid of that key, of the real key, none)', async () => {
    const stranger = await freshKey();
    const real = await keyOf(w.a);
    for (const kid of [stranger.kid, real.kid, null])
      expectOAuthError(
        await exchangeWith(await assertion(w.t, w.a, { key: stranger, kid })),
        401,
        'invalid_client',
      );
  });

  it('a replayed assertion (same jti) is refused', async () => {
    const once = await assertion(w.t, w.a);
    expectIssued(await exchangeWith(once));
    expectOAuthError(await exchangeWith(once), 401, 'invalid_client');
    // A new assertion reusing the jti is refused as well: the jti, not the bytes, is remembered.
    const jti = claimsOf(once).jti;
    expectOAuthError(await exchangeWith(await assertion(w.t, w.a, { jti })), 401, 'invalid_client');
  });

  it('an assertion for another audience is refused (another server, another endpoint of this one)', async () => {
    for (const aud of ['https://evil.test/oauth/token', `${ISSUER}/oauth/revoke`, `${ISSUER}/oauth/token/`])
      expectOAuthError(await exchangeWith(await assertion(w.t, w.a, { aud })), 401, 'invalid_client');
  });

  it('an assertion naming another agent is refused (iss=sub=B, or iss≠sub, or client_id=B)', async () => {
    // Signed with A's key but claiming to be B.
    expectOAuthError(
      await exchangeWith(await assertion(w.t, w.a, { iss: w.b.id, sub: w.b.id })),
      401,
      'invalid_client',
    );
    expectOAuthError(await exchangeWith(await assertion(w.t, w.a, { sub: w.b.id })), 401, 'invalid_client');
    expectOAuthError(await exchangeWith(await assertion(w.t, w.a, { iss: w.b.id })), 401, 'invalid_client');
    expectOAuthError(
      await exchangeWith(await assertion(w.t, w.a), { client_id: w.b.id }),
      401,
      'invalid_client',
    );
    // Control: client_id naming A itself is fine.
    expectIssued(await exchangeWith(await assertion(w.t, w.a), { client_id: w.a.id }));
  });

  it('an assertion valid for more than 300 s is refused (control: 290 s)', async () => {
    expectOAuthError(await exchangeWith(await assertion(w.t, w.a, { expIn: 301 })), 401, 'invalid_client');
    expectOAuthError(await exchangeWith(await assertion(w.t, w.a, { expIn: 86_400 })), 401, 'invalid_client');
    expectIssued(await exchangeWith(await assertion(w.t, w.a, { expIn: 290 })));
  });

  it('an expired assertion is refused', async () => {
    const now = nowSeconds(w.t);
    expectOAuthError(
      await exchangeWith(await assertion(w.t, w.a, { iat: now - 300, expIn: -60 })),
      401,
      'invalid_client',
    );
  });

  it('an access token is not a client assertion; neither is a JWT of another typ signed by the agent', async () => {
    const accessToken = await mint(w.t, w.a, w.dlgA);
    expectOAuthError(await exchangeWith(accessToken), 401, 'invalid_client');
    for (const typ of ['at+jwt', 'dpop+jwt'])
      expectOAuthError(await exchangeWith(await assertion(w.t, w.a, { typ })), 401, 'invalid_client');
    // Control: typ JWT is what an assertion may say.
    expectIssued(await exchangeWith(await assertion(w.t, w.a, { typ: 'JWT' })));
  });

  it('a suspended agent is refused as invalid_client, and its tokens go inactive', async () => {
    const s = await activeAgent(w.t, w.aliceId, 'to-be-suspended');
    const dlgS = await grant(w.t, w.t.adminKey, s.id, w.aliceId);
    const before = await mint(w.t, s, dlgS); // control: it could, while active
    expect((await introspect(w.t, w.pep, before)).body.active).toBe(true);
    const suspended = await w.t.call('POST', `/v1/agents/${s.id}/suspend`, {
      key: w.t.adminKey,
      body: { reason: 'key compromise suspected' },
    });
    expect(suspended.status, suspended.text).toBe(200);
    expectOAuthError(await tokenRequest(w.t, await exchangeParams(w.t, s, dlgS)), 401, 'invalid_client');
    expect(await introspect(w.t, w.pep, before)).toEqual({ status: 200, body: { active: false } });
  });
});

describe('token endpoint: grants', () => {
  let tokenA: string;
  let dlgB: string;

  beforeAll(async () => {
    tokenA = await mint(w.t, w.a, w.dlgA);
    const made = await redelegate(
      w.t,
      w.dlgA,
      {
        authorization: `DPoP ${tokenA}`,
        dpop: await proof(w.t, await keyOf(w.a), { htu: redelegateUrl(w.dlgA), token: tokenA }),
      },
      w.toB,
    );
    expectCreated(made);
    dlgB = made.body.id;
  });

  it('a delegation made to another agent cannot be exchanged (control: by its delegate)', async () => {
    expectOAuthError(await tokenRequest(w.t, await exchangeParams(w.t, w.b, w.dlgA)), 400, 'invalid_grant');
    expectOAuthError(await tokenRequest(w.t, await exchangeParams(w.t, w.c, w.dlgA)), 400, 'invalid_grant');
    expectIssued(await tokenRequest(w.t, await exchangeParams(w.t, w.a, w.dlgA)));
  });

  it("a re-delegation is not exchanged by its id, only with the delegating agent's token", async () => {
    expectOAuthError(await tokenRequest(w.t, await exchangeParams(w.t, w.b, dlgB)), 400, 'invalid_grant');
    const viaParent = await exchangeParams(w.t, w.b, dlgB, {
      subject_token: tokenA,
      subject_token_type: ACCESS_TOKEN_TYPE,
      delegation: dlgB,
    });
    const issued = expectIssued(await tokenRequest(w.t, viaParent));
    expect(claimsOf(issued.access_token)).toMatchObject({
      dlg: dlgB,
      act: { sub: w.b.id, act: { sub: w.a.id } },
    });
  });

  // (The control is the test above: B, to which A did delegate, exchanges the same token.)
  it("an agent to which the subject token's agent delegated nothing cannot exchange that token", async () => {
    const params = await exchangeParams(w.t, w.c, dlgB, {
      subject_token: tokenA,
      subject_token_type: ACCESS_TOKEN_TYPE,
    });
    expectOAuthError(await tokenRequest(w.t, params), 400, 'invalid_grant');
    expectOAuthError(
      await tokenRequest(w.t, { ...params, client_assertion: await assertion(w.t, w.c), delegation: dlgB }),
      400,
      'invalid_grant',
    );
  });

  it('a DPoP proof at the token endpoint by a key that is not the agent’s is refused (control: the agent’s key)', async () => {
    const params = async () => exchangeParams(w.t, w.a, w.dlgA);
    for (const stranger of [await freshKey(), await keyOf(w.b)])
      expectOAuthError(
        await tokenRequest(w.t, await params(), { dpop: await proof(w.t, stranger) }),
        400,
        'invalid_dpop_proof',
      );
    const ok = expectIssued(
      await tokenRequest(w.t, await params(), { dpop: await proof(w.t, await keyOf(w.a)) }),
    );
    expect(ok.token_type).toBe('DPoP');
  });

  it('a DPoP proof at the token endpoint for another URL or method, or replayed, is refused', async () => {
    const key = await keyOf(w.a);
    const params = async () => exchangeParams(w.t, w.a, w.dlgA);
    for (const bad of [
      await proof(w.t, key, { htu: `${ISSUER}/oauth/revoke` }),
      await proof(w.t, key, { htm: 'GET' }),
    ])
      expectOAuthError(await tokenRequest(w.t, await params(), { dpop: bad }), 400, 'invalid_dpop_proof');
    const once = await proof(w.t, key);
    expectIssued(await tokenRequest(w.t, await params(), { dpop: once }));
    expectOAuthError(await tokenRequest(w.t, await params(), { dpop: once }), 400, 'invalid_dpop_proof');
  });

  it('two DPoP headers at the token endpoint are refused', async () => {
    const key = await keyOf(w.a);
    const response = await w.t.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': FORM, dpop: [await proof(w.t, key), await proof(w.t, key)] },
      payload: new URLSearchParams(
        (await exchangeParams(w.t, w.a, w.dlgA)) as Record<string, string>,
      ).toString(),
    });
    expectOAuthError(
      { status: response.statusCode, body: JSON.parse(response.body), headers: response.headers },
      400,
      'invalid_dpop_proof',
    );
  });

  it('client_credentials needs a standing delegation from the agent’s owner (control: one exists)', async () => {
    const cc = async (agent: TestAgent, extra: Record<string, string> = {}) =>
      tokenRequest(w.t, {
        grant_type: 'client_credentials',
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await assertion(w.t, agent),
        ...extra,
      });
    // A holds only an ordinary (non-standing) delegation.
    expectOAuthError(await cc(w.a), 400, 'invalid_grant');
    expectOAuthError(await cc(w.a, { delegation: w.dlgA }), 400, 'invalid_grant');
    const d = await activeAgent(w.t, w.aliceId, 'autonomous-d');
    const standing = await w.t.call('POST', '/v1/delegations', {
      key: w.t.adminKey,
      body: {
        delegateAgentId: d.id,
        purpose: 'nightly digest',
        onBehalfOf: w.aliceId,
        standing: true,
        scope: {
          actions: ['email.read'],
          resources: ['mailbox:alice/*'],
          expiresAt: new Date(w.t.clock.now().getTime() + HOUR).toISOString(),
        },
      },
    });
    expect(standing.status, standing.text).toBe(201);
    // Another agent cannot take D's standing delegation.
    expectOAuthError(await cc(w.c, { delegation: standing.body.id }), 400, 'invalid_grant');
    const issued = expectIssued(await cc(d));
    expect(claimsOf(issued.access_token)).toMatchObject({
      sub: d.id,
      client_id: d.id,
      dlg: standing.body.id,
    });
    expect(claimsOf(issued.access_token).act).toBeUndefined();
  });

  it('an unsupported grant_type is refused', async () => {
    for (const grant_type of [
      'password',
      'authorization_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    ])
      expectOAuthError(
        await tokenRequest(w.t, await exchangeParams(w.t, w.a, w.dlgA, { grant_type })),
        400,
        'unsupported_grant_type',
      );
  });

  it('an unsupported subject_token_type is refused', async () => {
    const params = await exchangeParams(w.t, w.a, w.dlgA, {
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    });
    expectOAuthError(await tokenRequest(w.t, params), 400, 'unsupported_token_type');
  });
});

describe('token endpoint: request syntax', () => {
  it('a missing parameter is invalid_request (missing client authentication: invalid_client)', async () => {
    for (const name of ['grant_type', 'subject_token', 'subject_token_type']) {
      const params = await exchangeParams(w.t, w.a, w.dlgA);
      delete params[name];
      expectOAuthError(await tokenRequest(w.t, params), 400, 'invalid_request');
    }
    for (const name of ['client_assertion', 'client_assertion_type']) {
      const params = await exchangeParams(w.t, w.a, w.dlgA);
      delete params[name];
      expectOAuthError(await tokenRequest(w.t, params), 401, 'invalid_client');
    }
  });

  it('a repeated parameter is invalid_request, even when both values are the same', async () => {
    for (const name of [
      'grant_type',
      'subject_token',
      'subject_token_type',
      'client_assertion',
      'scope',
      'delegation',
    ]) {
      const params = await exchangeParams(w.t, w.a, w.dlgA, { scope: 'email.read', delegation: w.dlgA });
      params[name] = [params[name] as string, params[name] as string];
      expectOAuthError(await tokenRequest(w.t, params), 400, 'invalid_request');
    }
    // Control: once each.
    expectIssued(
      await tokenRequest(
        w.t,
        await exchangeParams(w.t, w.a, w.dlgA, { scope: 'email.read', delegation: w.dlgA }),
      ),
    );
  });

  it('a JSON body instead of a form is 400 invalid_request', async () => {
    const response = await w.t.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(await exchangeParams(w.t, w.a, w.dlgA)),
    });
    expectOAuthError(
      { status: response.statusCode, body: JSON.parse(response.body), headers: response.headers },
      400,
      'invalid_request',
    );
  });

  it('authorization_details wider than the delegation is invalid_authorization_details (control: narrower)', async () => {
    const details = (scope: Record<string, unknown>) => JSON.stringify([{ type: 'mandate_scope', scope }]);
    for (const wider of [
      { actions: ['calendar.read'] },
      { resources: ['mailbox:bob/*'] },
      { dataClass: 'confidential' },
      { expiresAt: new Date(w.t.clock.now().getTime() + 3 * HOUR).toISOString() },
    ])
      expectOAuthError(
        await tokenRequest(
          w.t,
          await exchangeParams(w.t, w.a, w.dlgA, { authorization_details: details(wider) }),
        ),
        400,
        'invalid_authorization_details',
      );
    const narrow = expectIssued(
      await tokenRequest(
        w.t,
        await exchangeParams(w.t, w.a, w.dlgA, {
          authorization_details: details({ actions: ['email.read'], dataClass: 'public' }),
        }),
      ),
    );
    expect(narrow.authorization_details[0].scope).toMatchObject({
      actions: ['email.read'],
      dataClass: 'public',
    });
  });

  it('a scope wider than the delegation is invalid_scope (control: narrower)', async () => {
    for (const scope of ['calendar.read', 'email.read calendar.read', '*'])
      expectOAuthError(
        await tokenRequest(w.t, await exchangeParams(w.t, w.a, w.dlgA, { scope })),
        400,
        'invalid_scope',
      );
    const narrow = expectIssued(
      await tokenRequest(w.t, await exchangeParams(w.t, w.a, w.dlgA, { scope: 'email.read' })),
    );
    expect(narrow.scope).toBe('email.read');
    expect(claimsOf(narrow.access_token).authorization_details[0].scope.actions).toEqual(['email.read']);
  });

  it('a resource that is not an absolute URI, or has a fragment, is invalid_target (control: absolute)', async () => {
    for (const resource of [
      'not a uri',
      '/relative/path',
      'https://api.example.test/x#frag',
      'https://api.example.test/#',
    ])
      expectOAuthError(
        await tokenRequest(w.t, await exchangeParams(w.t, w.a, w.dlgA, { resource })),
        400,
        'invalid_target',
      );
    const ok = expectIssued(
      await tokenRequest(
        w.t,
        await exchangeParams(w.t, w.a, w.dlgA, { resource: 'https://api.example.test/x' }),
      ),
    );
    expect(claimsOf(ok.access_token).aud).toBe('https://api.example.test/x');
  });
});

describe('revocation', () => {
  let token: string;
  let jti: string;
  const present = async (tok: string) =>
    redelegate(
      w.t,
      w.dlgA,
      {
        authorization: `DPoP ${tok}`,
        dpop: await proof(w.t, await keyOf(w.a), { htu: redelegateUrl(w.dlgA), token: tok }),
      },
      w.toB,
    );
  const revokedEvents = async () => {
    const listed = await w.t.call('GET', '/v1/audit/events?type=credential.revoked&limit=200', {
      key: w.t.adminKey,
    });
    expect(listed.status, listed.text).toBe(200);
    return (listed.body.items as any[]).filter((event) => event.target?.id === jti);
  };

  beforeAll(async () => {
    token = await mint(w.t, w.a, w.dlgA);
    jti = claimsOf(token).jti;
  });

  it('control: the token is usable before it is revoked', async () => {
    expectCreated(await present(token));
    expect((await introspect(w.t, w.pep, token)).body.active).toBe(true);
  });

  it('an unrelated agent cannot revoke it (unauthorized_client); nor can an agent below it in a chain', async () => {
    await expect(w.c.creds.revoke(token)).rejects.toMatchObject({ status: 400, code: 'unauthorized_client' });
    await expect(w.b.creds.revoke(token)).rejects.toMatchObject({ status: 400, code: 'unauthorized_client' });
    expect((await introspect(w.t, w.pep, token)).body.active).toBe(true);
    expect(await revokedEvents()).toEqual([]);
  });

  it('the agent revokes its own token: inactive at introspection, refused as token_revoked, audited', async () => {
    const sibling = await mint(w.t, w.a, w.dlgA);
    await w.a.creds.revoke(token);
    expect(await introspect(w.t, w.pep, token)).toEqual({ status: 200, body: { active: false } });
    expectRefused(await present(token), 'token_revoked');
    // Only that token: another token of the same agent and delegation is untouched.
    expectCreated(await present(sibling));
    const events = await revokedEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'credential.revoked',
      actor: { kind: 'agent', id: w.a.id },
      target: { type: 'credential', id: jti },
    });
    // Revoking again is a no-op success (RFC 7009 §2.2), recorded once.
    await w.a.creds.revoke(token);
    expect(await revokedEvents()).toHaveLength(1);
  });

  it('a revoked token is no longer a subject token', async () => {
    const parent = await mint(w.t, w.a, w.dlgA);
    const made = await present(parent);
    expectCreated(made);
    const params = async () =>
      exchangeParams(w.t, w.b, made.body.id, {
        subject_token: parent,
        subject_token_type: ACCESS_TOKEN_TYPE,
        delegation: made.body.id,
      });
    expectIssued(await tokenRequest(w.t, await params())); // control
    await w.a.creds.revoke(parent);
    expectOAuthError(await tokenRequest(w.t, await params()), 400, 'invalid_grant');
  });

  it("an agent of another org revoking A's token is answered 200 (RFC 7009) and changes nothing", async () => {
    const victim = await mint(w.t, w.a, w.dlgA);
    const other = await createOrg(w.t, 'revoking org');
    const user = await w.t.call('POST', '/v1/users', { key: other.adminKey, body: { displayName: 'Oscar' } });
    const outsider = await agentIn(w.t, other.adminKey, user.body.id, 'outsider');
    await expect(outsider.creds.revoke(victim)).resolves.toBeUndefined();
    expect((await introspect(w.t, w.pep, victim)).body.active).toBe(true);
    expectCreated(await present(victim));
  });

  it('an agent may revoke a token minted below it (A revokes B’s token on A’s re-delegation)', async () => {
    const parent = await mint(w.t, w.a, w.dlgA);
    const made = await present(parent);
    expectCreated(made);
    const issued = expectIssued(
      await tokenRequest(
        w.t,
        await exchangeParams(w.t, w.b, made.body.id, {
          subject_token: parent,
          subject_token_type: ACCESS_TOKEN_TYPE,
          delegation: made.body.id,
        }),
      ),
    );
    expect((await introspect(w.t, w.pep, issued.access_token)).body.active).toBe(true);
    await w.a.creds.revoke(issued.access_token);
    expect(await introspect(w.t, w.pep, issued.access_token)).toEqual({
      status: 200,
      body: { active: false },
    });
  });
});
