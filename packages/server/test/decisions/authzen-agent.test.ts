/**
 * AuthZEN with an agent's credential: an enforcement point that received an agent's call (its
 * access token and the DPoP proof it made for that call) passes both in
 * `context.agent_credential`; the whole agent pipeline runs, as on POST /v1/decisions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../harness.js';
import { activeAgent, HOUR, startOAuthApp, type TestAgent } from '../oauth/helpers.js';
import { createOrg } from '../security/helpers.js';

let t: TestApp;
let close: () => Promise<void>;
let pep: string;
let agent: TestAgent;
let dlg: string;
let token: Awaited<ReturnType<TestAgent['creds']['exchange']>>;
const TOOL = 'https://tools.example/email/read';

beforeAll(async () => {
  ({ t, close } = await startOAuthApp());
  const alice = (await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } })).body
    .id;
  pep = (await t.call('POST', '/v1/api-keys', { key: t.adminKey, body: { name: 'pep', roles: ['pep'] } }))
    .body.secret;
  agent = await activeAgent(t, alice, 'mailer');
  dlg = (
    await t.call('POST', '/v1/delegations', {
      key: t.adminKey,
      body: {
        delegateAgentId: agent.id,
        purpose: 'mail',
        onBehalfOf: alice,
        scope: {
          actions: ['email.*'],
          resources: ['mailbox:alice/*'],
          dataClass: 'internal',
          expiresAt: new Date(t.clock.now().getTime() + HOUR).toISOString(),
        },
      },
    })
  ).body.id;
  token = await agent.creds.exchange({ delegation: dlg });
});
afterAll(async () => close?.());

/** What a PEP sends after the agent called it with `token` and a proof for TOOL. */
async function ask(overrides: Record<string, unknown> = {}, key = pep) {
  const credential = {
    token: token.access_token,
    dpop: await agent.creds.dpopProof('POST', TOOL, token.access_token),
    method: 'POST',
    url: TOOL,
  };
  return t.call('POST', '/access/v1/evaluation', {
    key,
    body: {
      subject: { type: 'Agent', id: agent.id },
      action: { name: 'email.read' },
      resource: { type: 'mailbox', id: 'alice/inbox' },
      context: { agent_credential: credential, data_class: 'internal' },
      ...overrides,
    },
  });
}

describe('AuthZEN evaluation with the agent credential', () => {
  it('runs the pipeline: allowed by the delegation under the baseline, recorded as an agent decision', async () => {
    const answer = await ask();
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.decision).toBe(true);
    const record = await t.call('GET', `/v1/audit/events/${answer.body.context.decision_id}`, {
      key: t.adminKey,
    });
    expect(record.body).toMatchObject({
      type: 'decision',
      after: { kind: 'agent', result: 'allow', chain: { delegations: [dlg] } },
    });
  });

  it('out of scope, and the named subject must be the token’s agent', async () => {
    const outside = await ask({ resource: { type: 'mailbox', id: 'bob/inbox' } });
    expect(outside.body).toMatchObject({ decision: false, context: { reason: 'out_of_scope' } });
    const impostor = await ask({ subject: { type: 'Agent', id: 'agt_01J0000000000000000000000Z' } });
    expect(impostor.body).toMatchObject({ decision: false, context: { reason: 'token_invalid' } });
    const notAgent = await ask({ subject: { type: 'User', id: 'u' } });
    expect(notAgent.status).toBe(400);
  });

  it('a proof for another call, or none, is pop_invalid; without a credential an Agent subject is refused', async () => {
    const wrongUrl = await t.call('POST', '/access/v1/evaluation', {
      key: pep,
      body: {
        subject: { type: 'Agent', id: agent.id },
        action: { name: 'email.read' },
        resource: { type: 'mailbox', id: 'alice/inbox' },
        context: {
          agent_credential: {
            token: token.access_token,
            dpop: await agent.creds.dpopProof('POST', 'https://elsewhere.example/x', token.access_token),
            method: 'POST',
            url: TOOL,
          },
        },
      },
    });
    expect(wrongUrl.body).toMatchObject({ decision: false, context: { reason: 'pop_invalid' } });
    const bearer = await t.call('POST', '/access/v1/evaluation', {
      key: pep,
      body: {
        subject: { type: 'Agent', id: agent.id },
        action: { name: 'email.read' },
        resource: { type: 'mailbox', id: 'alice/inbox' },
        context: { agent_credential: { token: token.access_token } },
      },
    });
    expect(bearer.body).toMatchObject({ decision: false, context: { reason: 'pop_invalid' } });
    expect(bearer.body.context.decision_id).toMatch(/^\d+$/);
    const bare = await t.call('POST', '/access/v1/evaluation', {
      key: pep,
      body: {
        subject: { type: 'Agent', id: agent.id },
        action: { name: 'email.read' },
        resource: { type: 'mailbox', id: 'x' },
      },
    });
    expect(bare.status).toBe(400);
  });

  it("another org's enforcement point cannot use this org's agent token (nothing is recorded here)", async () => {
    const other = await createOrg(t, 'pep org');
    const otherPep = (
      await t.call('POST', '/v1/api-keys', { key: other.adminKey, body: { name: 'pep', roles: ['pep'] } })
    ).body.secret;
    const before = (await t.call('GET', '/v1/audit/events?type=decision&limit=200', { key: t.adminKey })).body
      .items.length;
    const answer = await ask({}, otherPep);
    expect(answer.body).toMatchObject({ decision: false, context: { reason: 'token_invalid' } });
    const after = (await t.call('GET', '/v1/audit/events?type=decision&limit=200', { key: t.adminKey })).body
      .items.length;
    expect(after).toBe(before);
  });

  it('revoking the delegation flips the next evaluation', async () => {
    expect((await ask()).body.decision).toBe(true);
    await t.call('POST', `/v1/delegations/${dlg}/revoke`, { key: t.adminKey, body: { reason: 'stop' } });
    expect((await ask()).body).toMatchObject({ decision: false, context: { reason: 'delegation_revoked' } });
  });
});
