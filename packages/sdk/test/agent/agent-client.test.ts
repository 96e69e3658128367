/**
 * The SDK guard against a real Mandate: a guarded function runs only on an allow, its outcome is
 * recorded; a deny or an approval that does not come throws a typed error and the function never
 * runs; a human's approval within the wait lets the retry through once; outside content marks
 * the agent's later decisions.
 */
import {
  type AgentClient,
  createAgentClient,
  MandateApprovalPendingError,
  MandateDeniedError,
} from '@mandate/sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AgentWorld, agentWorld, ISSUER } from '../support/agent-world.js';

let world: AgentWorld;
let client: AgentClient;

const readFile = (path: string) => ({
  action: 'files.read',
  resource: { type: 'file', id: path },
  arguments: { path },
});

beforeAll(async () => {
  world = await agentWorld();
  client = createAgentClient({
    url: ISSUER,
    agentId: world.agentId,
    privateKey: world.privateJwk,
    delegation: world.delegationId,
    fetch: world.t.fetch,
  });
});
afterAll(() => world?.close());

describe('guard', () => {
  it('runs the function on an allow and records its outcome against the decision', async () => {
    const read = vi.fn(async (path: string) => `contents of ${path}`);
    const guarded = client.guard(read, readFile);
    await expect(guarded('notes.txt')).resolves.toBe('contents of notes.txt');
    expect(read).toHaveBeenCalledTimes(1);
    const outcomes = await world.audit('decision.outcome');
    const last = outcomes.at(-1);
    expect(last?.after).toMatchObject({ status: 'success' });
    expect(last?.after.resultDigest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('throws MandateDeniedError with the reason code and never runs the function on a deny', async () => {
    const remove = vi.fn(async () => 'deleted');
    const guarded = client.guard(remove, (path: string) => ({
      action: 'files.delete',
      resource: { type: 'file', id: path },
    }));
    const error = await guarded('notes.txt').catch((e) => e);
    expect(error).toBeInstanceOf(MandateDeniedError);
    expect(error.code).toBe('out_of_scope');
    expect(error.decisionId).toMatch(/^\d+$/);
    expect(remove).not.toHaveBeenCalled();
  });

  it('records an error outcome when the function throws, and rethrows', async () => {
    const failing = vi.fn(async () => {
      throw new Error('disk on fire');
    });
    await expect(client.guard(failing, readFile)('x.txt')).rejects.toThrow('disk on fire');
    const last = (await world.audit('decision.outcome')).at(-1);
    expect(last?.after).toMatchObject({ status: 'error', error: 'disk on fire' });
  });

  it('on approval_required without a wait: MandateApprovalPendingError with the approval id, function not run', async () => {
    const send = vi.fn(async () => 'sent');
    const guarded = client.guard(send, (to: string) => ({
      action: 'email.send',
      resource: { type: 'mailbox', id: to },
    }));
    const error = await guarded('bob').catch((e) => e);
    expect(error).toBeInstanceOf(MandateApprovalPendingError);
    expect(error.approvalId).toMatch(/^apr_/);
    expect(send).not.toHaveBeenCalled();
  });

  it('waits for the human: approved within the wait → the retry is allowed and the function runs once', async () => {
    const send = vi.fn(async () => 'sent');
    const request = { action: 'email.send', resource: { type: 'mailbox', id: 'carol' } };
    // The human decides while the guard is waiting on the long-poll.
    const first = await client.check(request);
    expect(first.decision).toBe('approval_required');
    const approvalId = first.approval?.id as string;
    const approving = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await world.decideApproval(approvalId, 'approve');
    })();
    const waited = await client.run(request, send, { approvalWaitSeconds: 10 });
    await approving;
    expect(waited).toBe('sent');
    expect(send).toHaveBeenCalledTimes(1);
    // Single use: the same action needs a new approval.
    await expect(client.run(request, send)).rejects.toBeInstanceOf(MandateApprovalPendingError);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('a human who refuses within the wait → MandateDeniedError approval_denied, function not run', async () => {
    const send = vi.fn(async () => 'sent');
    const request = { action: 'email.send', resource: { type: 'mailbox', id: 'dave' } };
    const first = await client.check(request);
    const refusing = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await world.decideApproval(first.approval?.id as string, 'deny');
    })();
    const error = await client.run(request, send, { approvalWaitSeconds: 10 }).catch((e) => e);
    await refusing;
    expect(error).toBeInstanceOf(MandateDeniedError);
    expect(error.code).toBe('approval_denied');
    expect(send).not.toHaveBeenCalled();
  });

  it('another agent cannot read the status of this agent’s approval', async () => {
    const other = await agentWorld();
    try {
      const mine = await client.check({ action: 'email.send', resource: { type: 'mailbox', id: 'erin' } });
      const stranger = createAgentClient({
        url: ISSUER,
        agentId: other.agentId,
        privateKey: other.privateJwk,
        delegation: other.delegationId,
        fetch: other.t.fetch,
      });
      // Same org, different agent: the approval is not found for it.
      const third = await world.t.call('GET', `/v1/approvals/${mine.approval?.id}/status`, {});
      expect(third.status).toBe(401);
      await expect(stranger.waitForApproval(mine.approval?.id as string, 0)).rejects.toMatchObject({
        status: 404,
      });
    } finally {
      await other.close();
    }
  });
});

describe('untrusted input', () => {
  it('after a tool that returns outside content, an external action carries the signal', async () => {
    const isolated = await agentWorld();
    try {
      const agent = createAgentClient({
        url: ISSUER,
        agentId: isolated.agentId,
        privateKey: isolated.privateJwk,
        delegation: isolated.delegationId,
        fetch: isolated.t.fetch,
      });
      const post = { action: 'http.post', resource: { type: 'url', id: 'api.example.com/upload' } };
      const before = await agent.check(post);
      expect(before.risk?.factors.map((f) => f.name) ?? []).not.toContain('untrusted_external');
      const fetchPage = agent.guard(
        async (url: string) => `<html>${url}</html>`,
        (url: string) => ({ action: 'web.fetch', resource: { type: 'url', id: url } }),
        { marksUntrusted: true },
      );
      await fetchPage('example.com/page');
      expect(agent.untrusted).toBe(true);
      const after = await agent.check(post);
      expect(after.risk?.factors.map((f) => f.name)).toContain('untrusted_external');
    } finally {
      await isolated.close();
    }
  });
});
