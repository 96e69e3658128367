import { createHash } from 'node:crypto';
import { MemoryReplayCache, TokenError, verifyPresentation } from '@mandate/core';
import { base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';

const ISSUER = 'https://mandate.test';
const AUDIENCE = 'https://api.test';
const URL_ = 'https://api.test/v1/mail/messages';

describe('verifyPresentation: a key-bound token is never usable without its proof', () => {
  let issuer: Awaited<ReturnType<typeof generateKeyPair>>;
  let agent: Awaited<ReturnType<typeof generateKeyPair>>;
  let jwks: { keys: object[] };
  let agentJwk: Record<string, unknown>;

  beforeAll(async () => {
    issuer = await generateKeyPair('EdDSA', { extractable: true });
    agent = await generateKeyPair('EdDSA', { extractable: true });
    jwks = { keys: [{ ...(await exportJWK(issuer.publicKey)), kid: 'k1', alg: 'EdDSA' }] };
    agentJwk = (await exportJWK(agent.publicKey)) as Record<string, unknown>;
  });

  const token = async (bound: boolean) =>
    new SignJWT({
      client_id: 'agt_b',
      org: 'org_1',
      dlg: 'dlg_1',
      ...(bound ? { cnf: { jkt: await calculateJwkThumbprint(agentJwk as never) } } : {}),
    })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('agt_b')
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(issuer.privateKey);

  const proofFor = async (accessToken: string) =>
    new SignJWT({
      htm: 'POST',
      htu: URL_,
      jti: crypto.randomUUID(),
      ath: base64url.encode(createHash('sha256').update(accessToken).digest()),
    })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'dpop+jwt', jwk: agentJwk as never })
      .setIssuedAt()
      .sign(agent.privateKey);

  const options = (dpopProof?: string) => ({
    keys: jwks as never,
    issuer: ISSUER,
    audience: AUDIENCE,
    method: 'POST',
    url: URL_,
    replay: new MemoryReplayCache(),
    dpopProof,
  });

  it('refuses a cnf token presented without a proof (pop_invalid)', async () => {
    const bound = await token(true);
    await expect(verifyPresentation(bound, options())).rejects.toMatchObject({ code: 'pop_invalid' });
    await expect(verifyPresentation(bound, options())).rejects.toBeInstanceOf(TokenError);
  });

  it('accepts a cnf token with a proof for this request by the bound key', async () => {
    const bound = await token(true);
    const verified = await verifyPresentation(bound, options(await proofFor(bound)));
    expect(verified.claims.client_id).toBe('agt_b');
  });

  it('refuses a proof made for another token (ath)', async () => {
    const bound = await token(true);
    const other = await token(true);
    await expect(verifyPresentation(bound, options(await proofFor(other)))).rejects.toMatchObject({
      code: 'pop_invalid',
    });
  });

  it('lets a bearer token (no cnf) through without a proof', async () => {
    expect((await verifyPresentation(await token(false), options())).claims.cnf).toBeUndefined();
  });
});

describe('MemoryReplayCache', () => {
  it('fails closed when full of live entries instead of forgetting one', () => {
    const cache = new MemoryReplayCache(2);
    const now = 1_000_000;
    expect(cache.seen('a', now + 60_000, now)).toBe(false);
    expect(cache.seen('b', now + 60_000, now)).toBe(false);
    expect(cache.seen('c', now + 60_000, now)).toBe(true);
    expect(cache.seen('a', now + 60_000, now)).toBe(true);
    // Once entries expire, room comes back.
    expect(cache.seen('c', now + 200_000, now + 120_000)).toBe(false);
  });
});

describe('MemoryReplayCache: times that are not numbers', () => {
  it('refuses rather than remembering nothing', () => {
    const cache = new MemoryReplayCache();
    expect(cache.seen('x', Number.NaN, 1000)).toBe(true);
    expect(cache.seen('y', 5000, Number.NaN)).toBe(true);
  });
});
