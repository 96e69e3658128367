/**
 * The OpenAI Agents SDK adapter in a real agent run (a scripted Model, no network, tracing off)
 * against a real Mandate: the allowed call runs, the denied one never does and the model reads
 * the reason code as the tool output; approval_required becomes the SDK's interruption carrying
 * Mandate's approval id, and approving in Mandate then resuming the run lets the call through
 * (approving only the interruption does not); a Mandate that cannot be reached runs nothing.
 */
import type { AgentClient } from '@mandate/sdk';
import { mandateApproval, mandateTools, type PendingApproval } from '@mandate/sdk/openai-agents';
import { Agent, Runner, setTracingDisabled, tool } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { clientOf, decisionsFor, riskFactors, unreachableClient } from '../support/agent-clients.js';
import { type AgentWorld, agentWorld } from '../support/agent-world.js';
import { functionCall, message, ScriptedModel, toolOutputs } from '../support/openai-scripted-model.js';

let world: AgentWorld;
let client: AgentClient;
const runner = new Runner({ tracingDisabled: true });

beforeAll(async () => {
  setTracingDisabled(true);
  world = await agentWorld();
  client = clientOf(world);
});
afterAll(() => world?.close());

function fileTools() {
  const read = vi.fn(async ({ path }: { path: string }) => `contents of ${path}`);
  const remove = vi.fn(async ({ path }: { path: string }) => `deleted ${path}`);
  const tools = [
    tool({
      name: 'read_file',
      description: 'Read a file',
      parameters: z.object({ path: z.string() }),
      execute: read,
    }),
    tool({
      name: 'delete_file',
      description: 'Delete a file',
      parameters: z.object({ path: z.string() }),
      execute: remove,
    }),
  ] as const;
  const requests = {
    read_file: ({ path }: { path: string }) => ({
      action: 'files.read',
      resource: { type: 'file', id: path },
    }),
    delete_file: ({ path }: { path: string }) => ({
      action: 'files.delete',
      resource: { type: 'file', id: path },
    }),
  };
  return { read, remove, tools, requests };
}

describe('OpenAI Agents: mandateTools in a run', () => {
  it('runs the allowed call, never the denied one, and the model reads the reason code', async () => {
    const { read, remove, tools, requests } = fileTools();
    const model = new ScriptedModel([
      [
        functionCall('call_1', 'read_file', { path: 'notes.txt' }),
        functionCall('call_2', 'delete_file', { path: 'notes.txt' }),
      ],
      [message('done')],
    ]);
    const agent = new Agent({
      name: 'files',
      instructions: 'tidy files',
      model,
      tools: mandateTools(client, tools, requests),
    });
    const result = await runner.run(agent, 'read then delete notes.txt');

    expect(result.finalOutput).toBe('done');
    expect(read).toHaveBeenCalledTimes(1);
    expect(remove).not.toHaveBeenCalled();
    const seen = toolOutputs(model.requests[1]);
    expect(seen.call_1).toBe('contents of notes.txt');
    expect(seen.call_2).toContain('out_of_scope');
    expect(seen.call_2).not.toMatch(/files\.read|file:\*|dimension/);
    // One decision for each call (the preflight's allow is the one the call runs on).
    expect(await decisionsFor(world, 'files.delete')).toHaveLength(1);
    const reads = await decisionsFor(world, 'files.read');
    expect(reads).toHaveLength(1);
    expect(reads[0]?.after.result).toBe('allow');
    const outcome = (await world.audit('decision.outcome')).at(-1);
    expect(outcome?.after).toMatchObject({ status: 'success' });
  });

  it('fails closed: Mandate unreachable → the tool does not run, the model gets an error output', async () => {
    const { read, tools, requests } = fileTools();
    const model = new ScriptedModel([
      [functionCall('call_u', 'read_file', { path: 'notes.txt' })],
      [message('sorry')],
    ]);
    const agent = new Agent({
      name: 'files',
      model,
      tools: mandateTools(unreachableClient(world), [tools[0]], requests),
    });
    await runner.run(agent, 'read notes.txt');
    expect(read).not.toHaveBeenCalled();
    expect(toolOutputs(model.requests[1]).call_u).toContain('Mandate could not be asked');
  });

  it('refuses to wrap a tool without an action request', () => {
    const { tools } = fileTools();
    expect(() => mandateTools(client, tools, { read_file: fileTools().requests.read_file })).toThrow(
      /delete_file/,
    );
  });
});

