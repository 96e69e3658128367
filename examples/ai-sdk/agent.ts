/**
 * A Vercel AI SDK tool loop whose tools Mandate guards. The model is the SDK's MockLanguageModelV3
 * with a fixed script (no API key, no network): it reads a file (allowed), deletes it (denied:
 * out of scope) and emails Alice (approval_required: a human approves it in Mandate, then the
 * loop resumes through the SDK's own tool approval flow).
 */
import type { LanguageModelV3GenerateResult } from '@ai-sdk/provider';
import { mandateTools } from '@mandate/sdk/ai';
import { generateText, type ModelMessage, stepCountIs, tool } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { z } from 'zod';
import { approvalWaitSeconds, clientFromEnv } from '../shared/env.js';

const client = clientFromEnv();

// 1. The tools, exactly as the AI SDK defines them.
const readFile = tool({
  description: 'Read a file',
  inputSchema: z.object({ path: z.string() }),
  execute: async ({ path }) => `(contents of ${path})`,
});
const deleteFile = tool({
  description: 'Delete a file',
  inputSchema: z.object({ path: z.string() }),
  execute: async ({ path }) => `deleted ${path}`,
});
const sendEmail = tool({
  description: 'Send an email',
  inputSchema: z.object({ to: z.string(), body: z.string() }),
  execute: async ({ to }) => `sent to ${to}`,
});

// 2. Guarded: each call becomes an action request Mandate decides before `execute` runs.
const pending = new Map<string, string>(); // tool call id → Mandate approval id
const tools = mandateTools(
  client,
  { readFile, deleteFile, sendEmail },
  {
    readFile: ({ path }) => ({ action: 'files.read', resource: { type: 'file', id: path } }),
    deleteFile: ({ path }) => ({ action: 'files.delete', resource: { type: 'file', id: path } }),
    sendEmail: ({ to, body }) => ({
      action: 'email.send',
      resource: { type: 'mailbox', id: to },
      arguments: { body },
    }),
  },
  {
    onApprovalRequired: ({ approvalId, toolName, toolCallId }) => {
      pending.set(toolCallId as string, approvalId);
      console.log(`${toolName} needs a human: run \`mandate approvals approve ${approvalId}\``);
    },
  },
);

// 3. A scripted model standing in for a real one.
const usage = {
  inputTokens: { total: 0, noCache: 0, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 0, text: 0, reasoning: 0 },
};
const toolCalls = (...calls: Array<[string, string, unknown]>): LanguageModelV3GenerateResult => ({
  content: calls.map(([toolCallId, toolName, input]) => ({
    type: 'tool-call' as const,
    toolCallId,
    toolName,
    input: JSON.stringify(input),
  })),
  finishReason: { unified: 'tool-calls', raw: undefined },
  usage,
  warnings: [],
});
const text = (value: string): LanguageModelV3GenerateResult => ({
  content: [{ type: 'text', text: value }],
  finishReason: { unified: 'stop', raw: undefined },
  usage,
  warnings: [],
});
const model = new MockLanguageModelV3({
  doGenerate: [
    toolCalls(['call_1', 'readFile', { path: 'notes.txt' }], ['call_2', 'deleteFile', { path: 'notes.txt' }]),
    toolCalls(['call_3', 'sendEmail', { to: 'alice', body: 'the notes' }]),
    text('Read the notes and emailed them to Alice; deleting them was not allowed.'),
  ],
});

// 4. The loop. It stops at the email with a tool-approval-request.
const messages: ModelMessage[] = [
  { role: 'user', content: 'Read notes.txt, delete it, and email it to Alice.' },
];
let result = await generateText({ model, tools, messages, stopWhen: stepCountIs(10) });
show(result);

const requests = result.content.filter((part) => part.type === 'tool-approval-request');
if (requests.length > 0) {
  // Wait for the human's decision in Mandate, then answer the SDK's request and go on.
  // Mandate decides again when the call runs: approving here alone lets nothing through.
  messages.push(...result.response.messages);
  for (const request of requests) {
    const approvalId = pending.get(request.toolCall.toolCallId);
    const status = approvalId ? await client.waitForApproval(approvalId, approvalWaitSeconds) : 'unknown';
    console.log(`approval: ${status}`);
    messages.push({
      role: 'tool',
      content: [
        { type: 'tool-approval-response', approvalId: request.approvalId, approved: status === 'approved' },
      ],
    });
  }
  result = await generateText({ model, tools, messages, stopWhen: stepCountIs(10) });
  // The approved calls ran before the first step of this call: their results open its messages.
  for (const message of result.response.messages)
    if (message.role === 'tool')
      for (const part of message.content)
        if (part.type === 'tool-result') console.log(`${part.toolName}: ${JSON.stringify(part.output)}`);
  show(result);
}
console.log(`model: ${result.text}`);

/** What each tool call gave back: a result, or the error the model read. */
function show(run: typeof result): void {
  for (const step of run.steps)
    for (const part of step.content) {
      if (part.type === 'tool-result') console.log(`${part.toolName}: ${JSON.stringify(part.output)}`);
      if (part.type === 'tool-error')
        console.log(`${part.toolName}: error: ${(part.error as Error).message}`);
    }
}
