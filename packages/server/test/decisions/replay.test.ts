/**
 * DESIGN §3: "a published policy set that would deny every recent request is flagged at publish
 * time". Publishing replays the most recent allowed decisions (agent and AuthZEN) against the new
 * set; a set that denies all of them is flagged in the answer and in the audit record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../harness.js';
import { activeAgent, HOUR, startOAuthApp } from '../oauth/helpers.js';

let t: TestApp;
let close: () => Promise<void>;

const read = {
  action: 'email.read',
  resource: { type: 'mailbox', id: 'alice/inbox' },
  dataClass: 'internal',
};

beforeAll(async () => {
  ({ t, close } = await startOAuthApp());
});
afterAll(async () => close?.());

async function publish(policies: string) {
  const published = await t.call('POST', '/v1/policies', { key: t.adminKey, body: { policies } });
  expect(published.status, published.text).toBe(201);
  return published.body;
}

describe('publish replays recent allowed decisions', () => {
  it('with no decisions yet, nothing is replayed and nothing is flagged', async () => {
    const body = await publish(
      'permit (principal, action, resource) when { context.mandate.delegated == true };',
    );
    expect(body.replay).toMatchObject({ replayed: 0, deniesAllRecent: false });
  });

  it('flags a set that denies every recent allow, and not one that keeps some', async () => {
    const alice = (await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } }))
      .body;
    const agent = await activeAgent(t, alice.id, 'replayed', {
      actions: ['email.*'],
      resources: ['mailbox:alice/*'],
      maxDataClass: 'internal',
    });
    const granted = await t.call('POST', '/v1/delegations', {
      key: t.adminKey,
      body: {
        delegateAgentId: agent.id,
        purpose: 'read mail',
        onBehalfOf: alice.id,
        scope: {
          actions: ['email.*'],
          resources: ['mailbox:alice/*'],
          dataClass: 'internal',
          expiresAt: new Date(t.clock.now().getTime() + HOUR).toISOString(),
        },
      },
    });
    expect(granted.status, granted.text).toBe(201);
    const token = await agent.creds.exchange({ delegation: granted.body.id });
    for (let i = 0; i < 3; i++)
      expect((await agent.creds.decide(token, read as never)).decision).toBe('allow');

    // A set that forbids reading mail denies all three.
    const closed = await publish(
      'permit (principal, action, resource) when { context.mandate.delegated == true };\n' +
        'forbid (principal, action == Action::"email.read", resource);',
    );
    expect(closed.replay).toMatchObject({
      replayed: 3,
      stillAllowed: 0,
      nowDenied: 3,
      deniesAllRecent: true,
    });
    const record = await t.call('GET', '/v1/audit/events?type=policy.published', { key: t.adminKey });
    const published = (record.body.items as Array<{ type: string; after: { replay?: unknown } }>).filter(
      (r) => r.type === 'policy.published',
    );
    expect(published.at(-1)?.after.replay).toMatchObject({ deniesAllRecent: true });

    // The denies under the closed set are not allows: replaying again still sees the three allows.
    const open = await publish(
      'permit (principal, action, resource) when { context.mandate.action like "email.*" };',
    );
    expect(open.replay).toMatchObject({ replayed: 3, stillAllowed: 3, nowDenied: 0, deniesAllRecent: false });

    // A set that permits only one resource keeps some: not flagged.
    const narrow = await publish(
      'permit (principal, action, resource == mailbox::"alice/inbox") when { context.mandate.delegated };',
    );
    expect(narrow.replay).toMatchObject({ stillAllowed: 3, deniesAllRecent: false });
  });

  it('replays plain AuthZEN allows too', async () => {
    await publish('permit (principal == User::"bob", action == Action::"view", resource);');
    const pep = (
      await t.call('POST', '/v1/api-keys', { key: t.adminKey, body: { name: 'pep', roles: ['pep'] } })
    ).body.secret;
    const asked = await t.call('POST', '/access/v1/evaluation', {
      key: pep,
      body: {
        subject: { type: 'User', id: 'bob' },
        action: { name: 'view' },
        resource: { type: 'Doc', id: 'd1' },
      },
    });
    expect(asked.body.decision).toBe(true);
    const flagged = await publish('permit (principal == User::"carol", action == Action::"view", resource);');
    // The three agent allows of the test above and Bob's: all denied under Carol's set.
    expect(flagged.replay).toMatchObject({ replayed: 4, nowDenied: 4, deniesAllRecent: true });
    // Bob's set keeps his evaluation (the agent's reads are denied by it): not flagged.
    const bobs = await publish('permit (principal == User::"bob", action == Action::"view", resource);');
    expect(bobs.replay).toMatchObject({ replayed: 4, stillAllowed: 1, nowDenied: 3, deniesAllRecent: false });
  });
});
