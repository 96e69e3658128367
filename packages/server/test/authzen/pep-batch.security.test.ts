/**
 * What an enforcement point that fronts many tools needs from AuthZEN (the MCP gateway): one
 * HTTP request of the agent carries one DPoP proof, and a listing needs one decision per tool.
 * - Within one batch, items with the identical credential share one verification of the proof;
 *   the proof stays single use across requests, and no other token rides on it.
 * - `options.probe` decides without using (no limit consumed, no approval filed).
 * - The asking enforcement point records the outcome of its own allowed decisions, once.
 * - Enforcement events (tool pins) reach the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../harness.js';
import { activeAgent, HOUR, startOAuthApp, type TestAgent } from '../oauth/helpers.js';

let t: TestApp;
let close: () => Promise<void>;
let pep: string;
let otherPep: string;
let agent: TestAgent;
let alice: string;
const GATEWAY = 'https://gateway.example/mcp';
const BOUNDARIES = {
  actions: ['mcp.*'],
  resources: ['*'],
  maxDataClass: 'confidential',
  maxDelegationDepth: 1,
};

beforeAll(async () => {
  ({ t, close } = await startOAuthApp());
  alice = (await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } })).body.id;
  const key = async (name: string) =>
    (await t.call('POST', '/v1/api-keys', { key: t.adminKey, body: { name, roles: ['pep'] } })).body.secret;
  pep = await key('gateway');
  otherPep = await key('other gateway');
  agent = await activeAgent(t, alice, 'mcp-agent', BOUNDARIES);
});
afterAll(async () => close?.());

async function grant(scope: Record<string, unknown> = {}) {
  const granted = await t.call('POST', '/v1/delegations', {
    key: t.adminKey,
    body: {
      delegateAgentId: agent.id,
      purpose: 'tools',
      onBehalfOf: alice,
      scope: {
        actions: ['mcp.srv.*'],
        resources: ['mcp_tool:srv/*'],
        dataClass: 'internal',
        expiresAt: new Date(t.clock.now().getTime() + HOUR).toISOString(),
        ...scope,
      },
    },
  });
  expect(granted.status, granted.text).toBe(201);
  return agent.creds.exchange({ delegation: granted.body.id });
}

type Token = Awaited<ReturnType<typeof grant>>;
const credential = (token: Token, dpop: string) => ({
  token: token.access_token,
  dpop,
  method: 'POST',
  url: GATEWAY,
});
const item = (tool: string, cred: unknown) => ({
  subject: { type: 'Agent', id: agent.id },
  action: { name: `mcp.srv.${tool}` },
  resource: { type: 'mcp_tool', id: `srv/${tool}` },
  context: { agent_credential: cred },
});
const batch = (items: unknown[], options: Record<string, unknown> = {}, key = pep) =>
  t.call('POST', '/access/v1/evaluations', { key, body: { evaluations: items, options } });

describe('one proof, one batch', () => {
  it('items with the identical credential share the verification of its proof', async () => {
    const token = await grant();
    const cred = credential(token, await agent.creds.dpopProof('POST', GATEWAY, token.access_token));
    const answer = await batch([item('a', cred), item('b', cred), item('c', cred)]);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([true, true, true]);
  });

  it('the same proof in a second request is a replay: pop_invalid', async () => {
    const token = await grant();
    const cred = credential(token, await agent.creds.dpopProof('POST', GATEWAY, token.access_token));
    expect((await batch([item('a', cred), item('b', cred)])).body.evaluations[1].decision).toBe(true);
    const again = await batch([item('a', cred)]);
    expect(again.body.evaluations[0]).toMatchObject({ decision: false, context: { reason: 'pop_invalid' } });
    const single = await t.call('POST', '/access/v1/evaluation', { key: pep, body: item('a', cred) });
    expect(single.body).toMatchObject({ decision: false, context: { reason: 'pop_invalid' } });
  });

  it('another token cannot ride on a proof verified in the batch', async () => {
    const first = await grant();
    const second = await grant();
    const proof = await agent.creds.dpopProof('POST', GATEWAY, first.access_token);
    const answer = await batch([item('a', credential(first, proof)), item('b', credential(second, proof))]);
    expect(answer.body.evaluations[0].decision).toBe(true);
    expect(answer.body.evaluations[1]).toMatchObject({ decision: false, context: { reason: 'pop_invalid' } });
  });

  it('nor does the same token with the proof claimed for another url', async () => {
    const token = await grant();
    const proof = await agent.creds.dpopProof('POST', GATEWAY, token.access_token);
    const answer = await batch([
      item('a', credential(token, proof)),
      item('b', { ...credential(token, proof), url: 'https://elsewhere.example/mcp' }),
    ]);
    expect(answer.body.evaluations[0].decision).toBe(true);
    expect(answer.body.evaluations[1]).toMatchObject({ decision: false, context: { reason: 'pop_invalid' } });
  });

  it('a body cannot set the memo: a proofMemo member in the context is only context', async () => {
    const token = await grant();
    const cred = credential(token, await agent.creds.dpopProof('POST', GATEWAY, token.access_token));
    await batch([item('a', cred)]);
    const replay = await batch([{ ...item('a', cred), proofMemo: { verified: [] }, probe: true }]);
    expect(replay.body.evaluations[0]).toMatchObject({ decision: false, context: { reason: 'pop_invalid' } });
  });
});

describe('probes', () => {
  it('a probe uses no limit and files no approval; a real call does', async () => {
    const token = await grant({ limits: { maxUses: 1 }, requireApproval: ['mcp.srv.guarded'] });
    const proof = () => agent.creds.dpopProof('POST', GATEWAY, token.access_token);
    for (let i = 0; i < 3; i++) {
      const cred = credential(token, await proof());
      const probe = await batch([item('a', cred), item('guarded', cred)], { probe: true });
      expect(probe.body.evaluations[0].decision).toBe(true);
      expect(probe.body.evaluations[1]).toMatchObject({
        decision: false,
        context: { reason: 'approval_required' },
      });
      expect(probe.body.evaluations[1].context.access_request).toBeUndefined();
    }
    const pending = await t.call('GET', '/v1/approvals?status=pending', { key: t.adminKey });
    expect(pending.body.items.filter((a: { agentId: string }) => a.agentId === agent.id)).toHaveLength(0);
    const used = await batch([item('a', credential(token, await proof()))]);
    expect(used.body.evaluations[0].decision).toBe(true);
    const over = await batch([item('a', credential(token, await proof()))]);
    expect(over.body.evaluations[0]).toMatchObject({
      decision: false,
      context: { reason: 'limit_exceeded' },
    });
  });
});

describe('outcomes and events by the enforcement point', () => {
  it('the asking key records the outcome of its allowed decision once; no other key, no probe', async () => {
    const token = await grant();
    const ask = async (options = {}) =>
      (
        await batch(
          [item('a', credential(token, await agent.creds.dpopProof('POST', GATEWAY, token.access_token)))],
          options,
        )
      ).body.evaluations[0].context.decision_id as string;
    const id = await ask();
    const url = `/v1/enforcement/decisions/${id}/outcome`;
    const body = { status: 'success', durationMs: 3 };
    expect((await t.call('POST', url, { key: otherPep, body })).status).toBe(404);
    expect((await t.call('POST', url, { key: t.adminKey, body })).status).toBe(404);
    const recorded = await t.call('POST', url, { key: pep, body });
    expect(recorded.status, recorded.text).toBe(201);
    expect((await t.call('POST', url, { key: pep, body })).status).toBe(409);
    const record = await t.call('GET', `/v1/audit/events/${recorded.body.seq}`, { key: t.adminKey });
    expect(record.body).toMatchObject({
      type: 'decision.outcome',
      refs: { decisionId: id, agentId: agent.id, userId: alice },
    });
    const probeId = await ask({ probe: true });
    expect(
      (await t.call('POST', `/v1/enforcement/decisions/${probeId}/outcome`, { key: pep, body })).status,
    ).toBe(409);
    // A decision the agent asked itself (POST /v1/decisions) names no enforcement point.
    const own = await agent.creds.decide(token, {
      action: 'mcp.srv.a',
      resource: { type: 'mcp_tool', id: 'srv/a' },
    });
    expect(own.decision).toBe('allow');
    expect(
      (await t.call('POST', `/v1/enforcement/decisions/${own.decisionId}/outcome`, { key: pep, body }))
        .status,
    ).toBe(404);
  });

  it('an enforcement event is appended with the key as actor; its type is a closed set', async () => {
    const event = await t.call('POST', '/v1/enforcement/events', {
      key: pep,
      body: { type: 'mcp.tool.changed', target: { type: 'mcp_tool', id: 'srv/a' }, detail: { hash: 'x' } },
    });
    expect(event.status, event.text).toBe(201);
    const record = await t.call('GET', `/v1/audit/events/${event.body.seq}`, { key: t.adminKey });
    expect(record.body).toMatchObject({ type: 'mcp.tool.changed', actor: { kind: 'api_key' } });
    const bad = await t.call('POST', '/v1/enforcement/events', {
      key: pep,
      body: { type: 'agent.revoked', target: { type: 'agent', id: 'x' } },
    });
    expect(bad.status).toBe(400);
    // Only MCP tools can be written about, named <upstream>/<tool>.
    for (const target of [
      { type: 'agent', id: agent.id },
      { type: 'mcp_tool', id: 'no-slash' },
      { type: 'mcp_tool', id: 'srv/with space' },
    ]) {
      const refused = await t.call('POST', '/v1/enforcement/events', {
        key: pep,
        body: { type: 'mcp.tool.accepted', target },
      });
      expect(refused.status, JSON.stringify(target)).toBe(400);
    }
  });

  it('the agent cannot record the outcome of a decision its enforcement point asked for (and so block it)', async () => {
    const token = await grant();
    const proof = await agent.creds.dpopProof('POST', GATEWAY, token.access_token);
    const id = (await batch([item('a', credential(token, proof))])).body.evaluations[0].context
      .decision_id as string;
    const planted = agent.creds.outcome(token, id, { status: 'success', resultDigest: 'f'.repeat(64) });
    await expect(planted).rejects.toMatchObject({ status: 404 });
    const recorded = await t.call('POST', `/v1/enforcement/decisions/${id}/outcome`, {
      key: pep,
      body: { status: 'success', durationMs: 1 },
    });
    expect(recorded.status, recorded.text).toBe(201);
  });
});
