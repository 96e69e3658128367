/**
 * An OpenAI Agents SDK run whose function tools Mandate guards. The model is a scripted `Model`
 * (no API key, no network, tracing off): it reads a file (allowed), deletes it (denied: out of
 * scope) and emails Alice (approval_required: the run stops with an interruption carrying
 * Mandate's approval id; once a human approved it in Mandate, the run resumes and the email goes).
 */
import { mandateApproval, mandateTools } from '@mandate/sdk/openai-agents';
import {
  Agent,
  type AgentOutputItem,
  type Model,
  type ModelResponse,
  Runner,
  type StreamEvent,
  setTracingDisabled,
  tool,
  Usage,
} from '@openai/agents';
import { z } from 'zod';
import { approvalWaitSeconds, clientFromEnv } from '../shared/env.js';

setTracingDisabled(true);
const client = clientFromEnv();

// 1. The tools, exactly as the Agents SDK defines them.
const readFile = tool({
  name: 'read_file',
  description: 'Read a file',
  parameters: z.object({ path: z.string() }),
  execute: async ({ path }) => `(contents of ${path})`,
});
const deleteFile = tool({
  name: 'delete_file',
  description: 'Delete a file',
  parameters: z.object({ path: z.string() }),
  execute: async ({ path }) => `deleted ${path}`,
});
const sendEmail = tool({
  name: 'send_email',
  description: 'Send an email',
  parameters: z.object({ to: z.string(), body: z.string() }),
  execute: async ({ to }) => `sent to ${to}`,
});

// 2. Guarded: Mandate decides each call (needsApproval asks it; the call runs only on an allow).
const tools = mandateTools(client, [readFile, deleteFile, sendEmail], {
  read_file: ({ path }: { path: string }) => ({ action: 'files.read', resource: { type: 'file', id: path } }),
  delete_file: ({ path }: { path: string }) => ({
    action: 'files.delete',
    resource: { type: 'file', id: path },
  }),
  send_email: ({ to, body }: { to: string; body: string }) => ({
    action: 'email.send',
    resource: { type: 'mailbox', id: to },
    arguments: { body },
  }),
});

// 3. A scripted model standing in for a real one.
class ScriptedModel implements Model {
  constructor(private readonly script: AgentOutputItem[][]) {}
  async getResponse(): Promise<ModelResponse> {
    return { usage: new Usage(), output: this.script.shift() ?? [] };
  }
  // biome-ignore lint/correctness/useYield: this model does not stream
  async *getStreamedResponse(): AsyncIterable<StreamEvent> {
    throw new Error('not streamed');
  }
}
const call = (callId: string, name: string, args: unknown): AgentOutputItem => ({
  type: 'function_call',
  callId,
  name,
  arguments: JSON.stringify(args),
  status: 'completed',
});
const model = new ScriptedModel([
  [call('call_1', 'read_file', { path: 'notes.txt' }), call('call_2', 'delete_file', { path: 'notes.txt' })],
  [call('call_3', 'send_email', { to: 'alice', body: 'the notes' })],
  [
    {
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [
        {
          type: 'output_text',
          text: 'Read the notes and emailed them to Alice; deleting them was not allowed.',
        },
      ],
    },
  ],
]);

// 4. The run. It stops at the email with an interruption.
const agent = new Agent({ name: 'files', instructions: 'Tidy the shared files.', model, tools });
const runner = new Runner({ tracingDisabled: true });
let result = await runner.run(agent, 'Read notes.txt, delete it, and email it to Alice.');
while (result.interruptions.length > 0) {
  for (const interruption of result.interruptions) {
    const pending = mandateApproval(interruption);
    if (!pending) {
      result.state.reject(interruption);
      continue;
    }
    console.log(
      `${interruption.name} needs a human: run \`mandate approvals approve ${pending.approvalId}\``,
    );
    const status = await client.waitForApproval(pending.approvalId, approvalWaitSeconds);
    console.log(`approval: ${status}`);
    // Mandate decides again when the call runs: approving the interruption alone lets nothing through.
    if (status === 'approved') result.state.approve(interruption);
    else result.state.reject(interruption);
  }
  result = await runner.run(agent, result.state);
}
for (const item of result.newItems)
  if (item.type === 'tool_call_output_item')
    console.log(`${(item.rawItem as { name: string }).name}: ${item.output}`);
console.log(`model: ${result.finalOutput}`);
