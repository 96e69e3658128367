/**
 * Approval through AuthZEN (the access-request profile): an enforcement point evaluates an agent's
 * call (its credential in `context.agent_credential`) that needs a human; the answer is a denial
 * (`approval_required`) that is requestable (`evaluation_id`, `access_request`); the PEP submits
 * it to POST /access/v1/requests and gets a task (202, Location), polls the task while pending,
 * sees it approved (`result.mode: reevaluate`) once the root user approves, and its re-evaluation
 * is then allowed, once. Submissions that name no requestable denial of this org are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ISSUER, type TestApp } from '../harness.js';
import { startOAuthApp } from '../oauth/helpers.js';
import { createOrg } from '../security/helpers.js';
import { apiKey, type Chain, chainFor, MINUTE, oidcUser } from './helpers.js';

const TOOL = 'https://tools.example/payments/send';

let t: TestApp;
let close: () => Promise<void>;
let idToken: (subject: string, claims?: Record<string, unknown>) => Promise<string>;
let aliceId: string;
let pep: string;

beforeAll(async () => {
  ({ t, close, idToken } = await startOAuthApp());
  aliceId = await oidcUser(t, 'alice');
  pep = await apiKey(t, ['pep']);
});
afterAll(async () => close?.());

/** What a PEP sends after the agent called TOOL to pay `amount` (a fresh proof each time). */
async function evaluate(chain: Chain, amount: number, key = pep) {
  const credential = {
    token: chain.token.access_token,
    dpop: await chain.agent.creds.dpopProof('POST', TOOL, chain.token.access_token),
    method: 'POST',
    url: TOOL,
  };
  const answer = await t.call('POST', '/access/v1/evaluation', {
    key,
    body: {
      subject: { type: 'Agent', id: chain.agent.id },
      action: { name: 'pay.send', properties: { amount } },
      resource: { type: 'account', id: 'acme' },
      context: { agent_credential: credential },
    },
  });
  expect(answer.status, answer.text).toBe(200);
  return answer.body;
}

const submit = (evaluationId: string, key = pep) =>
  t.call('POST', '/access/v1/requests', { key, body: { denial: { evaluation_id: evaluationId } } });

const pathOf = (url: string) => {
  const parsed = new URL(url);
  expect(parsed.origin).toBe(ISSUER);
  return parsed.pathname;
};

/** The PEP's first evaluation of a chain's pay.send, which files a request: its id, and the answer. */
async function requestable(chain: Chain, amount: number) {
  const denied = await evaluate(chain, amount);
  expect(denied).toMatchObject({ decision: false, context: { reason: 'approval_required' } });
  return { denied, approvalId: denied.context.access_request.approval_id as string };
}

