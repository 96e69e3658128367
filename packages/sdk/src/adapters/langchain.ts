/**
 * Mandate for LangChain.js (`langchain@1`, `createAgent`): `@mandate/sdk/langchain`.
 *
 * ```ts
 * const agent = createAgent({
 *   model,
 *   tools: [readFile, sendEmail],
 *   middleware: [
 *     mandateMiddleware(client, {
 *       read_file: ({ path }) => ({ action: 'files.read', resource: { type: 'file', id: path } }),
 *       send_email: ({ to }) => ({ action: 'email.send', resource: { type: 'mailbox', id: to } }),
 *     }),
 *   ],
 *   checkpointer: new MemorySaver(), // for approvals (LangGraph interrupts)
 * });
 * ```
 *
 * The middleware wraps every tool call of the agent (`wrapToolCall`): a call runs only after
 * Mandate allowed exactly it. A deny (or Mandate unreachable, or a tool with no action request)
 * becomes the call's ToolMessage with `status: 'error'` naming the reason code; the tool never
 * runs. approval_required pauses the run with a LangGraph interrupt carrying Mandate's approval
 * id; once a human approved it in Mandate, resume with `new Command({ resume: { approved: true } })`
 * and the call goes through (Mandate is asked again and decides). List the middleware last, so
 * that no other middleware changes a call after Mandate decided it.
 */
import { ToolMessage } from '@langchain/core/messages';
import { createMiddleware } from 'langchain';
import type { AgentClient } from '../agent/agent-client.js';
import {
  guardCall,
  type MandateAdapterOptions,
  MandateToolError,
  requestFor,
  specOf,
  type ToolRequest,
} from './common.js';

export {
  type MandateAdapterOptions,
  MandateToolError,
  type MandateToolSpec,
  type PendingApproval,
  type ToolRequest,
  type ToRequest,
} from './common.js';

export interface MandateMiddlewareOptions extends MandateAdapterOptions {
  /** Tools that run without asking Mandate (a calculator, say). Any other tool needs a request. */
  unguarded?: string[];
  /**
   * How approval_required reaches the app:
   * - `'interrupt'` (default): the run pauses with a LangGraph interrupt whose value is a
   *   {@link MandateInterrupt} (needs a checkpointer; without one, the call gets an error result);
   * - `'error'`: the call waits up to `approvalWaitSeconds`, then gets an error result naming the approval id.
   */
  approvals?: 'interrupt' | 'error';
}

/** The value of the interrupt a pending Mandate approval raises (`result.__interrupt__[0].value`). */
export interface MandateInterrupt {
  type: 'mandate_approval';
  approvalId: string;
  expiresAt: string;
  toolCall: { name: string; id?: string; args: Record<string, unknown> };
}

/** What the app resumes a Mandate interrupt with: `approved: false` gives up the call. */
export interface MandateResume {
  approved: boolean;
  /** Told to the model when the app gives the call up. */
  message?: string;
}

/**
 * The agent middleware that asks Mandate before every tool call; `requests` names the action
 * request of each tool by its name.
 */
export function mandateMiddleware(
  client: AgentClient,
  requests: Record<string, ToolRequest<any>>,
  options: MandateMiddlewareOptions = {},
) {
  const specs = new Map(Object.entries(requests).map(([name, given]) => [name, specOf(name, given)]));
  const unguarded = new Set(options.unguarded ?? []);
  return createMiddleware({
    name: 'MandateMiddleware',
    wrapToolCall: async (request, handler) => {
      const { toolCall } = request;
      if (unguarded.has(toolCall.name)) return handler(request);
      const answer = (text: string) =>
        new ToolMessage({
          content: text,
          tool_call_id: toolCall.id ?? '',
          name: toolCall.name,
          status: 'error',
        });
      const spec = specs.get(toolCall.name);
      if (!spec) return answer(`Tool "${toolCall.name}" has no Mandate action request, so it was not run.`);
      let pending: MandateToolError;
      try {
        const action = await requestFor(toolCall.name, spec, toolCall.args);
        return await guardCall(client, toolCall.name, toolCall.id, action, spec, options, () =>
          handler(request),
        );
      } catch (error) {
        if (!(error instanceof MandateToolError)) throw error; // the tool's own failure, as LangChain handles it
        if (error.code !== 'approval_required' || options.approvals === 'error' || !request.runtime.interrupt)
          return answer(error.message);
        pending = error;
      }
      const value: MandateInterrupt = {
        type: 'mandate_approval',
        approvalId: pending.approvalId as string,
        expiresAt: pending.expiresAt as string,
        toolCall: { name: toolCall.name, ...(toolCall.id ? { id: toolCall.id } : {}), args: toolCall.args },
      };
      let resumed: unknown;
      try {
        resumed = request.runtime.interrupt(value);
      } catch (error) {
        if (isGraphInterrupt(error)) throw error; // the pause itself
        return answer(pending.message); // no checkpointer: the approval id as a result
      }
      // Resumed, and Mandate (asked again above) still has no human's approval.
      const reply = resumed as Partial<MandateResume> | undefined;
      if (reply?.approved === false)
        return answer(reply.message ?? 'The user declined this action; it was not run.');
      return answer(pending.message);
    },
  });
}

function isGraphInterrupt(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return name === 'GraphInterrupt' || name === 'NodeInterrupt';
}
