/**
 * The issue's end-to-end story, through HTTP and the SDK: Alice (an ID token from a test
 * issuer) grants agent A `email.*` on `mailbox:alice/*`, internal data, 2 hours, depth 1; A
 * exchanges it for a key-bound token and re-delegates `email.read` to B with that token; B
 * exchanges A's token for its own, whose `sub` is Alice and whose `act` is {B, act: {A}}.
 * Every widening is refused with its dimension named; revoking A's delegation makes B's token
 * inactive at once.
 */
import { calculateJwkThumbprint } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../harness.js';
import { activeAgent, claimsOf, HOUR, introspect, pepKey, startOAuthApp, type TestAgent } from './helpers.js';

let t: TestApp;
let close: () => Promise<void>;
let aliceToken: string;
let aliceId: string;
let a: TestAgent;
let b: TestAgent;
let pep: string;
let dlgA: string;

beforeAll(async () => {
  const app = await startOAuthApp();
  ({ t, close } = app);
  aliceToken = await app.idToken('alice');
  const alice = await t.call('POST', '/v1/users', {
    key: t.adminKey,
    body: { displayName: 'Alice', issuer: 'https://idp.oauth.test', subject: 'alice' },
  });
  aliceId = alice.body.id;
  a = await activeAgent(t, aliceId, 'assistant-a');
  b = await activeAgent(t, aliceId, 'reader-b');
  pep = await pepKey(t);
  const granted = await t.call('POST', '/v1/delegations', {
    key: aliceToken,
    body: {
      delegateAgentId: a.id,
      purpose: 'triage my inbox this morning',
      scope: {
        actions: ['email.*'],
        resources: ['mailbox:alice/*'],
        dataClass: 'internal',
        environments: ['staging'],
        arguments: { 'email.*': { to: { suffix: '@example.com' } } },
        limits: { maxUses: 100 },
        expiresAt: new Date(t.clock.now().getTime() + 2 * HOUR).toISOString(),
        maxDepth: 1,
      },
    },
  });
  expect(granted.status, granted.text).toBe(201);
  expect(granted.body.createdBy).toMatchObject({ kind: 'user', id: aliceId });
  dlgA = granted.body.id;
});
afterAll(async () => close?.());

describe('Alice → A → B', () => {
  let tokenA: Awaited<ReturnType<TestAgent['creds']['exchange']>>;
  let dlgB: string;

  it('A exchanges its delegation for a short-lived, key-bound token that names the chain', async () => {
    tokenA = await a.creds.exchange({ delegation: dlgA });
    expect(tokenA.token_type).toBe('DPoP');
    expect(tokenA.expires_in).toBe(300);
    const claims = claimsOf(tokenA.access_token);
    expect(claims).toMatchObject({
      sub: aliceId,
      client_id: a.id,
      act: { sub: a.id },
      dlg: dlgA,
      org: t.defaultOrgId,
    });
    expect(claims.act.act).toBeUndefined();
    expect(claims.cnf.jkt).toBe(await calculateJwkThumbprint(a.publicJwk, 'sha256'));
    expect(claims.authorization_details[0].scope).toMatchObject({
      actions: ['email.*'],
      dataClass: 'internal',
    });
  });

  const widenings: Array<[string, Record<string, unknown>]> = [
    ['action', { actions: ['calendar.read'] }],
    ['resource', { resources: ['mailbox:bob/*'] }],
    ['data_class', { dataClass: 'confidential' }],
    ['environment', { environments: ['production'] }],
    ['argument', { arguments: { 'email.read': { to: { suffix: '.com' } } } }],
    ['limits', { limits: { maxUses: 1000 } }],
    ['expiry', { expiresAt: new Date(Date.now() + 3 * HOUR).toISOString() }],
    ['depth', { maxDepth: 1 }],
  ];
  it.each(widenings)('A cannot widen %s when re-delegating to B', async (dimension, scope) => {
    const attempt = a.creds.redelegate(tokenA, dlgA, { delegateAgentId: b.id, purpose: 'read', scope });
    await expect(attempt).rejects.toMatchObject({ status: 400, code: 'invalid_request' });
    await expect(attempt).rejects.toThrow(new RegExp(`\\b${dimension} \\(`));
  });

  it('A re-delegates email.read to B with its own token', async () => {
    const view = await a.creds.redelegate(tokenA, dlgA, {
      delegateAgentId: b.id,
      purpose: 'read the newsletters for me',
      scope: { actions: ['email.read'] },
    });
    expect(view).toMatchObject({
      parentId: dlgA,
      depth: 1,
      delegator: { kind: 'agent', id: a.id },
      live: true,
    });
    expect(view.scope.maxDepth).toBe(0);
    expect(view.scope.arguments).toEqual({ 'email.*': { to: { suffix: '@example.com' } } });
    dlgB = view.id;
  });

  it("B exchanges A's token: sub is Alice, act is {B, act: {A}}", async () => {
    const tokenB = await b.creds.exchange({ subjectToken: tokenA.access_token });
    const claims = claimsOf(tokenB.access_token);
    expect(claims).toMatchObject({
      sub: aliceId,
      client_id: b.id,
      dlg: dlgB,
      act: { sub: b.id, act: { sub: a.id } },
    });
    expect(claims.act.act.act).toBeUndefined();
    expect(claims.authorization_details[0].scope.actions).toEqual(['email.read']);
    expect(claims.cnf.jkt).toBe(await calculateJwkThumbprint(b.publicJwk, 'sha256'));
    expect(await introspect(t, pep, tokenB.access_token)).toMatchObject({
      status: 200,
      body: { active: true, sub: aliceId, client_id: b.id, token_type: 'DPoP' },
    });
  });

  it('B cannot re-delegate further (depth 0), nor widen its own token', async () => {
    const tokenB = await b.creds.exchange({ subjectToken: tokenA.access_token });
    const c = await activeAgent(t, aliceId, 'helper-c');
    await expect(
      b.creds.redelegate(tokenB, dlgB, { delegateAgentId: c.id, purpose: 'help', scope: {} }),
    ).rejects.toThrow(/depth/);
    await expect(
      b.creds.exchange({ subjectToken: tokenA.access_token, scope: ['email.send'] }),
    ).rejects.toMatchObject({ code: 'invalid_scope' });
  });

  it("revoking A's delegation makes B's token (and A's) inactive at once", async () => {
    const tokenB = await b.creds.exchange({ subjectToken: tokenA.access_token });
    expect((await introspect(t, pep, tokenB.access_token)).body.active).toBe(true);
    const revoked = await t.call('POST', `/v1/delegations/${dlgA}/revoke`, {
      key: aliceToken,
      body: { reason: 'task done' },
    });
    expect(revoked.status, revoked.text).toBe(200);
    expect(await introspect(t, pep, tokenB.access_token)).toEqual({ status: 200, body: { active: false } });
    expect(await introspect(t, pep, tokenA.access_token)).toEqual({ status: 200, body: { active: false } });
    await expect(b.creds.exchange({ subjectToken: tokenA.access_token })).rejects.toMatchObject({
      code: 'invalid_grant',
    });
  });
});
