/**
 * The approval flow end to end: a delegation that requires approval for pay.send; the agent's
 * call files a request (approval_required), the root user approves, the agent's retry of exactly
 * that action is allowed once, and a second retry is refused (approval_used).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestApp } from '../harness.js';
import { activeAgent, HOUR, startOAuthApp } from '../oauth/helpers.js';

let t: TestApp;
let close: () => Promise<void>;
let idToken: (subject: string, claims?: Record<string, unknown>) => Promise<string>;

beforeAll(async () => {
  ({ t, close, idToken } = await startOAuthApp());
});
afterAll(async () => close?.());

it('files, approves, allows once, refuses a second use', async () => {
  // Alice signs in with OIDC (so she can act as herself), and is the root user of the chain.
  const aliceToken = await idToken('alice');
  const alice = await t.call('POST', '/v1/users', {
    key: t.adminKey,
    body: { displayName: 'Alice', issuer: 'https://idp.oauth.test', subject: 'alice' },
  });
  const aliceId = alice.body.id as string;
  const agent = await activeAgent(t, aliceId, 'payer', {
    actions: ['pay.*'],
    resources: ['*'],
    maxDataClass: 'internal',
    maxDelegationDepth: 0,
  });
  const granted = await t.call('POST', '/v1/delegations', {
    key: t.adminKey,
    body: {
      delegateAgentId: agent.id,
      purpose: 'pay',
      onBehalfOf: aliceId,
      scope: {
        actions: ['pay.*'],
        resources: ['*'],
        dataClass: 'internal',
        expiresAt: new Date(t.clock.now().getTime() + HOUR).toISOString(),
        requireApproval: ['pay.send'],
      },
    },
  });
  expect(granted.status, granted.text).toBe(201);
  const token = await agent.creds.exchange({ delegation: granted.body.id });
  const pay = { action: 'pay.send', resource: { type: 'account', id: 'acme' }, arguments: { amount: 10 } };
  const first = await agent.creds.decide(token, pay as never);
  expect(first).toMatchObject({ decision: 'approval_required', reasons: [{ code: 'approval_required' }] });
  const approvalId = first.approval?.id as string;
  expect(approvalId).toMatch(/^apr_/);
  // Asking again while pending finds the same request.
  expect((await agent.creds.decide(token, pay as never)).approval?.id).toBe(approvalId);

  const approved = await t.call('POST', `/v1/approvals/${approvalId}/approve`, {
    key: aliceToken,
    body: { comment: 'ok' },
  });
  expect(approved.status, approved.text).toBe(200);
  expect(approved.body).toMatchObject({ status: 'approved', decidedBy: { userId: aliceId } });

  const retry = await agent.creds.decide(token, pay as never);
  expect(retry.decision).toBe('allow');
  const second = await agent.creds.decide(token, pay as never);
  expect(second).toMatchObject({ decision: 'approval_required', reasons: [{ code: 'approval_used' }] });
  expect(second.approval?.id).not.toBe(approvalId);
});
