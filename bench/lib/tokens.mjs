/**
 * Benchmark 4: credentials. Token exchanges per second through the engine's token endpoint
 * (client assertion and DPoP proof verified, chain checked live, token signed, issuance recorded
 * durably in the audit log), and the cost of verifying an access token the first time and from
 * the cache; each against raw node:crypto Ed25519 sign and verify of the same bytes, measured in
 * the same run. Client-side work (signing assertions and proofs) is done before the clock starts.
 */
import crypto from 'node:crypto';
import { VerifiedTokenCache, verifyAccessToken } from '@mandate/core';
import { agentWorld } from './agent-world.mjs';
import { log, median, now, percentile, round, tick } from './util.mjs';

const ISSUER = 'http://bench.invalid';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const DELEGATION_TYPE = 'urn:mandate:params:oauth:token-type:delegation';

const setup = (dir) => agentWorld(dir, { name: 'tokens', issuer: ISSUER });

/** What an agent sends: pre-signed, so only the server's work is timed. */
async function requests(creds, delegationId, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push({
      params: {
        grant_type: TOKEN_EXCHANGE,
        subject_token: delegationId,
        subject_token_type: DELEGATION_TYPE,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await creds.clientAssertion('/oauth/token'),
      },
      dpop: await creds.dpopProof('POST', `${ISSUER}/oauth/token`),
    });
  }
  return out;
}

async function exchangeRun(engine, batch, concurrency) {
  let next = 0;
  const latencies = [];
  const start = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < batch.length) {
        const request = batch[next++];
        const t0 = now();
        await engine.oauth.endpoint.token(request.params, request.dpop);
        latencies.push(now() - t0);
      }
    }),
  );
  const seconds = (now() - start) / 1000;
  return { perSecond: batch.length / seconds, p50Ms: median(latencies), p95Ms: percentile(latencies, 95) };
}

/** µs per call of `fn`, median over `rounds` rounds of `perRound` calls. */
async function usPerCall(fn, rounds, perRound) {
  const samples = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = now();
    for (let i = 0; i < perRound; i++) await fn(i);
    samples.push(((now() - t0) * 1000) / perRound);
    await tick();
  }
  return median(samples);
}

export async function runTokens({ dir, exchanges, concurrencies, reps, verifications, deadline }) {
  const { store, engine, delegation, creds } = await setup(dir);
  try {
    const result = { exchanges: [], notes: [] };
    // Warm up (key load, statement cache, JIT).
    await exchangeRun(engine, await requests(creds, delegation.id, 50), 1);

    // Baseline: raw Ed25519 signatures over a token-sized message, same run.
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
    const sample = (
      await engine.oauth.endpoint.token(...Object.values((await requests(creds, delegation.id, 1))[0]))
    ).access_token;
    const signingInput = Buffer.from(sample.slice(0, sample.lastIndexOf('.')));
    const signature = crypto.sign(null, signingInput, privateKey);
    const rawSignUs = await usPerCall(() => crypto.sign(null, signingInput, privateKey), reps, 2000);
    const rawVerifyUs = await usPerCall(
      () => crypto.verify(null, signingInput, publicKey, signature),
      reps,
      2000,
    );
    result.rawNodeCrypto = {
      tokenBytes: sample.length,
      signUs: round(rawSignUs, 1),
      verifyUs: round(rawVerifyUs, 1),
      signsPerSecond: round(1e6 / rawSignUs, 0),
    };

    for (const concurrency of concurrencies) {
      if (deadline.passed()) break;
      const runs = [];
      for (let r = 0; r < reps && !deadline.passed(); r++) {
        const batch = await requests(creds, delegation.id, exchanges);
        runs.push(await exchangeRun(engine, batch, concurrency));
        await tick();
      }
      const perSecond = median(runs.map((x) => x.perSecond));
      result.exchanges.push({
        concurrency,
        medianPerSecond: round(perSecond, 0),
        p50Ms: round(median(runs.map((x) => x.p50Ms)), 2),
        p95Ms: round(median(runs.map((x) => x.p95Ms)), 2),
        ratioVsRawSign: round(perSecond / result.rawNodeCrypto.signsPerSecond, 4),
      });
      log(`tokens: ${round(perSecond, 0)} exchanges/s at ${concurrency} caller(s)`);
    }

    // Verification as an enforcement point does it: first time (signature and claims), and cached.
    const jwks = await engine.oauth.keys.jwks();
    const options = { keys: jwks, issuer: ISSUER, audience: ISSUER };
    const tokens = [];
    for (const request of await requests(creds, delegation.id, verifications)) {
      tokens.push((await engine.oauth.endpoint.token(request.params, request.dpop)).access_token);
    }
    const keySet = (await import('jose')).createLocalJWKSet(jwks);
    const firstUs = await usPerCall(
      (i) => verifyAccessToken(tokens[i % tokens.length], { ...options, keys: keySet }),
      reps,
      tokens.length,
    );
    const cache = new VerifiedTokenCache();
    for (const token of tokens) await cache.verify(token, options);
    const cachedUs = await usPerCall(
      (i) => cache.verify(tokens[i % tokens.length], options),
      reps,
      tokens.length * 5,
    );
    result.verification = {
      firstUs: round(firstUs, 1),
      cachedUs: round(cachedUs, 2),
      rawVerifyUs: round(rawVerifyUs, 1),
      ratioFirstVsRawVerify: round(firstUs / rawVerifyUs, 2),
      ratioCachedVsRawVerify: round(cachedUs / rawVerifyUs, 3),
    };
    log(
      `tokens: verify first ${round(firstUs, 1)} µs, cached ${round(cachedUs, 2)} µs, raw ${round(rawVerifyUs, 1)} µs`,
    );
    return result;
  } finally {
    await store.close();
  }
}
