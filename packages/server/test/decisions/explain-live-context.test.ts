/**
 * Explain of a decision shows the live context it was made in: the risk score with its factors,
 * the limits the use consumed, and the approval that let it through with the human who approved.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestApp } from '../harness.js';
import { activeAgent, HOUR, startOAuthApp } from '../oauth/helpers.js';

let t: TestApp;
let close: () => Promise<void>;
let idToken: (subject: string) => Promise<string>;

beforeAll(async () => {
  ({ t, close, idToken } = await startOAuthApp());
});
afterAll(async () => close?.());

it('shows risk factors, limits consumed and the approval with its approver', async () => {
  const aliceToken = await idToken('alice');
  const alice = await t.call('POST', '/v1/users', {
    key: t.adminKey,
    body: { displayName: 'Alice', issuer: 'https://idp.oauth.test', subject: 'alice' },
  });
  const agent = await activeAgent(t, alice.body.id, 'explained', {
    actions: ['pay.*'],
    resources: ['*'],
    maxDataClass: 'confidential',
    maxDelegationDepth: 0,
  });
  const granted = await t.call('POST', '/v1/delegations', {
    key: t.adminKey,
    body: {
      delegateAgentId: agent.id,
      purpose: 'pay',
      onBehalfOf: alice.body.id,
      scope: {
        actions: ['pay.*'],
        resources: ['*'],
        dataClass: 'confidential',
        expiresAt: new Date(t.clock.now().getTime() + HOUR).toISOString(),
        limits: { maxUses: 5, budget: { argument: 'amount', max: 100 } },
        requireApproval: ['pay.send'],
      },
    },
  });
  expect(granted.status, granted.text).toBe(201);
  const token = await agent.creds.exchange({ delegation: granted.body.id });
  const pay = {
    action: 'pay.send',
    resource: { type: 'account', id: 'acme' },
    dataClass: 'confidential',
    arguments: { amount: 30 },
  };
  const asked = await agent.creds.decide(token, pay as never);
  expect(asked.decision).toBe('approval_required');
  const approved = await t.call('POST', `/v1/approvals/${asked.approval?.id}/approve`, {
    key: aliceToken,
    body: {},
  });
  expect(approved.status, approved.text).toBe(200);
  const allowed = await agent.creds.decide(token, pay as never);
  expect(allowed.decision).toBe('allow');

  const explained = await t.call('GET', `/v1/audit/explain/${allowed.decisionId}`, { key: t.adminKey });
  expect(explained.status, explained.text).toBe(200);
  const after = explained.body.record.after;
  // Risk: the factors that counted, which add up to the score.
  const names = after.risk.factors.map((f: { name: string }) => f.name);
  expect(names).toEqual(expect.arrayContaining(['data_sensitivity', 'agent_age']));
  expect(after.risk.factors.reduce((s: number, f: { contribution: number }) => s + f.contribution, 0)).toBe(
    after.risk.score,
  );
  // Limits: what this use consumed.
  expect(after.limits).toEqual([
    {
      delegationId: granted.body.id,
      uses: 1,
      maxUses: 5,
      spent: 30,
      budget: { argument: 'amount', max: 100 },
    },
  ]);
  // The approval, used by this decision, and the record of who approved it.
  expect(after.approval).toMatchObject({
    id: asked.approval?.id,
    status: 'used',
    decidedBy: { kind: 'user' },
  });
  const approvalNode = explained.body.dependsOn.find(
    (n: { record: { type: string } }) => n.record.type === 'approval.approved',
  );
  expect(approvalNode?.relation).toBe('the approval that allowed it, with its approver');
  expect(approvalNode?.record.actor).toMatchObject({ kind: 'user', id: alice.body.id });
});