describe('the access-request flow', () => {
  it('requestable denial → task pending → approved (reevaluate) → the re-evaluation is allowed once', async () => {
    const chain = await chainFor(t, aliceId);
    const denied = await evaluate(chain, 100);
    expect(denied).toMatchObject({
      decision: false,
      context: {
        reason: 'approval_required',
        evaluation_id: denied.context.decision_id,
        access_request: {
          endpoint: `${ISSUER}/access/v1/requests`,
          template: 'mandate_approval',
          approval_id: expect.stringMatching(/^apr_[0-9A-Z]{26}$/),
        },
      },
    });
    const approvalId = denied.context.access_request.approval_id as string;
    const approval = (await t.call('GET', `/v1/approvals/${approvalId}`, { key: t.adminKey })).body;
    expect(denied.context.access_request.expires_at).toBe(approval.expiresAt);
    expect(approval.requestedBy).toBe(denied.context.evaluation_id);
    // The amount is what was asked (the action's properties are its arguments).
    expect(approval.argumentsPreview).toEqual({ amount: 'number' });

    // The PEP submits the requestable denial and gets the task handle.
    const submitted = await submit(denied.context.evaluation_id);
    expect(submitted.status, submitted.text).toBe(202);
    expect(submitted.body.task).toMatchObject({ id: approvalId, status: 'pending' });
    const statusPath = pathOf(submitted.body.task.status_endpoint);
    expect(statusPath).toBe(`/access/v1/requests/${approvalId}`);
    const pending = await t.call('GET', statusPath, { key: pep });
    expect(pending.status, pending.text).toBe(200);
    expect(pending.body).toEqual({
      task: {
        id: approvalId,
        status: 'pending',
        status_endpoint: `${ISSUER}${statusPath}`,
        expires_at: approval.expiresAt,
      },
    });
    // While pending, the PEP's re-evaluation is still a denial, naming the same request.
    const again = await evaluate(chain, 100);
    expect(again).toMatchObject({ decision: false, context: { reason: 'approval_required' } });
    expect(again.context.access_request.approval_id).toBe(approvalId);

    const approved = await t.call('POST', `/v1/approvals/${approvalId}/approve`, {
      key: await idToken('alice'),
      body: { comment: 'ok for the gateway' },
    });
    expect(approved.status, approved.text).toBe(200);
    const done = await t.call('GET', statusPath, { key: pep });
    expect(done.body).toEqual({
      task: expect.objectContaining({ id: approvalId, status: 'approved' }),
      result: { mode: 'reevaluate', approval: { id: approvalId } },
    });

    const allowed = await evaluate(chain, 100);
    expect(allowed.decision).toBe(true);
    expect(allowed.context).not.toHaveProperty('access_request');
    const replay = await evaluate(chain, 100);
    expect(replay).toMatchObject({ decision: false, context: { reason: 'approval_used' } });
    // The replay is requestable in its turn: a fresh request.
    expect(replay.context.access_request.approval_id).not.toBe(approvalId);
    const used = await t.call('GET', statusPath, { key: pep });
    expect(used.body.task.status).toBe('used');
    expect(used.body).not.toHaveProperty('result');
  });

  it('POST /access/v1/requests with the evaluation_id answers 202, the task, and Location', async () => {
    const chain = await chainFor(t, aliceId);
    const { denied, approvalId } = await requestable(chain, 110);
    const approval = (await t.call('GET', `/v1/approvals/${approvalId}`, { key: t.adminKey })).body;
    const response = await t.app.inject({
      method: 'POST',
      url: '/access/v1/requests',
      headers: { authorization: `Bearer ${pep}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ denial: { evaluation_id: denied.context.evaluation_id } }),
    });
    expect(response.statusCode, response.body).toBe(202);
    const body = JSON.parse(response.body);
    expect(body).toEqual({
      task: {
        id: approvalId,
        status: 'pending',
        status_endpoint: `${ISSUER}/access/v1/requests/${approvalId}`,
        expires_at: approval.expiresAt,
      },
    });
    expect(response.headers.location).toBe(body.task.status_endpoint);
    // The status endpoint answers for the task.
    const status = await t.call('GET', pathOf(body.task.status_endpoint), { key: pep });
    expect(status.body.task).toMatchObject({ id: approvalId, status: 'pending' });
    // Submitting twice names the same task.
    expect((await submit(denied.context.evaluation_id)).body.task.id).toBe(approvalId);
    // Without a key: 401.
    expect(
      (await t.call('POST', '/access/v1/requests', { body: { denial: { evaluation_id: '1' } } })).status,
    ).toBe(401);
  });

  it('another amount is not covered by the approval', async () => {
    const chain = await chainFor(t, aliceId);
    const denied = await evaluate(chain, 200);
    const approvalId = denied.context.access_request.approval_id as string;
    await t.call('POST', `/v1/approvals/${approvalId}/approve`, { key: await idToken('alice'), body: {} });
    const other = await evaluate(chain, 201);
    expect(other).toMatchObject({ decision: false, context: { reason: 'approval_required' } });
    expect(other.context.access_request.approval_id).not.toBe(approvalId);
    expect((await evaluate(chain, 200)).decision).toBe(true);
  });

  it('a denied task: the status says so, and the re-evaluation is approval_denied, not requestable', async () => {
    const chain = await chainFor(t, aliceId);
    const { approvalId } = await requestable(chain, 300);
    await t.call('POST', `/v1/approvals/${approvalId}/deny`, { key: await idToken('alice'), body: {} });
    const status = await t.call('GET', `/access/v1/requests/${approvalId}`, { key: pep });
    expect(status.body.task.status).toBe('denied');
    expect(status.body).not.toHaveProperty('result');
    const retry = await evaluate(chain, 300);
    expect(retry).toMatchObject({ decision: false, context: { reason: 'approval_denied' } });
    expect(retry.context).not.toHaveProperty('access_request');
  });

  it('an expired denial cannot be submitted; its task shows expired', async () => {
    const chain = await chainFor(t, aliceId);
    const denied = await evaluate(chain, 400);
    const approvalId = denied.context.access_request.approval_id as string;
    t.clock.advance(10 * MINUTE + 1_000);
    try {
      const late = await submit(denied.context.evaluation_id);
      expect(late.status, late.text).toBe(400);
      const status = await t.call('GET', `/access/v1/requests/${approvalId}`, { key: pep });
      expect(status.body.task.status).toBe('expired');
    } finally {
      t.clock.advance(-(10 * MINUTE + 1_000));
    }
  });
});

describe('submissions that name no requestable denial', () => {
  it('an unknown evaluation id, a malformed one, or a decision that asked for nothing: 400', async () => {
    for (const id of ['999999999', 'abc', '-1', '1e3']) {
      const answer = await submit(id);
      expect(answer.status, `${id}: ${answer.text}`).toBe(400);
    }
    // A denial that asked no one (out of scope) is not requestable.
    const chain = await chainFor(t, aliceId);
    const outside = await t.call('POST', '/access/v1/evaluation', {
      key: pep,
      body: {
        subject: { type: 'Agent', id: chain.agent.id },
        action: { name: 'email.send' },
        resource: { type: 'account', id: 'acme' },
        context: {
          agent_credential: {
            token: chain.token.access_token,
            dpop: await chain.agent.creds.dpopProof('POST', TOOL, chain.token.access_token),
            method: 'POST',
            url: TOOL,
          },
        },
      },
    });
    expect(outside.body).toMatchObject({ decision: false, context: { reason: 'out_of_scope' } });
    expect(outside.body.context).not.toHaveProperty('evaluation_id');
    expect((await submit(outside.body.context.decision_id)).status).toBe(400);
    // Nor is an administrative record.
    const events = await t.call('GET', '/v1/audit/events?type=agent.registered&limit=1', { key: t.adminKey });
    const adminSeq = events.body.items[0]?.seq;
    if (adminSeq !== undefined) expect((await submit(String(adminSeq))).status).toBe(400);
  });

  it("another org's enforcement point cannot submit this org's denial, nor read its task", async () => {
    const chain = await chainFor(t, aliceId);
    const denied = await evaluate(chain, 500);
    const other = await createOrg(t, 'other org');
    const otherPep = await t.call('POST', '/v1/api-keys', {
      key: other.adminKey,
      body: { name: 'pep', roles: ['pep'] },
    });
    const theirs = otherPep.body.secret as string;
    const answer = await submit(denied.context.evaluation_id, theirs);
    expect(answer.status, answer.text).toBe(400);
    const status = await t.call('GET', `/access/v1/requests/${denied.context.access_request.approval_id}`, {
      key: theirs,
    });
    expect(status.status).toBe(404);
    // Ours still can.
    expect((await submit(denied.context.evaluation_id)).status).toBe(202);
  });

  it('only an enforcement point (or admin) submits: an auditor or approver key is refused (403)', async () => {
    const chain = await chainFor(t, aliceId);
    const denied = await evaluate(chain, 600);
    for (const roles of [['auditor'], ['approver']]) {
      const key = await apiKey(t, roles);
      expect((await submit(denied.context.evaluation_id, key)).status, roles.join()).toBe(403);
      expect(
        (await t.call('GET', `/access/v1/requests/${denied.context.access_request.approval_id}`, { key }))
          .status,
      ).toBe(403);
    }
  });

  it('a malformed task id is 400; an unknown one 404', async () => {
    expect((await t.call('GET', '/access/v1/requests/nope', { key: pep })).status).toBe(400);
    expect(
      (await t.call('GET', '/access/v1/requests/apr_00000000000000000000000000', { key: pep })).status,
    ).toBe(404);
  });

  // Was a bug (fixed): ApprovalService.taskForDenial accepted any agent decision record that names an
  // approval, including an ALLOW that used one (its record carries after.approval {status:
  // 'used'}), and answers with a task (status 'used'). The profile, and taskForDenial's own doc
  // ("the submission names that denial"), say only a requestable denial may be submitted: this
  // should be 400.
  it('the evaluation id of an allow (which used an approval) is no denial: refused', async () => {
    const chain = await chainFor(t, aliceId);
    const denied = await evaluate(chain, 700);
    await t.call('POST', `/v1/approvals/${denied.context.access_request.approval_id}/approve`, {
      key: await idToken('alice'),
      body: {},
    });
    const allowed = await evaluate(chain, 700);
    expect(allowed.decision).toBe(true);
    const submitted = await submit(allowed.context.decision_id);
    expect(submitted.status, submitted.text).toBe(400);
  });
});

describe('discovery', () => {
  it('the PDP metadata advertises the access-request endpoint and capability', async () => {
    const meta = await t.call('GET', '/.well-known/authzen-configuration');
    expect(meta.body).toMatchObject({
      access_request_endpoint: `${ISSUER}/access/v1/requests`,
      capabilities: expect.arrayContaining(['urn:openid:authzen:capability:access-request']),
    });
  });
});
