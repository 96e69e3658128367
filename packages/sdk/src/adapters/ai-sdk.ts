/**
 * Mandate for the Vercel AI SDK (`ai@6`): `@mandate/sdk/ai`.
 *
 * ```ts
 * const tools = mandateTools(client, { readFile, sendEmail }, {
 *   readFile: ({ path }) => ({ action: 'files.read', resource: { type: 'file', id: path } }),
 *   sendEmail: ({ to }) => ({ action: 'email.send', resource: { type: 'mailbox', id: to } }),
 * });
 * await generateText({ model, tools, prompt });
 * ```
 *
 * Each guarded tool keeps its type; its `execute` runs only after Mandate allowed that exact call.
 * A deny (or Mandate being unreachable) reaches the model as a tool error naming the reason
 * code. approval_required uses the SDK's own tool approval flow: the call stops with a
 * `tool-approval-request`; once a human has approved it in Mandate, answer the request with
 * `approved: true` and call the model again, and the call goes through (Mandate is asked again
 * then, and is the one that decides).
 */
import type { InferToolInput, ModelMessage, Tool, ToolExecutionOptions, ToolSet } from 'ai';
import type { AgentClient } from '../agent/agent-client.js';
import type { ActionRequestInput } from '../agent-credentials.js';
import {
  authorizeOptions,
  guardCall,
  type MandateAdapterOptions,
  Preflight,
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

export interface MandateAiOptions extends MandateAdapterOptions {
  /**
   * How approval_required reaches the app:
   * - `'sdk'` (default): the tool gets a `needsApproval` that asks Mandate, so the call stops
   *   with the SDK's `tool-approval-request` (and `onApprovalRequired` gets Mandate's approval id);
   * - `'error'`: no `needsApproval`; the call waits up to `approvalWaitSeconds`, then fails with a
   *   tool error naming the approval id, which the model sees.
   */
  approvals?: 'sdk' | 'error';
}

export interface MandateAiToolOptions extends MandateAiOptions {
  /** The tool's name in the tool set (for errors and `onApprovalRequired`). */
  name?: string;
}

/** The tool with its `execute` guarded by Mandate (and, for approvals, a `needsApproval` that asks it). */
export function withMandate<T extends Tool<any, any>>(
  client: AgentClient,
  tool: T,
  toRequest: ToolRequest<InferToolInput<T>>,
  options: MandateAiToolOptions = {},
): T {
  const name = options.name ?? 'tool';
  const spec = specOf(name, toRequest);
  const execute = tool.execute as ((input: unknown, options: ToolExecutionOptions) => unknown) | undefined;
  if (typeof execute !== 'function')
    throw new TypeError(
      `mandate: tool "${name}" has no execute function; the app runs it and must guard it itself`,
    );
  const preflight = options.approvals === 'error' ? undefined : new Preflight();
  const guarded: Tool<any, any> = {
    ...tool,
    execute: async (input: InferToolInput<T>, executeOptions: ToolExecutionOptions) => {
      const request = await requestFor(name, spec, input);
      return guardCall(
        client,
        name,
        executeOptions.toolCallId,
        request,
        spec,
        options,
        () => execute.call(tool, input, executeOptions),
        preflight,
      );
    },
  };
  if (preflight) {
    const own = tool.needsApproval;
    guarded.needsApproval = async (input: InferToolInput<T>, approvalOptions) => {
      // The SDK asks again when the app answered a tool-approval-request; the SDK's approval
      // stands, and Mandate decides when the call executes.
      if (answered(approvalOptions.messages, approvalOptions.toolCallId)) return true;
      if (own === true || (typeof own === 'function' && (await own(input, approvalOptions)))) return true;
      let request: ActionRequestInput;
      try {
        request = await requestFor(name, spec, input);
      } catch {
        return false; // execute fails the same way, closed
      }
      return preflight.needsApproval(
        client,
        name,
        approvalOptions.toolCallId,
        request,
        authorizeOptions(spec, options),
        options.onApprovalRequired,
      );
    };
  }
  return guarded as T;
}

/**
 * Guards every tool of a tool set; `requests` names the action request of each (a tool without
 * one is refused at once). Unguarded tools can be spread next to the result.
 */
export function mandateTools<TOOLS extends ToolSet>(
  client: AgentClient,
  tools: TOOLS,
  requests: { [K in keyof TOOLS]: ToolRequest<InferToolInput<TOOLS[K]>> },
  options: MandateAiOptions = {},
): TOOLS {
  const guarded: Record<string, Tool<any, any>> = {};
  for (const [name, tool] of Object.entries(tools)) {
    guarded[name] = withMandate(client, tool as Tool<any, any>, requests[name] as ToolRequest<any>, {
      ...options,
      name,
    });
  }
  return guarded as TOOLS;
}

/** Whether the messages hold the app's answer to an approval request of this tool call. */
function answered(messages: ModelMessage[] | undefined, toolCallId: string): boolean {
  const requested = new Set<string>();
  for (const message of messages ?? []) {
    if (message.role !== 'assistant' || typeof message.content === 'string') continue;
    for (const part of message.content)
      if (part.type === 'tool-approval-request' && part.toolCallId === toolCallId)
        requested.add(part.approvalId);
  }
  if (requested.size === 0) return false;
  for (const message of messages ?? []) {
    if (message.role !== 'tool') continue;
    for (const part of message.content)
      if (part.type === 'tool-approval-response' && requested.has(part.approvalId)) return true;
  }
  return false;
}
