/**
 * The decision pipeline through POST /v1/decisions: an agent's token (DPoP-bound) and an action
 * request. Each reason code the pipeline can give today is triggered here; revoking a link,
 * suspending an agent of the chain, or locking the org flips an allowed request to deny on the
 * next call; every decision is in the audit log before its answer, and outcomes link to it.
 */
import type { SqliteStore } from '@mandate/engine';
import type { IssuedToken } from '@mandate/sdk';
import Database from 'better-sqlite3';
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../harness.js';
import { activeAgent, HOUR, startOAuthApp, type TestAgent } from '../oauth/helpers.js';

let t: TestApp;
let close: () => Promise<void>;
let aliceId: string;

const read = {
  action: 'email.read',
  resource: { type: 'mailbox', id: 'alice/inbox' },
  dataClass: 'internal' as const,
};

async function grant(agent: TestAgent, scope: Record<string, unknown> = {}) {
  const granted = await t.call('POST', '/v1/delegations', {
    key: t.adminKey,
    body: {
      delegateAgentId: agent.id,
      purpose: 'read mail',
      onBehalfOf: aliceId,
      scope: {
        actions: ['email.*', 'iam.*'],
        resources: ['mailbox:alice/*'],
        dataClass: 'restricted',
        expiresAt: new Date(t.clock.now().getTime() + 2 * HOUR).toISOString(),
        maxDepth: 1,
        ...scope,
      },
    },
  });
  expect(granted.status, granted.text).toBe(201);
  return granted.body.id as string;
}

async function setup(name: string) {
  const agent = await activeAgent(t, aliceId, name, {
    actions: ['email.*', 'iam.*'],
    resources: ['mailbox:alice/*'],
    maxDataClass: 'restricted',
    maxDelegationDepth: 2,
  });
  const dlg = await grant(agent);
  const token = await agent.creds.exchange({ delegation: dlg });
  return { agent, dlg, token };
}

beforeAll(async () => {
  ({ t, close } = await startOAuthApp());
  aliceId = (await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } })).body.id;
});
afterAll(async () => close?.());

const decide = (agent: TestAgent, token: IssuedToken, request: Record<string, unknown> = read) =>
  agent.creds.decide(token, request as never);

describe('allow, and the record', () => {
  it('allows what the delegation covers under the baseline policy, and records the whole chain first', async () => {
    const { agent, dlg, token } = await setup('reader');
    const answer = await decide(agent, token, { ...read, arguments: { folder: 'secret-folder', limit: 10 } });
    expect(answer).toMatchObject({ decision: 'allow', reasons: [], policies: ['policy0'], policyVersion: 0 });
    const record = await t.call('GET', `/v1/audit/events/${answer.decisionId}`, { key: t.adminKey });
    expect(record.body).toMatchObject({
      type: 'decision',
      actor: { kind: 'agent', id: agent.id },
      refs: { agentId: agent.id, delegationId: dlg, userId: aliceId },
      after: {
        kind: 'agent',
        result: 'allow',
        chain: { rootUser: aliceId, agents: [agent.id], delegations: [dlg] },
        request: { action: 'email.read', argumentsPreview: { folder: 'string(13)', limit: 'number' } },
        policyVersion: 0,
        determining: ['policy0'],
      },
    });
    expect(JSON.stringify(record.body)).not.toContain('secret-folder'); // argument values are not copied
    const outcome = await agent.creds.outcome(token, answer.decisionId, {
      status: 'success',
      durationMs: 12,
    });
    const linked = await t.call('GET', `/v1/audit/events/${outcome.seq}`, { key: t.adminKey });
    expect(linked.body).toMatchObject({ type: 'decision.outcome', refs: { decisionId: answer.decisionId } });
    await expect(agent.creds.outcome(token, answer.decisionId, { status: 'success' })).rejects.toMatchObject({
      status: 409,
    });

    // explain: credential → delegation (with its scope) → agent → outcome, each with its proof.
    const explained = await t.call('GET', `/v1/audit/explain/${answer.decisionId}`, { key: t.adminKey });
    expect(explained.status, explained.text).toBe(200);
    const relations = explained.body.dependsOn.map((n: { relation: string; record: { type: string } }) => [
      n.relation,
      n.record.type,
    ]);
    expect(relations).toEqual(
      expect.arrayContaining([
        ['the credential presented', 'credential.issued'],
        ['a delegation of the chain, with its scope', 'delegation.granted'],
        ['an agent of the chain was registered', 'agent.registered'],
        ['what happened (the outcome)', 'decision.outcome'],
      ]),
    );
    const delegation = explained.body.dependsOn.find(
      (n: { record: { type: string } }) => n.record.type === 'delegation.granted',
    );
    expect(delegation.record.after.scope.actions).toEqual(['email.*', 'iam.*']);
    for (const node of explained.body.dependsOn) expect(node.proof.proof).toBeInstanceOf(Array);
  });
});

