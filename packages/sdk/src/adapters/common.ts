/**
 * What the three framework adapters share: how a tool call becomes an action request, the text a
 * model sees when Mandate does not allow a call, and running an allowed call with its outcome
 * recorded. No framework is imported here.
 */

import type { AgentClient, Allowed, AuthorizeOptions } from '../agent/agent-client.js';
import type { ActionRequestInput } from '../agent-credentials.js';
import { MandateApprovalPendingError, MandateDeniedError } from '../errors.js';

/** Builds the action request Mandate decides from a tool call's input. Throwing fails the call closed. */
export type ToRequest<I> = (input: I) => ActionRequestInput | Promise<ActionRequestInput>;

/** Per-tool settings, where the plain function is not enough. */
export interface MandateToolSpec<I> {
  request: ToRequest<I>;
  /** The tool returns outside content (a fetch, a browse, an email): later decisions carry the untrusted-input signal. */
  marksUntrusted?: boolean;
  /** This tool's calls always carry the untrusted-input signal. */
  untrusted?: boolean;
  /** Wait this long for a human on approval_required (overrides the client's setting). */
  approvalWaitSeconds?: number;
}

/** A tool's settings apart from its request builder. */
export type ToolSettings = Omit<MandateToolSpec<unknown>, 'request'>;

/** How one tool's calls become action requests: a function, or a function with settings. */
export type ToolRequest<I> = ToRequest<I> | MandateToolSpec<I>;

/** An approval request Mandate filed for a tool call, while a human has not decided it. */
export interface PendingApproval {
  /** Mandate's approval id (`apr_…`): approve it with `mandate approvals approve <id>` or the API. */
  approvalId: string;
  expiresAt: string;
  decisionId: string;
  toolName: string;
  /** The framework's id of the tool call (AI SDK toolCallId, OpenAI callId, LangChain tool_call id). */
  toolCallId: string | undefined;
  request: ActionRequestInput;
}

/** Settings for every guarded tool of one adapter call. */
export interface MandateAdapterOptions {
  /** Every call carries the untrusted-input signal. */
  untrusted?: boolean;
  /** Wait this long for a human on approval_required (default: the client's approvalWaitSeconds). */
  approvalWaitSeconds?: number;
  /** Called when Mandate answered approval_required for a tool call: show the approval id to a human. */
  onApprovalRequired?: (pending: PendingApproval) => void;
}

/**
 * Why a guarded tool did not run, as the model sees it: the reason code and nothing of the policy.
 * `code` is the decision's reason code (`out_of_scope`, `approval_denied`, …), `approval_required`
 * while a human has not decided, or `mandate_unavailable` when Mandate could not be asked (the
 * original error is `cause`).
 */
export class MandateToolError extends Error {
  override readonly name = 'MandateToolError';
  readonly code: string;
  /** For approval_required: the approval a human decides, and until when. */
  readonly approvalId?: string;
  readonly expiresAt?: string;

  constructor(
    readonly toolName: string,
    cause: unknown,
  ) {
    const { code, message } = describe(cause);
    super(message, { cause });
    this.code = code;
    if (cause instanceof MandateApprovalPendingError) {
      this.approvalId = cause.approvalId;
      this.expiresAt = cause.expiresAt;
    }
  }
}

function describe(error: unknown): { code: string; message: string } {
  if (error instanceof MandateDeniedError)
    return {
      code: error.code,
      message: `Mandate denied this action (${error.code}); it was not run. Do not retry it unchanged.`,
    };
  if (error instanceof MandateApprovalPendingError)
    return {
      code: 'approval_required',
      message:
        `This action needs a human's approval in Mandate (approval ${error.approvalId}, ` +
        `open until ${error.expiresAt}); it was not run. It can be retried once a human has approved it.`,
    };
  return {
    code: 'mandate_unavailable',
    message: 'Mandate could not be asked about this action, so it was not run.',
  };
}

/** The request builder and settings of one tool, whichever form the developer gave. */
export function specOf<I>(toolName: string, given: ToolRequest<I> | undefined): MandateToolSpec<I> {
  if (typeof given === 'function') return { request: given };
  if (given && typeof given.request === 'function') return given;
  throw new TypeError(
    `mandate: no action request for tool "${toolName}" (give a function input => ActionRequest)`,
  );
}

