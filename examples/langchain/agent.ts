/**
 * A LangChain `createAgent` loop whose tool calls Mandate guards through agent middleware. The
 * model is LangChain's own `fakeModel()` with a fixed script (no API key, no network): it reads a
 * file (allowed), deletes it (denied: out of scope) and emails Alice (approval_required: the run
 * pauses with a LangGraph interrupt carrying Mandate's approval id; once a human approved it in
 * Mandate, the run resumes and the email goes).
 */
import { AIMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { Command, MemorySaver } from '@langchain/langgraph';
import { type MandateInterrupt, mandateMiddleware } from '@mandate/sdk/langchain';
import { createAgent, tool } from 'langchain';
import { z } from 'zod';
import { approvalWaitSeconds, clientFromEnv } from '../shared/env.js';

const client = clientFromEnv();

// 1. The tools, exactly as LangChain defines them.
const readFile = tool(async ({ path }) => `(contents of ${path})`, {
  name: 'read_file',
  description: 'Read a file',
  schema: z.object({ path: z.string() }),
});
const deleteFile = tool(async ({ path }) => `deleted ${path}`, {
  name: 'delete_file',
  description: 'Delete a file',
  schema: z.object({ path: z.string() }),
});
const sendEmail = tool(async ({ to }) => `sent to ${to}`, {
  name: 'send_email',
  description: 'Send an email',
  schema: z.object({ to: z.string(), body: z.string() }),
});

// 2. A scripted model standing in for a real one.
const model = fakeModel()
  .respondWithTools([
    { name: 'read_file', args: { path: 'notes.txt' }, id: 'call_1' },
    { name: 'delete_file', args: { path: 'notes.txt' }, id: 'call_2' },
  ])
  .respondWithTools([{ name: 'send_email', args: { to: 'alice', body: 'the notes' }, id: 'call_3' }])
  .respond(new AIMessage('Read the notes and emailed them to Alice; deleting them was not allowed.'));

// 3. The agent; the middleware asks Mandate before every tool call (list it last).
const agent = createAgent({
  model,
  tools: [readFile, deleteFile, sendEmail],
  middleware: [
    mandateMiddleware(client, {
      read_file: ({ path }: { path: string }) => ({
        action: 'files.read',
        resource: { type: 'file', id: path },
      }),
      delete_file: ({ path }: { path: string }) => ({
        action: 'files.delete',
        resource: { type: 'file', id: path },
      }),
      send_email: ({ to, body }: { to: string; body: string }) => ({
        action: 'email.send',
        resource: { type: 'mailbox', id: to },
        arguments: { body },
      }),
    }),
  ],
  checkpointer: new MemorySaver(), // approvals pause the run; a checkpointer keeps it
});

// 4. The run. It pauses at the email.
const thread = { configurable: { thread_id: 'example' } };
let result = await agent.invoke(
  { messages: [{ role: 'user', content: 'Read notes.txt, delete it, and email it to Alice.' }] },
  thread,
);
for (let paused = pausedOn(result); paused; paused = pausedOn(result)) {
  console.log(
    `${paused.toolCall.name} needs a human: run \`mandate approvals approve ${paused.approvalId}\``,
  );
  const status = await client.waitForApproval(paused.approvalId, approvalWaitSeconds);
  console.log(`approval: ${status}`);
  // Mandate decides again when the call runs: resuming alone lets nothing through.
  result = await agent.invoke(new Command({ resume: { approved: status === 'approved' } }), thread);
}
for (const message of result.messages)
  if (ToolMessage.isInstance(message)) console.log(`${message.name}: ${message.content}`);
console.log(`model: ${result.messages.at(-1)?.content}`);

function pausedOn(state: Record<string, unknown>): MandateInterrupt | undefined {
  const interrupts = state.__interrupt__ as Array<{ value: unknown }> | undefined;
  const value = interrupts?.[0]?.value as MandateInterrupt | undefined;
  return value?.type === 'mandate_approval' ? value : undefined;
}
