/**
 * Attacks on access-token and DPoP verification as an enforcement point runs it: a test issuer
 * (an Ed25519 key and its JWKS), tokens minted with jose's SignJWT, and every way a token or a
 * proof must be refused. Each refusal names its TokenError code; where jose and Mandate both
 * guard the same property, the refusal's message is checked too, so removing Mandate's own check
 * makes the test fail rather than being masked by a later, more generic refusal.
 */
import { createHash } from 'node:crypto';
import {
  type AccessTokenClaims,
  type AccessTokenOptions,
  MemoryReplayCache,
  type ReplayCache,
  TokenError,
  type TokenErrorCode,
  VerifiedTokenCache,
  verifyAccessToken,
  verifyDpopProof,
} from '@mandate/core';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  SignJWT,
} from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';

const ISSUER = 'https://mandate.test';
const AUDIENCE = 'https://api.test';
/** A fixed clock for access tokens (whole seconds, as JWT times are). */
const NOW_S = Math.floor(Date.now() / 1000);
const NOW = new Date(NOW_S * 1000);

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

const b64url = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const decodePart = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
const athOf = (token: string) => createHash('sha256').update(token).digest('base64url');
let jtiCounter = 0;
const newJti = (prefix = 'jti') => `${prefix}-${process.pid}-${Date.now()}-${++jtiCounter}`;

/** Expects `promise` to reject with a TokenError of `code`, and (optionally) a message matching `why`. */
async function expectRefused(
  promise: Promise<unknown>,
  code: TokenErrorCode,
  why?: RegExp,
): Promise<TokenError> {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected a refusal (${code}), got ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenError);
  expect((error as TokenError).code).toBe(code);
  if (why) expect((error as TokenError).message).toMatch(why);
  return error as TokenError;
}

let issuer: KeyPair;
let issuerJwk: JWK;
let jwks: JSONWebKeySet;
/** Another Ed25519 key, never in the JWKS. */
let stranger: KeyPair;
/** An ES256 key, never in the JWKS. */
let ecStranger: KeyPair;
/** The agent's DPoP key (the token's cnf.jkt), and a second agent key. */
let agentKey: KeyPair;
let agentJwk: JWK;
let agentJkt: string;
let otherAgentKey: KeyPair;
let otherAgentJwk: JWK;

beforeAll(async () => {
  issuer = await generateKeyPair('EdDSA', { extractable: true });
  issuerJwk = await exportJWK(issuer.publicKey);
  jwks = { keys: [{ ...issuerJwk, kid: 'k1', alg: 'EdDSA', use: 'sig' }] };
  stranger = await generateKeyPair('EdDSA', { extractable: true });
  ecStranger = await generateKeyPair('ES256', { extractable: true });
  agentKey = await generateKeyPair('EdDSA', { extractable: true });
  agentJwk = await exportJWK(agentKey.publicKey);
  agentJkt = await calculateJwkThumbprint(agentJwk, 'sha256');
  otherAgentKey = await generateKeyPair('EdDSA', { extractable: true });
  otherAgentJwk = await exportJWK(otherAgentKey.publicKey);
});

const AUTHORIZATION_DETAILS = [
  {
    type: 'mandate_scope',
    scope: {
      actions: ['email.read'],
      resources: ['mailbox:alice/*'],
      dataClass: 'internal',
      expiresAt: new Date((NOW_S + 7200) * 1000).toISOString(),
      maxDepth: 0,
    },
  },
];

/** The claims of a valid re-delegated token (alice → agt_a → agt_b), `overrides` merged over them. */
function claimsOf(overrides: Record<string, unknown> = {}): JWTPayload {
  const claims: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'usr_alice',
    client_id: 'agt_b',
    org: 'org_1',
    dlg: 'dlg_1',
    jti: newJti('at'),
    iat: NOW_S,
    exp: NOW_S + 300,
    act: { sub: 'agt_b', act: { sub: 'agt_a' } },
    cnf: { jkt: agentJkt },
    authorization_details: AUTHORIZATION_DETAILS,
    ...overrides,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return claims as JWTPayload;
}

interface MintOptions {
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  key?: CryptoKey | Uint8Array;
}

/** A token as the issuer signs it; `header` is merged over {alg: EdDSA, typ: at+jwt, kid: k1}. */
async function mint(options: MintOptions = {}): Promise<string> {
  const header = { alg: 'EdDSA', typ: 'at+jwt', kid: 'k1', ...options.header };
  return new SignJWT(claimsOf(options.claims))
    .setProtectedHeader(header as { alg: string })
    .sign(options.key ?? issuer.privateKey);
}