describe('OpenAI Agents: approval_required is the SDK interruption', () => {
  const emailTool = (send: (input: { to: string }) => Promise<string>) =>
    tool({
      name: 'send_email',
      description: 'Send an email',
      parameters: z.object({ to: z.string() }),
      execute: send,
    });
  const requests = {
    send_email: ({ to }: { to: string }) => ({ action: 'email.send', resource: { type: 'mailbox', id: to } }),
  };

  it('interrupts with the Mandate approval id; approved in Mandate and resumed, the call runs once', async () => {
    const send = vi.fn(async ({ to }: { to: string }) => `sent to ${to}`);
    const seenPending: PendingApproval[] = [];
    const model = new ScriptedModel([
      [functionCall('call_e1', 'send_email', { to: 'bob' })],
      [message('sent')],
    ]);
    const agent = new Agent({
      name: 'mailer',
      model,
      tools: mandateTools(client, [emailTool(send)], requests, {
        onApprovalRequired: (p) => seenPending.push(p),
      }),
    });

    const first = await runner.run(agent, 'email bob');
    expect(send).not.toHaveBeenCalled();
    expect(first.interruptions).toHaveLength(1);
    const interruption = first.interruptions[0]!;
    const pending = mandateApproval(interruption);
    expect(pending?.approvalId).toMatch(/^apr_/);
    expect(pending).toMatchObject({ toolName: 'send_email', toolCallId: 'call_e1' });
    expect(seenPending).toEqual([pending]);

    await world.decideApproval(pending?.approvalId as string, 'approve');
    first.state.approve(interruption);
    const second = await runner.run(agent, first.state);
    expect(second.finalOutput).toBe('sent');
    expect(send).toHaveBeenCalledTimes(1);
    expect(toolOutputs(model.requests[1]).call_e1).toBe('sent to bob');
  });

  it('approving only the interruption does not run the call: Mandate still waits for a human', async () => {
    const send = vi.fn(async () => 'sent');
    const model = new ScriptedModel([
      [functionCall('call_e2', 'send_email', { to: 'carol' })],
      [message('waiting')],
    ]);
    const agent = new Agent({
      name: 'mailer',
      model,
      tools: mandateTools(client, [emailTool(send)], requests),
    });
    const first = await runner.run(agent, 'email carol');
    const interruption = first.interruptions[0]!;
    const approvalId = mandateApproval(interruption)?.approvalId as string;
    first.state.approve(interruption);
    await runner.run(agent, first.state);
    expect(send).not.toHaveBeenCalled();
    expect(toolOutputs(model.requests[1]).call_e2).toContain(approvalId);
  });

  it('a human refusing in Mandate: resumed, the call does not run and the model reads approval_denied', async () => {
    const send = vi.fn(async () => 'sent');
    const model = new ScriptedModel([
      [functionCall('call_e3', 'send_email', { to: 'dave' })],
      [message('refused')],
    ]);
    const agent = new Agent({
      name: 'mailer',
      model,
      tools: mandateTools(client, [emailTool(send)], requests),
    });
    const first = await runner.run(agent, 'email dave');
    const interruption = first.interruptions[0]!;
    await world.decideApproval(mandateApproval(interruption)?.approvalId as string, 'deny');
    first.state.approve(interruption);
    await runner.run(agent, first.state);
    expect(send).not.toHaveBeenCalled();
    expect(toolOutputs(model.requests[1]).call_e3).toContain('approval_denied');
  });
});

describe('OpenAI Agents: untrusted content', () => {
  it('after a tool marked as returning outside content runs, the next call carries the signal', async () => {
    const isolated = await agentWorld();
    try {
      const agent = clientOf(isolated);
      const fetchPage = vi.fn(async ({ url }: { url: string }) => `<html>${url}</html>`);
      const post = vi.fn(async () => 'posted');
      const tools = mandateTools(
        agent,
        [
          tool({
            name: 'fetch_page',
            description: 'GET a page',
            parameters: z.object({ url: z.string() }),
            execute: fetchPage,
          }),
          tool({
            name: 'post_data',
            description: 'POST data',
            parameters: z.object({ url: z.string() }),
            execute: post,
          }),
        ],
        {
          fetch_page: {
            request: ({ url }: { url: string }) => ({
              action: 'web.fetch',
              resource: { type: 'url', id: url },
            }),
            marksUntrusted: true,
          },
          post_data: ({ url }: { url: string }) => ({
            action: 'http.post',
            resource: { type: 'url', id: url },
          }),
        },
      );
      const model = new ScriptedModel([
        [functionCall('p0', 'post_data', { url: 'api.example.com/a' })],
        [functionCall('f1', 'fetch_page', { url: 'example.com/page' })],
        [functionCall('p1', 'post_data', { url: 'api.example.com/b' })],
        [message('done')],
      ]);
      await runner.run(new Agent({ name: 'web', model, tools }), 'go');
      expect(fetchPage).toHaveBeenCalledTimes(1);
      expect(agent.untrusted).toBe(true);
      const posts = await decisionsFor(isolated, 'http.post');
      expect(riskFactors(posts[0])).not.toContain('untrusted_external');
      expect(riskFactors(posts.at(-1))).toContain('untrusted_external');
    } finally {
      await isolated.close();
    }
  });
});
