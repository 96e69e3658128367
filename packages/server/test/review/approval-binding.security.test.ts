/**
 * Review: what an approval is bound to. The digest (approvals/approval.ts, approvalDigest) once
 * covered only agent, delegation, action, resource and arguments, so a yes given to one request
 * could be spent on the same call in another environment, data class or context. It now binds
 * those too (and the approval record shows the environment and data class).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKey, approvalOf, chainFor, paySend } from '../approvals/helpers.js';
import type { TestApp } from '../harness.js';
import { startOAuthApp } from '../oauth/helpers.js';

let t: TestApp;
let close: () => Promise<void>;
let aliceId: string;
/** A key bound to Alice, the root user of every chain here (the root user may always approve). */
let aliceKey: string;

beforeAll(async () => {
  ({ t, close } = await startOAuthApp());
  aliceId = (await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } })).body.id;
  aliceKey = await apiKey(t, ['approver'], aliceId);
});
afterAll(async () => close?.());

const approve = async (id: string) => {
  const answer = await t.call('POST', `/v1/approvals/${id}/approve`, { key: aliceKey, body: {} });
  expect(answer.status, answer.text).toBe(200);
};

describe('an approval is for exactly the action the human saw', () => {
  // Was a bug, found in review and fixed (packages/engine/src/approvals/approval.ts:47-66, approvalDigest; used by
  // decision/steps/approval.ts and decision/commit-checks.ts): the environment is a dimension of
  // the scope and reaches Cedar as context.mandate.environment, but it is not in the digest (nor
  // in the approval record the approver sees). A pay.send approved for `staging` lets the same
  // call through in `production`.
  it('a yes for staging does not allow the same call in production', async () => {
    const chain = await chainFor(t, aliceId);
    const staging = await chain.ask({ ...paySend(900), environment: 'staging' });
    expect(staging).toMatchObject({ decision: 'approval_required', approval: { status: 'pending' } });
    await approve(approvalOf(staging));

    const production = await chain.ask({ ...paySend(900), environment: 'production' });
    expect(production.decision).not.toBe('allow');
  });

  // Was a bug, found in review and fixed (same place): the data class the request declares (which the scope and the risk's
  // data_sensitivity factor judge) is not bound either: a yes to a read of public data is spent on
  // the same call declared internal, at a higher risk than the approver was shown.
  it('a yes for public data does not allow the same call on internal data', async () => {
    const chain = await chainFor(t, aliceId);
    const publicData = await chain.ask({ ...paySend(901), dataClass: 'public' });
    expect(publicData).toMatchObject({ decision: 'approval_required', approval: { status: 'pending' } });
    await approve(approvalOf(publicData));

    const internal = await chain.ask({ ...paySend(901), dataClass: 'internal' });
    expect(internal.decision).not.toBe('allow');
  });

  // Was a bug, found in review and fixed (same place): the Cedar context the enforcement point sends (which policies read, and
  // which the approval step's policy annotations may depend on) is not bound: a yes given with one
  // context is spent with another.
  it('a yes given with one context does not allow the same call with another', async () => {
    const chain = await chainFor(t, aliceId);
    const asked = await chain.ask({ ...paySend(902), context: { ticket: 'INC-1' } });
    expect(asked).toMatchObject({ decision: 'approval_required', approval: { status: 'pending' } });
    await approve(approvalOf(asked));

    const other = await chain.ask({ ...paySend(902), context: { ticket: 'NONE', bulk: true } });
    expect(other.decision).not.toBe('allow');
  });
});