const tokenOptions = (overrides: Partial<AccessTokenOptions> = {}): AccessTokenOptions => ({
  keys: jwks,
  issuer: ISSUER,
  audience: AUDIENCE,
  now: NOW,
  ...overrides,
});

/** Replaces the payload of a signed token with `edit(payload)`, keeping header and signature. */
function editPayload(token: string, edit: (payload: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split('.');
  const decoded = decodePart(payload as string);
  edit(decoded);
  return `${header}.${b64url(decoded)}.${signature}`;
}

describe('verifyAccessToken: the happy path', () => {
  it('returns the claims, the agent chain newest first, and the subject', async () => {
    const token = await mint();
    const verified = await verifyAccessToken(token, tokenOptions());
    expect(verified.agents).toEqual(['agt_b', 'agt_a']);
    expect(verified.subject).toBe('usr_alice');
    expect(verified.claims).toMatchObject({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'usr_alice',
      client_id: 'agt_b',
      org: 'org_1',
      dlg: 'dlg_1',
      cnf: { jkt: agentJkt },
      authorization_details: AUTHORIZATION_DETAILS,
    });
  });

  it('accepts an autonomous token (no act, sub is the client) with the agent alone in the chain', async () => {
    const token = await mint({ claims: { sub: 'agt_b', act: undefined } });
    const verified = await verifyAccessToken(token, tokenOptions());
    expect(verified.agents).toEqual(['agt_b']);
    expect(verified.subject).toBe('agt_b');
    expect(verified.claims.act).toBeUndefined();
  });

  it('accepts a token whose audience list includes this audience', async () => {
    const token = await mint({ claims: { aud: ['https://other.test', AUDIENCE] } });
    await expect(verifyAccessToken(token, tokenOptions())).resolves.toMatchObject({ subject: 'usr_alice' });
  });
});

describe('verifyAccessToken: attacks', () => {
  it('refuses alg: none (hand-crafted, no signature)', async () => {
    const token = `${b64url({ alg: 'none', typ: 'at+jwt', kid: 'k1' })}.${b64url(claimsOf())}.`;
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid');
    // Also with a key resolver that hands back the issuer key whatever the header says.
    await expectRefused(
      verifyAccessToken(token, tokenOptions({ keys: async () => issuer.publicKey })),
      'token_invalid',
    );
  });

  it("refuses HS256 signed with the issuer's public key as the HMAC secret", async () => {
    const raw = Buffer.from(issuerJwk.x as string, 'base64url');
    const pem = new TextEncoder().encode(await exportSPKI(issuer.publicKey));
    const jwkJson = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
    for (const secret of [new Uint8Array(raw), pem, jwkJson]) {
      const token = await mint({ header: { alg: 'HS256' }, key: secret });
      await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid');
      // A careless key resolver returning the secret itself must still not get HS256 through.
      await expectRefused(
        verifyAccessToken(token, tokenOptions({ keys: async () => secret })),
        'token_invalid',
      );
    }
  });

  it('refuses an ES256 token signed by another key that claims kid k1', async () => {
    const token = await mint({ header: { alg: 'ES256' }, key: ecStranger.privateKey });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid');
  });

  it('refuses an EdDSA token signed by another key that claims kid k1', async () => {
    const token = await mint({ key: stranger.privateKey });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid');
  });

  it("refuses a token carrying its own signing key in the header (jwk), ignoring it for the issuer's", async () => {
    const token = await mint({
      header: { jwk: await exportJWK(stranger.publicKey) },
      key: stranger.privateKey,
    });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid');
  });

  it('refuses an unknown kid, even signed by the issuer key', async () => {
    const token = await mint({ header: { kid: 'k2' } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid');
  });

  it('refuses a token expired beyond the 30 s tolerance with token_expired', async () => {
    const token = await mint({ claims: { iat: NOW_S - 600, exp: NOW_S - 31 } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_expired');
  });

  it('accepts a token expired just inside the 30 s tolerance', async () => {
    const token = await mint({ claims: { iat: NOW_S - 600, exp: NOW_S - 29 } });
    await expect(verifyAccessToken(token, tokenOptions())).resolves.toMatchObject({ subject: 'usr_alice' });
  });

  it('refuses a token not yet valid (nbf in the future, beyond tolerance)', async () => {
    const token = await mint({ claims: { nbf: NOW_S + 120 } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /nbf/);
  });

  it('refuses a token issued far in the future (iat)', async () => {
    const token = await mint({ claims: { iat: NOW_S + 3600, exp: NOW_S + 3900 } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /future/);
  });

  it('refuses a wrong issuer', async () => {
    const token = await mint({ claims: { iss: 'https://evil.test' } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /iss/);
  });

  it('refuses a wrong audience', async () => {
    const token = await mint({ claims: { aud: 'https://other-api.test' } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /aud/);
  });

  it('refuses typ JWT instead of at+jwt', async () => {
    const token = await mint({ header: { typ: 'JWT' } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /typ/);
  });

  it('refuses an edited payload (sub changed, signature kept)', async () => {
    const token = editPayload(await mint(), (payload) => {
      payload.sub = 'usr_mallory';
    });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /signature/);
  });

  it('refuses an edited act (agt_a swapped for agt_x, signature kept)', async () => {
    const token = editPayload(await mint(), (payload) => {
      payload.act = { sub: 'agt_b', act: { sub: 'agt_x' } };
    });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /signature/);
  });

  it('refuses an act chain whose newest (outermost) actor is not the client_id', async () => {
    const token = await mint({ claims: { act: { sub: 'agt_x', act: { sub: 'agt_a' } } } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /actor chain/);
  });

  it('refuses a token without act whose sub is not the client_id (not autonomous)', async () => {
    const token = await mint({ claims: { act: undefined } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /actor chain/);
  });

  it.each(['dlg', 'org', 'client_id', 'jti'])('refuses a token without %s', async (name) => {
    const token = await mint({ claims: { [name]: undefined } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', new RegExp(name));
  });

  // Only jose's requiredClaims guards these: a token without exp would otherwise never expire.
  it.each(['exp', 'iat', 'sub'])('refuses a token without %s', async (name) => {
    const token = await mint({ claims: { [name]: undefined } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', new RegExp(name));
  });

  it.each(['dlg', 'org'])('refuses a token whose %s is empty', async (name) => {
    const token = await mint({ claims: { [name]: '' } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', new RegExp(name));
  });

  it("refuses a malformed act (act: 'x')", async () => {
    const token = await mint({ claims: { act: 'x' } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /act claim is malformed/);
  });

  it('refuses an act nested 20 deep', async () => {
    let act: Record<string, unknown> = { sub: 'agt_19' };
    for (let i = 18; i >= 1; i--) act = { sub: `agt_${i}`, act };
    act = { sub: 'agt_b', act };
    const token = await mint({ claims: { act } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /act claim is malformed/);
  });

  it('does NOT refuse a token of another org: org is returned for the PEP/engine to compare', async () => {
    const token = await mint({ claims: { org: 'org_2' } });
    const verified = await verifyAccessToken(token, tokenOptions());
    expect(verified.claims.org).toBe('org_2');
    expect(verified.claims.org).not.toBe('org_1');
  });

  it('refuses cnf: null with TokenError token_invalid (not a TypeError)', async () => {
    const token = await mint({ claims: { cnf: null } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /cnf/);
  });

  it('refuses a cnf without a string jkt', async () => {
    const token = await mint({ claims: { cnf: { jkt: 42 } } });
    await expectRefused(verifyAccessToken(token, tokenOptions()), 'token_invalid', /cnf/);
  });
});

// ---------------------------------------------------------------------------------------------
// DPoP

const URL_ = 'https://api.test/v1/mail/messages';

interface ProofOptions {
  header?: Record<string, unknown>;
  payload?: Record<string, unknown>;
  key?: CryptoKey | Uint8Array;
  /** The access token to bind (ath); null: no ath. */
  accessToken?: string | null;
}

/** The current time in seconds, read at every call: the replay cache keeps entries by wall clock. */
const nowS = () => Math.floor(Date.now() / 1000);

/** A DPoP proof by the agent key for GET URL_, `header`/`payload` merged over the defaults. */
async function proof(options: ProofOptions = {}): Promise<string> {
  const payload: Record<string, unknown> = {
    htm: 'GET',
    htu: URL_,
    iat: nowS(),
    jti: newJti('dpop'),
    ...(options.accessToken ? { ath: athOf(options.accessToken) } : {}),
    ...options.payload,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  const header = { typ: 'dpop+jwt', alg: 'EdDSA', jwk: agentJwk, ...options.header };
  return new SignJWT(payload as JWTPayload)
    .setProtectedHeader(header as { alg: string })
    .sign(options.key ?? agentKey.privateKey);
}

describe('verifyDpopProof', () => {
  let accessToken: string;
  let replay: ReplayCache;

  beforeAll(async () => {
    accessToken = await mint();
  });

  const dpopOptions = (overrides: Record<string, unknown> = {}) => ({
    method: 'GET',
    url: URL_,
    accessToken,
    expectedJkt: agentJkt,
    replay,
    ...overrides,
  });

  // A fresh replay cache for every test unless a test says otherwise.
  const fresh = () => {
    replay = new MemoryReplayCache();
  };

  it('accepts a valid proof and returns its key thumbprint (the jkt)', async () => {
    fresh();
    const jkt = await verifyDpopProof(await proof({ accessToken }), dpopOptions());
    expect(jkt).toBe(agentJkt);
    expect(jkt).toBe(await calculateJwkThumbprint(agentJwk, 'sha256'));
  });

  it('accepts an ES256 proof key too, returning its thumbprint', async () => {
    fresh();
    const ecJwk = await exportJWK(ecStranger.publicKey);
    const p = await proof({ accessToken, header: { alg: 'ES256', jwk: ecJwk }, key: ecStranger.privateKey });
    const ecJkt = await calculateJwkThumbprint(ecJwk, 'sha256');
    await expect(verifyDpopProof(p, dpopOptions({ expectedJkt: ecJkt }))).resolves.toBe(ecJkt);
  });

  it('refuses a proof for another method', async () => {
    fresh();
    const p = await proof({ accessToken, payload: { htm: 'POST' } });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /htm/);
  });

  it('refuses a proof for another URL (path)', async () => {
    fresh();
    const p = await proof({ accessToken, payload: { htu: 'https://api.test/v1/admin/users' } });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /htu/);
  });

  it('refuses a proof for another URL (host)', async () => {
    fresh();
    const p = await proof({ accessToken, payload: { htu: 'https://evil.test/v1/mail/messages' } });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /htu/);
  });

  it('accepts a URL differing only in query or fragment (RFC 9449 section 4.3)', async () => {
    fresh();
    const withQuery = await proof({ accessToken, payload: { htu: `${URL_}?page=2#top` } });
    await expect(verifyDpopProof(withQuery, dpopOptions())).resolves.toBe(agentJkt);
    const plain = await proof({ accessToken });
    await expect(verifyDpopProof(plain, dpopOptions({ url: `${URL_}?limit=10#frag` }))).resolves.toBe(
      agentJkt,
    );
  });

  it('refuses a proof whose htu does not parse, even when the request URL does not either', async () => {
    fresh();
    const p = await proof({ accessToken, payload: { htu: '/v1/admin/users' } });
    await expectRefused(verifyDpopProof(p, dpopOptions({ url: '/v1/mail/messages' })), 'pop_invalid', /htu/);
  });

  it('refuses a proof signed by another key than the token is bound to (cnf.jkt)', async () => {
    fresh();
    const p = await proof({ accessToken, header: { jwk: otherAgentJwk }, key: otherAgentKey.privateKey });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /another key/);
  });

  it('refuses a replayed proof (same jti twice, one cache); a different jti passes', async () => {
    fresh();
    const jti = newJti('replay');
    const p = await proof({ accessToken, payload: { jti } });
    await expect(verifyDpopProof(p, dpopOptions())).resolves.toBe(agentJkt);
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /replayed/);
    // A new proof reusing the jti is a replay too.
    await expectRefused(
      verifyDpopProof(await proof({ accessToken, payload: { jti } }), dpopOptions()),
      'pop_invalid',
      /replayed/,
    );
    await expect(verifyDpopProof(await proof({ accessToken }), dpopOptions())).resolves.toBe(agentJkt);
  });

  it('refuses a proof without ath when an access token is presented', async () => {
    fresh();
    const p = await proof({ accessToken: null });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /ath/);
  });

  it('refuses a proof carrying the ath of another token', async () => {
    fresh();
    const other = await mint();
    const p = await proof({ accessToken: other });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /ath/);
  });

  it('refuses iat older than the 60 s window', async () => {
    fresh();
    const p = await proof({ accessToken, payload: { iat: nowS() - 90 } });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /iat/);
  });

  it('refuses iat further than 60 s in the future', async () => {
    fresh();
    const p = await proof({ accessToken, payload: { iat: nowS() + 90 } });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /iat/);
  });

  it('accepts iat inside the window in both directions', async () => {
    fresh();
    await expect(
      verifyDpopProof(await proof({ accessToken, payload: { iat: nowS() - 30 } }), dpopOptions()),
    ).resolves.toBe(agentJkt);
    await expect(
      verifyDpopProof(await proof({ accessToken, payload: { iat: nowS() + 30 } }), dpopOptions()),
    ).resolves.toBe(agentJkt);
  });

  it('refuses typ JWT', async () => {
    fresh();
    const p = await proof({ accessToken, header: { typ: 'JWT' } });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /typ/);
  });

  it('refuses alg: none (hand-crafted)', async () => {
    fresh();
    const payload = { htm: 'GET', htu: URL_, iat: nowS(), jti: newJti('none'), ath: athOf(accessToken) };
    const p = `${b64url({ typ: 'dpop+jwt', alg: 'none', jwk: agentJwk })}.${b64url(payload)}.`;
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /algorithm/);
  });

  it("refuses HS256 (the header's public key bytes used as the HMAC secret)", async () => {
    fresh();
    const secret = new Uint8Array(Buffer.from(agentJwk.x as string, 'base64url'));
    const p = await proof({ accessToken, header: { alg: 'HS256' }, key: secret });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /algorithm/);
  });

  it("refuses a header jwk holding a private key ('d')", async () => {
    fresh();
    const privateJwk = await exportJWK(agentKey.privateKey);
    expect(privateJwk.d).toBeDefined();
    const p = await proof({ accessToken, header: { jwk: privateJwk } });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /private key/);
  });

  it('refuses a header jwk that is not the signing key', async () => {
    fresh();
    // Signed by the other key, but naming the bound agent key in the header.
    const p = await proof({ accessToken, key: otherAgentKey.privateKey });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /signature/);
  });

  it('refuses a proof without jti', async () => {
    fresh();
    const p = await proof({ accessToken, payload: { jti: undefined } });
    await expectRefused(verifyDpopProof(p, dpopOptions()), 'pop_invalid', /jti/);
  });

  it('does not burn the jti of a refused proof: a new proof with the same jti and the right ath passes', async () => {
    fresh();
    const jti = newJti('burn');
    const bad = await proof({ accessToken: await mint(), payload: { jti } });
    await expectRefused(verifyDpopProof(bad, dpopOptions()), 'pop_invalid', /ath/);
    const good = await proof({ accessToken, payload: { jti } });
    await expect(verifyDpopProof(good, dpopOptions())).resolves.toBe(agentJkt);
  });
});

// ---------------------------------------------------------------------------------------------
// VerifiedTokenCache

/** A key resolver that counts how often jose asks it for a key (once per real verification). */
function countingKeys(): { keys: JWTVerifyGetKey; calls: () => number } {
  let calls = 0;
  return {
    keys: async () => {
      calls++;
      return issuer.publicKey;
    },
    calls: () => calls,
  };
}

describe('VerifiedTokenCache', () => {
  it('serves a second verify of the same token without verifying it again', async () => {
    const cache = new VerifiedTokenCache();
    const counter = countingKeys();
    const token = await mint();
    const first = await cache.verify(token, tokenOptions({ keys: counter.keys }));
    expect(counter.calls()).toBe(1);
    const second = await cache.verify(token, tokenOptions({ keys: counter.keys }));
    expect(counter.calls()).toBe(1);
    expect(second).toEqual(first);
    expect(second.agents).toEqual(['agt_b', 'agt_a']);
    // A different token is verified.
    await cache.verify(await mint(), tokenOptions({ keys: counter.keys }));
    expect(counter.calls()).toBe(2);
  });

  it('never serves a token past its exp (token_expired)', async () => {
    const cache = new VerifiedTokenCache();
    const counter = countingKeys();
    const token = await mint();
    await cache.verify(token, tokenOptions({ keys: counter.keys }));
    const exp = (decodePart(token.split('.')[1] as string) as AccessTokenClaims).exp;
    await expectRefused(
      cache.verify(token, tokenOptions({ keys: counter.keys, now: new Date((exp + 60) * 1000) })),
      'token_expired',
    );
  });

  it('does not serve a cached token to another audience', async () => {
    const cache = new VerifiedTokenCache();
    const token = await mint();
    await cache.verify(token, tokenOptions());
    await expectRefused(
      cache.verify(token, tokenOptions({ audience: 'https://other-api.test' })),
      'token_invalid',
      /aud/,
    );
  });

  it('does not serve a cached token to another issuer', async () => {
    const cache = new VerifiedTokenCache();
    const token = await mint();
    await cache.verify(token, tokenOptions());
    await expectRefused(
      cache.verify(token, tokenOptions({ issuer: 'https://evil.test' })),
      'token_invalid',
      /iss/,
    );
  });

  it('does not cache a refusal: an edited token stays refused however often it is presented', async () => {
    const cache = new VerifiedTokenCache();
    const token = editPayload(await mint(), (payload) => {
      payload.sub = 'usr_mallory';
    });
    await expectRefused(cache.verify(token, tokenOptions()), 'token_invalid');
    await expectRefused(cache.verify(token, tokenOptions()), 'token_invalid');
  });
});
