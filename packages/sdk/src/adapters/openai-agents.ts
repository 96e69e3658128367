/**
 * Mandate for the OpenAI Agents SDK (`@openai/agents`): `@mandate/sdk/openai-agents`.
 *
 * ```ts
 * const agent = new Agent({
 *   name: 'files',
 *   tools: mandateTools(client, [readFile, sendEmail], {
 *     read_file: ({ path }) => ({ action: 'files.read', resource: { type: 'file', id: path } }),
 *     send_email: ({ to }) => ({ action: 'email.send', resource: { type: 'mailbox', id: to } }),
 *   }),
 * });
 * let result = await run(agent, 'email bob the notes');
 * for (const interruption of result.interruptions) {
 *   const pending = mandateApproval(interruption); // Mandate's approval id, for the human
 *   // … once a human approved it in Mandate:
 *   result.state.approve(interruption);
 * }
 * result = await run(agent, result.state);
 * ```
 *
 * Each guarded function tool keeps its type. Its `needsApproval` asks Mandate for the call: an
 * allow is kept for the call's execution (one decision per call), approval_required becomes the
 * SDK's interruption, and a deny (or Mandate unreachable) reaches the model as the tool's output
 * naming the reason code; the function never runs then. On resume the call is decided again by
 * Mandate, so approving the interruption alone does not let a call through that a human has not
 * approved in Mandate.
 */
import type { FunctionTool, RunContext, RunToolApprovalItem, ToolExecuteArgument } from '@openai/agents';
import type { AgentClient } from '../agent/agent-client.js';
import type { ActionRequestInput } from '../agent-credentials.js';
import {
  authorizeOptions,
  guardCall,
  type MandateAdapterOptions,
  MandateToolError,
  type PendingApproval,
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

type AnyFunctionTool = FunctionTool<any, any, any>;
type InputOf<T> = T extends FunctionTool<any, infer P, any> ? ToolExecuteArgument<P> : unknown;

/** Mandate's pending approvals of this process, by the tool call they stopped (newest kept). */
const pendingByCall = new Map<string, PendingApproval>();
const MAX_PENDING = 1000;

function remember(pending: PendingApproval): void {
  if (!pending.toolCallId) return;
  pendingByCall.delete(pending.toolCallId);
  pendingByCall.set(pending.toolCallId, pending);
  while (pendingByCall.size > MAX_PENDING) pendingByCall.delete(pendingByCall.keys().next().value as string);
}

/**
 * The Mandate approval an interruption waits for (its `approvalId` is what a human approves with
 * `mandate approvals approve <id>`), or undefined for an interruption Mandate did not cause.
 * Known in the process that ran the call; elsewhere use `onApprovalRequired`.
 */
export function mandateApproval(interruption: RunToolApprovalItem): PendingApproval | undefined {
  const callId = (interruption.rawItem as { callId?: string }).callId;
  return callId === undefined ? undefined : pendingByCall.get(callId);
}

/** The function tool with its calls decided by Mandate (see the module's description). */
export function withMandate<T extends AnyFunctionTool>(
  client: AgentClient,
  tool: T,
  toRequest: ToolRequest<InputOf<T>>,
  options: MandateAdapterOptions = {},
): T {
  const name = tool.name;
  if (tool.type !== 'function' || typeof tool.invoke !== 'function')
    throw new TypeError(`mandate: "${name}" is not a function tool`);
  const spec = specOf(name, toRequest);
  const preflight = new Preflight();
  const onApprovalRequired = (pending: PendingApproval) => {
    remember(pending);
    options.onApprovalRequired?.(pending);
  };
  const settings = { ...options, onApprovalRequired };
  const failure = async (runContext: RunContext<any>, error: MandateToolError, details: unknown) =>
    typeof tool.errorFunction === 'function'
      ? tool.errorFunction(runContext, error, details as any)
      : error.message;

  return {
    ...tool,
    needsApproval: async (runContext: RunContext, input: InputOf<T>, callId?: string) => {
      // The developer's own human-in-the-loop comes first; Mandate decides when the call runs.
      if (await tool.needsApproval(runContext, input as any, callId)) return true;
      let request: ActionRequestInput;
      try {
        request = await requestFor(name, spec, input);
      } catch {
        return false; // invoke fails the same way, closed
      }
      return preflight.needsApproval(
        client,
        name,
        callId ?? '',
        request,
        authorizeOptions(spec, options),
        onApprovalRequired,
      );
    },
    invoke: async (runContext: RunContext<any>, input: string, details?: Parameters<T['invoke']>[2]) => {
      let args: unknown;
      try {
        args = input.trim() === '' ? {} : JSON.parse(input);
      } catch (error) {
        // Not JSON: the tool's own parser would refuse it too; it is never handed on unchecked.
        return failure(runContext, new MandateToolError(name, error), details);
      }
      try {
        const request = await requestFor(name, spec, args as InputOf<T>);
        return await guardCall(
          client,
          name,
          details?.toolCall?.callId,
          request,
          spec,
          settings,
          () => tool.invoke(runContext, input, details),
          preflight,
        );
      } catch (error) {
        if (error instanceof MandateToolError) return failure(runContext, error, details);
        throw error;
      }
    },
  } as T;
}

/**
 * Guards function tools by name: `requests` maps each tool's name to its action request (a tool
 * without one is refused at once). Other tools can be listed next to the result.
 */
export function mandateTools<T extends readonly AnyFunctionTool[]>(
  client: AgentClient,
  tools: T,
  requests: Record<string, ToolRequest<any>>,
  options: MandateAdapterOptions = {},
): T {
  return tools.map((tool) =>
    withMandate(client, tool, requests[tool.name] as ToolRequest<any>, options),
  ) as unknown as T;
}