export function authorizeOptions(spec: ToolSettings, options: MandateAdapterOptions): AuthorizeOptions {
  const wait = spec.approvalWaitSeconds ?? options.approvalWaitSeconds;
  return {
    ...(spec.untrusted || options.untrusted ? { untrusted: true } : {}),
    ...(wait !== undefined ? { approvalWaitSeconds: wait } : {}),
  };
}

/** Builds the request; a builder that throws is a failure to ask Mandate (the tool does not run). */
export async function requestFor<I>(
  toolName: string,
  spec: MandateToolSpec<I>,
  input: I,
): Promise<ActionRequestInput> {
  try {
    return await spec.request(input);
  } catch (error) {
    throw new MandateToolError(toolName, error);
  }
}

/** Runs an allowed call and records its outcome (AgentClient.runAllowed). */
export function runAllowed<R>(
  client: AgentClient,
  allowed: Allowed,
  action: () => Promise<R> | R,
  marksUntrusted: boolean | undefined,
): Promise<R> {
  return client.runAllowed(allowed, action, { marksUntrusted });
}

/**
 * Asks Mandate before a framework's approval hook decides whether to pause: an allow or a
 * failure is kept for the same tool call's execution (one decision per call, never two),
 * approval_required is reported and answers true (pause for the human).
 */
export class Preflight {
  private readonly kept = new Map<string, { key: string; at: number; outcome: Allowed | MandateToolError }>();

  constructor(private readonly ttlMs = 120_000) {}

  /** true: Mandate wants a human's approval (the framework should pause this call). */
  async needsApproval(
    client: AgentClient,
    toolName: string,
    toolCallId: string,
    request: ActionRequestInput,
    options: AuthorizeOptions,
    onApprovalRequired: MandateAdapterOptions['onApprovalRequired'],
  ): Promise<boolean> {
    this.sweep();
    try {
      const allowed = await client.authorize(request, { ...options, approvalWaitSeconds: 0 });
      this.kept.set(toolCallId, { key: keyOf(request), at: Date.now(), outcome: allowed });
      return false;
    } catch (error) {
      if (error instanceof MandateApprovalPendingError) {
        onApprovalRequired?.({
          approvalId: error.approvalId,
          expiresAt: error.expiresAt,
          decisionId: error.decisionId,
          toolName,
          toolCallId,
          request,
        });
        return true;
      }
      this.kept.set(toolCallId, {
        key: keyOf(request),
        at: Date.now(),
        outcome: new MandateToolError(toolName, error),
      });
      return false;
    }
  }

  /** The preflight's answer for exactly this call and request, once; undefined when there is none. */
  take(toolCallId: string | undefined, request: ActionRequestInput): Allowed | MandateToolError | undefined {
    if (toolCallId === undefined) return undefined;
    const entry = this.kept.get(toolCallId);
    if (!entry) return undefined;
    this.kept.delete(toolCallId);
    if (entry.key !== keyOf(request) || Date.now() - entry.at > this.ttlMs) return undefined;
    return entry.outcome;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.kept) if (now - entry.at > this.ttlMs) this.kept.delete(id);
  }
}

/**
 * Authorizes a call (or takes its preflight answer) and runs it. Anything but an allow throws a
 * MandateToolError and `action` never runs.
 */
export async function guardCall<R>(
  client: AgentClient,
  toolName: string,
  toolCallId: string | undefined,
  request: ActionRequestInput,
  spec: ToolSettings,
  options: MandateAdapterOptions,
  action: () => Promise<R> | R,
  preflight?: Preflight,
): Promise<R> {
  let allowed = preflight?.take(toolCallId, request);
  if (allowed instanceof MandateToolError) throw allowed;
  if (allowed === undefined) {
    try {
      allowed = await client.authorize(request, authorizeOptions(spec, options));
    } catch (error) {
      if (error instanceof MandateApprovalPendingError)
        options.onApprovalRequired?.({
          approvalId: error.approvalId,
          expiresAt: error.expiresAt,
          decisionId: error.decisionId,
          toolName,
          toolCallId,
          request,
        });
      throw new MandateToolError(toolName, error);
    }
  }
  return runAllowed(client, allowed, action, spec.marksUntrusted);
}

/** A stable key of a request (sorted keys), to tell that a kept answer is for exactly this one. */
function keyOf(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
