/**
 * Review: an agent's call evaluated through AuthZEN with its credential goes through the same
 * pipeline as POST /v1/decisions, but not through the same input checks. The native route refuses
 * a resource id with a `..` segment (and a type that is not a plain name), "so `alice/../bob`
 * cannot pass for what a pattern names" (http/routes/decisions.ts); the AuthZEN route does not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../harness.js';
import { activeAgent, HOUR, pepKey, startOAuthApp } from '../oauth/helpers.js';

const TOOL = 'https://tools.example/mail/read';

let t: TestApp;
let close: () => Promise<void>;
let aliceId: string;
let pep: string;

beforeAll(async () => {
  ({ t, close } = await startOAuthApp());
  aliceId = (await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } })).body.id;
  pep = await pepKey(t);
});
afterAll(async () => close?.());

/** An agent delegated to read Alice's mailboxes only (mailbox:alice/*), and a DPoP-bound token. */
async function aliceReader() {
  const agent = await activeAgent(t, aliceId, `reader-${Math.random().toString(36).slice(2, 8)}`);
  const granted = await t.call('POST', '/v1/delegations', {
    key: t.adminKey,
    body: {
      delegateAgentId: agent.id,
      purpose: "read Alice's mail",
      onBehalfOf: aliceId,
      scope: {
        actions: ['email.read'],
        resources: ['mailbox:alice/*'],
        dataClass: 'internal',
        expiresAt: new Date(t.clock.now().getTime() + HOUR).toISOString(),
      },
    },
  });
  expect(granted.status, granted.text).toBe(201);
  const token = await agent.creds.exchange({ delegation: granted.body.id });
  return { agent, token };
}

describe('the resource an agent names through AuthZEN', () => {
  it('the native route refuses alice/../bob (400)', async () => {
    const { agent, token } = await aliceReader();
    await expect(
      agent.creds.decide(token, {
        action: 'email.read',
        resource: { type: 'mailbox', id: 'alice/../bob/inbox' },
      } as never),
    ).rejects.toMatchObject({ status: 400 });
    // The same agent's own mailbox is allowed (the chain works).
    const own = await agent.creds.decide(token, {
      action: 'email.read',
      resource: { type: 'mailbox', id: 'alice/inbox' },
    } as never);
    expect(own.decision).toBe('allow');
  });

  // Was a bug, found in review and fixed (packages/server/src/http/routes/authzen.ts:9-13, `entity`: type and id are any strings;
  // engine/decision/authzen.ts decideForAgent passes resource.id to the pipeline unchecked): the
  // scope step matches `mailbox:alice/../bob/inbox` against `mailbox:alice/*` by prefix
  // (core/scope/patterns.ts patternMatches), so an agent delegated Alice's mailboxes only is
  // allowed, through its enforcement point's AuthZEN call, on a name that resolves to Bob's. The
  // AuthZEN route should refuse (or the pipeline itself should, for every entry point) what
  // POST /v1/decisions refuses: a `..` path segment and a type that is not a plain name.
  it('AuthZEN with the agent credential does not allow alice/../bob either', async () => {
    const { agent, token } = await aliceReader();
    const answer = await t.call('POST', '/access/v1/evaluation', {
      key: pep,
      body: {
        subject: { type: 'Agent', id: agent.id },
        action: { name: 'email.read' },
        resource: { type: 'mailbox', id: 'alice/../bob/inbox' },
        context: {
          agent_credential: {
            token: token.access_token,
            dpop: await agent.creds.dpopProof('POST', TOOL, token.access_token),
            method: 'POST',
            url: TOOL,
          },
        },
      },
    });
    // A 400 (refused as the native route does) or a denial are both right; an allow is not.
    if (answer.status === 200) expect(answer.body.decision).toBe(false);
    else expect(answer.status).toBe(400);
  });
});
