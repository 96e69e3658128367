/**
 * The LangChain middleware in a real `createAgent` loop (LangChain's own `fakeModel`, no network)
 * against a real Mandate: the allowed call runs, the denied one never does and the model reads
 * the reason code in the ToolMessage of its next call; approval_required pauses the run with a
 * LangGraph interrupt carrying Mandate's approval id, and resuming after a human approved in
 * Mandate lets the call through (resuming without that approval does not); a Mandate that
 * cannot be reached, or a tool with no action request, runs nothing.
 */
import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { Command, MemorySaver } from '@langchain/langgraph';
import type { AgentClient } from '@mandate/sdk';
import { type MandateInterrupt, mandateMiddleware } from '@mandate/sdk/langchain';
import { createAgent, tool } from 'langchain';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { clientOf, decisionsFor, riskFactors, unreachableClient } from '../support/agent-clients.js';
import { type AgentWorld, agentWorld } from '../support/agent-world.js';

let world: AgentWorld;
let client: AgentClient;

beforeAll(async () => {
  world = await agentWorld();
  client = clientOf(world);
});
afterAll(() => world?.close());

const pathSchema = z.object({ path: z.string() });
function fileTools() {
  const read = vi.fn(async ({ path }: { path: string }) => `contents of ${path}`);
  const remove = vi.fn(async ({ path }: { path: string }) => `deleted ${path}`);
  const tools = [
    tool(read, { name: 'read_file', description: 'Read a file', schema: pathSchema }),
    tool(remove, { name: 'delete_file', description: 'Delete a file', schema: pathSchema }),
  ];
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

/** The ToolMessages a model call received, by tool call id. */
function toolMessages(messages: BaseMessage[] | undefined): Record<string, ToolMessage> {
  const out: Record<string, ToolMessage> = {};
  for (const message of messages ?? [])
    if (ToolMessage.isInstance(message)) out[message.tool_call_id] = message;
  return out;
}

describe('LangChain: mandateMiddleware in a createAgent loop', () => {
  it('runs the allowed call, never the denied one, and the model reads the reason code', async () => {
    const { read, remove, tools, requests } = fileTools();
    const model = fakeModel()
      .respondWithTools([
        { name: 'read_file', args: { path: 'notes.txt' }, id: 'call_1' },
        { name: 'delete_file', args: { path: 'notes.txt' }, id: 'call_2' },
      ])
      .respond(new AIMessage('done'));
    const agent = createAgent({ model, tools, middleware: [mandateMiddleware(client, requests)] });
    const result = await agent.invoke({
      messages: [{ role: 'user', content: 'read then delete notes.txt' }],
    });

    expect(result.messages.at(-1)?.content).toBe('done');
    expect(read).toHaveBeenCalledTimes(1);
    expect(remove).not.toHaveBeenCalled();
    const seen = toolMessages(model.calls[1]?.messages);
    expect(seen.call_1?.content).toBe('contents of notes.txt');
    expect(seen.call_2?.status).toBe('error');
    expect(seen.call_2?.content).toContain('out_of_scope');
    expect(String(seen.call_2?.content)).not.toMatch(/files\.read|file:\*|dimension/);
    expect(await decisionsFor(world, 'files.delete')).toHaveLength(1);
    expect((await world.audit('decision.outcome')).at(-1)?.after).toMatchObject({ status: 'success' });
  });

  it('fails closed: Mandate unreachable → the tool does not run, the model gets an error result', async () => {
    const { read, tools, requests } = fileTools();
    const model = fakeModel()
      .respondWithTools([{ name: 'read_file', args: { path: 'notes.txt' }, id: 'call_u' }])
      .respond(new AIMessage('sorry'));
    const agent = createAgent({
      model,
      tools,
      middleware: [mandateMiddleware(unreachableClient(world), requests)],
    });
    await agent.invoke({ messages: [{ role: 'user', content: 'read notes.txt' }] });
    expect(read).not.toHaveBeenCalled();
    const seen = toolMessages(model.calls[1]?.messages).call_u;
    expect(seen?.status).toBe('error');
    expect(seen?.content).toContain('Mandate could not be asked');
  });

  it('a tool with no action request does not run (unless listed as unguarded)', async () => {
    const { read, remove, tools, requests } = fileTools();
    const model = fakeModel()
      .respondWithTools([
        { name: 'delete_file', args: { path: 'a' }, id: 'call_n' },
        { name: 'read_file', args: { path: 'b' }, id: 'call_g' },
      ])
      .respond(new AIMessage('ok'));
    const agent = createAgent({
      model,
      tools,
      middleware: [mandateMiddleware(client, { read_file: requests.read_file })],
    });
    await agent.invoke({ messages: [{ role: 'user', content: 'go' }] });
    expect(remove).not.toHaveBeenCalled();
    expect(read).toHaveBeenCalledTimes(1);
    expect(toolMessages(model.calls[1]?.messages).call_n?.content).toContain('no Mandate action request');

    const calculator = vi.fn(async () => '4');
    const free = fakeModel()
      .respondWithTools([{ name: 'add', args: { a: 2, b: 2 }, id: 'call_a' }])
      .respond(new AIMessage('4'));
    await createAgent({
      model: free,
      tools: [tool(calculator, { name: 'add', schema: z.object({ a: z.number(), b: z.number() }) })],
      middleware: [mandateMiddleware(client, {}, { unguarded: ['add'] })],
    }).invoke({ messages: [{ role: 'user', content: '2+2' }] });
    expect(calculator).toHaveBeenCalledTimes(1);
  });
});

describe('LangChain: approval_required is a LangGraph interrupt', () => {
  const emailTool = (send: (input: { to: string }) => Promise<string>) =>
    tool(send, { name: 'send_email', description: 'Send an email', schema: z.object({ to: z.string() }) });
  const requests = {
    send_email: ({ to }: { to: string }) => ({ action: 'email.send', resource: { type: 'mailbox', id: to } }),
  };
  const interruptOf = (result: Record<string, any>) =>
    result.__interrupt__?.[0]?.value as MandateInterrupt | undefined;

  it('pauses with the Mandate approval id; approved in Mandate and resumed, the call runs once', async () => {
    const send = vi.fn(async ({ to }: { to: string }) => `sent to ${to}`);
    const model = fakeModel()
      .respondWithTools([{ name: 'send_email', args: { to: 'bob' }, id: 'call_e1' }])
      .respond(new AIMessage('sent'));
    const agent = createAgent({
      model,
      tools: [emailTool(send)],
      middleware: [mandateMiddleware(client, requests)],
      checkpointer: new MemorySaver(),
    });
    const thread = { configurable: { thread_id: 'approve-1' } };

    const first = await agent.invoke({ messages: [{ role: 'user', content: 'email bob' }] }, thread);
    expect(send).not.toHaveBeenCalled();
    const paused = interruptOf(first);
    expect(paused).toMatchObject({
      type: 'mandate_approval',
      toolCall: { name: 'send_email', id: 'call_e1' },
    });
    expect(paused?.approvalId).toMatch(/^apr_/);

    await world.decideApproval(paused?.approvalId as string, 'approve');
    const second = await agent.invoke(new Command({ resume: { approved: true } }), thread);
    expect(send).toHaveBeenCalledTimes(1);
    expect(second.messages.at(-1)?.content).toBe('sent');
    expect(toolMessages(model.calls[1]?.messages).call_e1?.content).toBe('sent to bob');
  });

  it('resumed without a human approving in Mandate: the call does not run, the model reads the approval id', async () => {
    const send = vi.fn(async () => 'sent');
    const model = fakeModel()
      .respondWithTools([{ name: 'send_email', args: { to: 'carol' }, id: 'call_e2' }])
      .respond(new AIMessage('waiting'));
    const agent = createAgent({
      model,
      tools: [emailTool(send)],
      middleware: [mandateMiddleware(client, requests)],
      checkpointer: new MemorySaver(),
    });
    const thread = { configurable: { thread_id: 'approve-2' } };
    const first = await agent.invoke({ messages: [{ role: 'user', content: 'email carol' }] }, thread);
    const approvalId = interruptOf(first)?.approvalId as string;
    await agent.invoke(new Command({ resume: { approved: true } }), thread);
    expect(send).not.toHaveBeenCalled();
    const seen = toolMessages(model.calls[1]?.messages).call_e2;
    expect(seen?.status).toBe('error');
    expect(seen?.content).toContain(approvalId);
  });

  it('without a checkpointer: no pause, the model reads the approval id as an error result', async () => {
    const send = vi.fn(async () => 'sent');
    const model = fakeModel()
      .respondWithTools([{ name: 'send_email', args: { to: 'dave' }, id: 'call_e3' }])
      .respond(new AIMessage('waiting'));
    const agent = createAgent({
      model,
      tools: [emailTool(send)],
      middleware: [mandateMiddleware(client, requests)],
    });
    await agent.invoke({ messages: [{ role: 'user', content: 'email dave' }] });
    expect(send).not.toHaveBeenCalled();
    expect(toolMessages(model.calls[1]?.messages).call_e3?.content).toMatch(/approval apr_/);
  });
});

describe('LangChain: untrusted content', () => {
  it('after a tool marked as returning outside content runs, the next call carries the signal', async () => {
    const isolated = await agentWorld();
    try {
      const agent = clientOf(isolated);
      const fetchPage = vi.fn(async ({ url }: { url: string }) => `<html>${url}</html>`);
      const post = vi.fn(async () => 'posted');
      const urlSchema = z.object({ url: z.string() });
      const model = fakeModel()
        .respondWithTools([{ name: 'post_data', args: { url: 'api.example.com/a' }, id: 'p0' }])
        .respondWithTools([{ name: 'fetch_page', args: { url: 'example.com/page' }, id: 'f1' }])
        .respondWithTools([{ name: 'post_data', args: { url: 'api.example.com/b' }, id: 'p1' }])
        .respond(new AIMessage('done'));
      await createAgent({
        model,
        tools: [
          tool(fetchPage, { name: 'fetch_page', schema: urlSchema }),
          tool(post, { name: 'post_data', schema: urlSchema }),
        ],
        middleware: [
          mandateMiddleware(agent, {
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
          }),
        ],
      }).invoke({ messages: [{ role: 'user', content: 'go' }] });
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