describe('every reason code the pipeline gives today', () => {
  it('out_of_scope names the dimension: action, resource, data_class, argument', async () => {
    const { agent, token } = await setup('scoped');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...read, action: 'calendar.read' }, 'action'],
      [{ ...read, resource: { type: 'mailbox', id: 'bob/inbox' } }, 'resource'],
    ];
    for (const [request, dimension] of cases) {
      const answer = await decide(agent, token, request);
      expect(answer).toMatchObject({ decision: 'deny', reasons: [{ code: 'out_of_scope', dimension }] });
    }
    const narrow = await agent.creds.exchange({
      delegation: (await t.call('GET', `/v1/delegations?agent=${agent.id}`, { key: t.adminKey })).body
        .items[0].id,
      narrow: { dataClass: 'internal', arguments: { 'email.*': { folder: { eq: 'inbox' } } } },
    });
    expect((await decide(agent, narrow, { ...read, dataClass: 'confidential' })).reasons[0]).toMatchObject({
      code: 'out_of_scope',
      dimension: 'data_class',
    });
    expect(
      (await decide(agent, narrow, { ...read, arguments: { folder: 'spam' } })).reasons[0],
    ).toMatchObject({
      code: 'out_of_scope',
      dimension: 'argument',
    });
    expect((await decide(agent, narrow, { ...read, arguments: { folder: 'inbox' } })).decision).toBe('allow');
  });

  it('policy_denied (a baseline forbid) and no_policy_permits (a published set without a permit)', async () => {
    const { agent, token } = await setup('iam');
    expect(await decide(agent, token, { ...read, action: 'iam.grant' })).toMatchObject({
      decision: 'deny',
      reasons: [{ code: 'policy_denied' }],
      policies: ['policy1'],
    });
    const published = await t.call('POST', '/v1/policies', {
      key: t.adminKey,
      body: { policies: 'permit (principal, action == Action::"email.send", resource);' },
    });
    expect(published.status, published.text).toBe(201);
    try {
      expect(await decide(agent, token)).toMatchObject({
        decision: 'deny',
        reasons: [{ code: 'no_policy_permits' }],
      });
    } finally {
      await t.call('POST', '/v1/policies/0/activate', {
        key: t.adminKey,
        body: { reason: 'back to baseline' },
      });
    }
    expect((await decide(agent, token)).decision).toBe('allow');
  });

  it('delegation_revoked: revoking the delegation flips the next call', async () => {
    const { agent, dlg, token } = await setup('revoked-link');
    expect((await decide(agent, token)).decision).toBe('allow');
    await t.call('POST', `/v1/delegations/${dlg}/revoke`, { key: t.adminKey, body: { reason: 'stop' } });
    expect(await decide(agent, token)).toMatchObject({
      decision: 'deny',
      reasons: [{ code: 'delegation_revoked' }],
    });
  });

  it('agent_suspended: suspending the agent flips the next call', async () => {
    const { agent, token } = await setup('suspended');
    expect((await decide(agent, token)).decision).toBe('allow');
    await t.call('POST', `/v1/agents/${agent.id}/suspend`, { key: t.adminKey, body: { reason: 'look' } });
    expect(await decide(agent, token)).toMatchObject({
      decision: 'deny',
      reasons: [{ code: 'agent_suspended' }],
    });
  });

  it('a suspended agent earlier in the chain stops the sub-agent (agent_suspended at the chain step)', async () => {
    const { agent: a, dlg, token: tokenA } = await setup('parent');
    const b = await activeAgent(t, aliceId, 'child', {
      actions: ['email.*'],
      resources: ['mailbox:alice/*'],
      maxDataClass: 'restricted',
      maxDelegationDepth: 1,
    });
    const child = await a.creds.redelegate(tokenA, dlg, {
      delegateAgentId: b.id,
      purpose: 'help',
      scope: { actions: ['email.read'] },
    });
    const tokenB = await b.creds.exchange({ subjectToken: tokenA.access_token, delegation: child.id });
    expect((await decide(b, tokenB)).decision).toBe('allow');
    await t.call('POST', `/v1/agents/${a.id}/suspend`, { key: t.adminKey, body: { reason: 'look' } });
    expect(await decide(b, tokenB)).toMatchObject({
      decision: 'deny',
      reasons: [{ code: 'agent_suspended' }],
    });
  });

  it('token_revoked: a revoked token is denied (and recorded: its chain is known)', async () => {
    const { agent, token } = await setup('tokens');
    await agent.creds.revoke(token.access_token);
    expect(await decide(agent, token)).toMatchObject({
      decision: 'deny',
      reasons: [{ code: 'token_revoked' }],
    });
  });

  it('token_expired, pop_invalid and token_invalid are 401s naming the code (no org to record them in)', async () => {
    const other = await setup('tokens-2');
    const call = (authorization: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/decisions',
        headers: { authorization, 'content-type': 'application/json' },
        payload: JSON.stringify(read),
      });
    const asBearer = await call(`Bearer ${other.token.access_token}`);
    expect(asBearer.statusCode).toBe(401);
    expect(JSON.parse(asBearer.body).error.message).toMatch(/^pop_invalid/);
    const garbage = await call('Bearer not-a-token');
    expect([garbage.statusCode, JSON.parse(garbage.body).error.message]).toEqual([
      401,
      expect.stringMatching(/^token_invalid/),
    ]);
    t.clock.advance(10 * 60_000);
    try {
      await expect(decide(other.agent, other.token)).rejects.toMatchObject({
        status: 401,
        message: expect.stringMatching(/^token_expired/),
      });
    } finally {
      t.clock.advance(-10 * 60_000);
    }
  });

  it('agent_revoked and agent_expired (the presenting agent)', async () => {
    const revoked = await setup('to-revoke');
    await t.call('POST', `/v1/agents/${revoked.agent.id}/revoke`, {
      key: t.adminKey,
      body: { reason: 'gone' },
    });
    expect(await decide(revoked.agent, revoked.token)).toMatchObject({
      reasons: [{ code: 'agent_revoked' }],
    });

    const agent = await activeAgent(
      t,
      aliceId,
      'short-lived',
      {
        actions: ['email.*'],
        resources: ['mailbox:alice/*'],
        maxDataClass: 'internal',
        maxDelegationDepth: 0,
      },
      { expiresAt: new Date(t.clock.now().getTime() + 20_000).toISOString() },
    );
    const dlg = await grant(agent, {
      actions: ['email.*'],
      dataClass: 'internal',
      maxDepth: 0,
      expiresAt: new Date(t.clock.now().getTime() + 15_000).toISOString(),
    });
    const token = await agent.creds.exchange({ delegation: dlg });
    // Past the agent's expiry, within the token's 30 s skew and the DPoP proof's 60 s window.
    t.clock.advance(25_000);
    try {
      expect(await decide(agent, token)).toMatchObject({ reasons: [{ code: 'agent_expired' }] });
    } finally {
      t.clock.advance(-25_000);
    }
  });

  it('delegation_expired: the delegation ends while its token is still within the skew', async () => {
    const { agent } = await setup('expiring');
    const dlg = await grant(agent, { expiresAt: new Date(t.clock.now().getTime() + 15_000).toISOString() });
    const token = await agent.creds.exchange({ delegation: dlg });
    t.clock.advance(25_000);
    try {
      expect(await decide(agent, token)).toMatchObject({ reasons: [{ code: 'delegation_expired' }] });
    } finally {
      t.clock.advance(-25_000);
    }
  });

  it('chain_broken: a token whose claims are not its delegation chain (signed with the server key by the test)', async () => {
    const { agent, token } = await setup('forged-chain');
    const { cnf: _cnf, ...claims } = decodeJwt(token.access_token) as Record<string, unknown>;
    const { kid, privateKey } = await t.engine.oauth.keys.signingKey();
    // Everything genuine but `sub`: another user than the chain's root. Unbound, so Bearer.
    const forged = await new SignJWT({
      ...claims,
      sub: 'usr_01J0000000000000000000000Z',
      jti: 'forged-chain-1',
    })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid })
      .sign(privateKey);
    const answer = await decide(agent, { ...token, access_token: forged, token_type: 'Bearer' });
    expect(answer).toMatchObject({ decision: 'deny', reasons: [{ code: 'chain_broken' }] });
  });

  it('internal_error: a request Cedar cannot evaluate is denied, never allowed, and recorded', async () => {
    const { agent, token } = await setup('odd-input');
    const answer = await decide(agent, token, {
      ...read,
      resource: { ...read.resource, properties: { score: 1.5 } },
    });
    expect(answer).toMatchObject({ decision: 'deny', reasons: [{ code: 'internal_error' }] });
    const record = await t.call('GET', `/v1/audit/events/${answer.decisionId}`, { key: t.adminKey });
    expect(record.body.after.result).toBe('deny');
  });

  it('org_locked: locking the org flips the next call; releasing the lock restores it', async () => {
    const { agent, token } = await setup('org-lock');
    expect((await decide(agent, token)).decision).toBe('allow');
    const locked = await t.call('POST', '/v1/killswitch', {
      key: t.adminKey,
      body: { scope: 'org', reason: 'incident 42' },
    });
    expect(locked.status, locked.text).toBe(201);
    try {
      expect(await decide(agent, token)).toMatchObject({
        decision: 'deny',
        reasons: [{ code: 'org_locked' }],
      });
    } finally {
      const released = await t.call('POST', `/v1/killswitch/${locked.body.id}/release`, {
        key: t.adminKey,
        body: { reason: 'resolved' },
      });
      expect(released.status, released.text).toBe(200);
    }
    expect((await decide(agent, token)).decision).toBe('allow');
  });

  it('agent_unknown: a token whose agent is no longer in the store (rows deleted under Mandate) is denied', async () => {
    const { agent, token } = await setup('vanished');
    expect((await decide(agent, token)).decision).toBe('allow');
    // No route deletes an agent (they are revoked, never removed); a restore from an older
    // backup or a hand-edited database can still lose one. The token must then not work.
    const db = new Database(t.dbFile);
    try {
      db.pragma('foreign_keys = OFF');
      for (const table of ['agent_labels', 'agent_environments', 'agent_keys'])
        db.prepare(`DELETE FROM ${table} WHERE agent_id = ?`).run(agent.id);
      expect(db.prepare('DELETE FROM agents WHERE id = ?').run(agent.id).changes).toBe(1);
    } finally {
      db.close();
    }
    // The store caches what decisions read and is told when its file was edited under it (or
    // restarted): the edit then counts at once.
    (t.engine.store as SqliteStore).forgetCachedReads();
    expect(await decide(agent, token)).toMatchObject({
      decision: 'deny',
      reasons: [{ code: 'agent_unknown' }],
    });
  });

  it('a context that sets a reserved key is refused', async () => {
    const { agent, token } = await setup('reserved');
    await expect(
      decide(agent, token, { ...read, context: { mandate: { delegated: true } } }),
    ).rejects.toMatchObject({
      status: 400,
    });
  });
});
