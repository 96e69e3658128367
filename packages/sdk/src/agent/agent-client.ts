import type { RequestedScope } from '@mandate/core';
import {
  type ActionRequestInput,
  AgentCredentials,
  type DecisionAnswer,
  type IssuedToken,
} from '../agent-credentials.js';
import {
  MandateApiError,
  MandateApprovalPendingError,
  MandateConnectionError,
  MandateDeniedError,
  MandateProtocolError,
} from '../errors.js';
import { parseDecision } from './decision-answer.js';
import { loadPrivateKey, type PrivateKeyInput } from './private-key.js';
import { TokenKeeper } from './token-keeper.js';

export interface AgentClientOptions {
  /** The Mandate server's public URL (its token issuer). */
  url: string;
  agentId: string;
  /** The agent's private key: a JWK, PKCS#8 PEM text, or the path of a file holding either. */
  privateKey: PrivateKeyInput;
  /**
   * The delegation the agent acts under (token exchange, RFC 8693). Without one, the agent's
   * standing delegation from its owner (`client_credentials`).
   */
  delegation?: string;
  /** Narrow every token the client obtains (OAuth scope, RFC 9396 details, audience, resource). */
  token?: { scope?: string[]; narrow?: RequestedScope; audience?: string[]; resource?: string[] };
  /** Each call to Mandate; past it the call fails and the guarded function does not run (default 10 s). */
  timeoutMs?: number;
  /** How long authorize()/guard() wait for a human on approval_required (default 0: do not wait). */
  approvalWaitSeconds?: number;
  /** Renew the token this long before it expires (default a third of its lifetime, at most 60 s). */
  renewBeforeMs?: number;
  /** Milliseconds since the epoch; a fake clock in tests. */
  now?: () => number;
  fetch?: typeof fetch;
  /** Called when an outcome could not be recorded (the action already ran); default: a console warning. */
  onOutcomeError?: (error: unknown, decisionId: string) => void;
}

export interface CheckOptions {
  /** This call follows outside content the agent read (the risk step's untrusted-input signal). */
  untrusted?: boolean;
}

export interface AuthorizeOptions extends CheckOptions {
  /** Overrides the client's approvalWaitSeconds for this call. */
  approvalWaitSeconds?: number;
}

export interface GuardOptions extends AuthorizeOptions {
  /** The function returns outside content (a fetch, a browse, an email): later calls carry the untrusted-input signal. */
  marksUntrusted?: boolean;
}

export interface OutcomeReport {
  status: 'success' | 'error';
  durationMs?: number;
  resultDigest?: string;
  error?: string;
}

/** An allowed action: run it, then report what happened (once). */
export interface Allowed {
  decision: DecisionAnswer;
  report(outcome: OutcomeReport): Promise<void>;
}

/**
 * What an agent holds to act under Mandate: its identity and key, a key-bound token it keeps
 * fresh, and the guard that asks before every action. Fails closed: any failure to get an allow
 * (Mandate unreachable, a timeout, a 5xx, a malformed answer, a deny) throws, and a guarded
 * function never runs unless the answer was exactly an allow.
 */
export class AgentClient {
  readonly agentId: string;
  private readonly credentials: Promise<AgentCredentials>;
  private readonly tokens: TokenKeeper;
  private readonly now: () => number;
  private sticky = false;

  constructor(private readonly options: AgentClientOptions) {
    if (!options?.url || !options.agentId || !options.privateKey)
      throw new TypeError('createAgentClient needs url, agentId and privateKey');
    this.agentId = options.agentId;
    this.now = options.now ?? Date.now;
    this.credentials = loadPrivateKey(options.privateKey).then(
      (privateJwk) =>
        new AgentCredentials({
          url: options.url,
          agentId: options.agentId,
          privateJwk,
          fetch: options.fetch,
          timeoutMs: options.timeoutMs ?? 10_000,
        }),
    );
    // A key that cannot be read fails the first call, not an unhandled rejection now.
    this.credentials.catch(() => undefined);
    this.tokens = new TokenKeeper({
      now: this.now,
      renewBeforeMs: options.renewBeforeMs,
      obtain: async () => {
        const credentials = await this.credentials;
        const request = { ...options.token, dpop: true };
        return options.delegation === undefined
          ? credentials.clientCredentials(request)
          : credentials.exchange({ ...request, delegation: options.delegation });
      },
    });
  }

  /** The agent read outside content: every later decision carries the untrusted-input signal. */
  markUntrusted(): void {
    this.sticky = true;
  }

  get untrusted(): boolean {
    return this.sticky;
  }

  /** The current key-bound token (renewed before it expires). */
  token(): Promise<IssuedToken> {
    return this.tokens.current();
  }

  /** Asks Mandate about one action and returns its decision as it is (allow, deny or approval_required). */
  async check(request: ActionRequestInput, options: CheckOptions = {}): Promise<DecisionAnswer> {
    const credentials = await this.credentials;
    const token = await this.tokens.current();
    const untrusted = this.sticky || options.untrusted === true || request.signals?.untrustedInput === true;
    let answer: unknown;
    try {
      answer = await credentials.decide(token, {
        ...request,
        ...(untrusted ? { signals: { ...request.signals, untrustedInput: true } } : {}),
      });
    } catch (error) {
      // A refused token is dropped so that the next call obtains a new one.
      if (error instanceof MandateApiError && error.status === 401) this.tokens.forget(token);
      throw failure(error);
    }
    return parseDecision(answer);
  }

  /**
   * Resolves only on an allow. On approval_required, waits for the human up to the configured
   * time and asks once more; otherwise throws MandateDeniedError (with the reason code) or
   * MandateApprovalPendingError (with the approval id). Transport failures throw too.
   */
  async authorize(request: ActionRequestInput, options: AuthorizeOptions = {}): Promise<Allowed> {
    let decision = await this.check(request, options);
    if (decision.decision === 'approval_required') {
      const waitSeconds = options.approvalWaitSeconds ?? this.options.approvalWaitSeconds ?? 0;
      const approval = decision.approval as NonNullable<DecisionAnswer['approval']>;
      const status = waitSeconds > 0 ? await this.waitForApproval(approval.id, waitSeconds) : 'pending';
      if (status === 'approved') decision = await this.check(request, options);
      else if (status === 'denied' || status === 'expired')
        throw new MandateDeniedError(`approval_${status}`, decision.decisionId, decision.reasons);
      if (decision.decision === 'approval_required') {
        const pending = decision.approval as NonNullable<DecisionAnswer['approval']>;
        throw new MandateApprovalPendingError(pending.id, pending.expiresAt, decision.decisionId);
      }
    }
    if (decision.decision !== 'allow') {
      throw new MandateDeniedError(
        decision.reasons[0]?.code ?? 'denied',
        decision.decisionId,
        decision.reasons,
      );
    }
    const allowed = decision;
    let reported = false;
    return {
      decision: allowed,
      report: async (outcome) => {
        if (reported) return;
        reported = true;
        try {
          const credentials = await this.credentials;
          await credentials.outcome(await this.tokens.current(), allowed.decisionId, outcome);
        } catch (error) {
          (this.options.onOutcomeError ?? warnOutcomeLost)(error, allowed.decisionId);
        }
      },
    };
  }

  /** Authorizes `request`, runs `action` only on an allow, and reports its outcome. */
  async run<R>(
    request: ActionRequestInput,
    action: () => Promise<R> | R,
    options: GuardOptions = {},
  ): Promise<R> {
    return this.runAllowed(await this.authorize(request, options), action, options);
  }

  /**
   * Runs an action Mandate has allowed and reports its outcome against that decision (status,
   * duration, result digest); an action marked as returning outside content marks the agent
   * untrusted even when it failed. The framework adapters call this after their own authorize.
   */
  async runAllowed<R>(
    allowed: Allowed,
    action: () => Promise<R> | R,
    options: { marksUntrusted?: boolean } = {},
  ): Promise<R> {
    const started = this.now();
    try {
      const result = await action();
      await allowed.report({
        status: 'success',
        durationMs: Math.max(0, Math.round(this.now() - started)),
        ...(await digestOf(result)),
      });
      return result;
    } catch (error) {
      await allowed.report({
        status: 'error',
        durationMs: Math.max(0, Math.round(this.now() - started)),
        error: String((error as Error)?.message ?? error).slice(0, 1000),
      });
      throw error;
    } finally {
      if (options.marksUntrusted) this.markUntrusted();
    }
  }

  /**
   * Wraps an async function: each call builds its action request from the arguments, asks
   * Mandate, runs `fn` only on an allow and reports the outcome. Any other answer throws.
   */
  guard<A extends unknown[], R>(
    fn: (...args: A) => Promise<R> | R,
    toRequest: (...args: A) => ActionRequestInput,
    options: GuardOptions = {},
  ): (...args: A) => Promise<R> {
    return async (...args: A) => this.run(toRequest(...args), () => fn(...args), options);
  }

  /**
   * Waits (long-poll, in rounds of at most 60 s) while the approval is pending, up to
   * `waitSeconds`; returns its status then (`pending` if no human decided in time).
   */
  async waitForApproval(approvalId: string, waitSeconds: number): Promise<string> {
    const credentials = await this.credentials;
    const deadline = this.now() + waitSeconds * 1000;
    for (;;) {
      const left = Math.ceil((deadline - this.now()) / 1000);
      let status: string;
      try {
        ({ status } = await credentials.approvalStatus(
          await this.tokens.current(),
          approvalId,
          Math.max(0, Math.min(60, left)),
        ));
      } catch (error) {
        throw failure(error);
      }
      if (status !== 'pending' || left <= 0 || this.now() >= deadline) return status;
    }
  }
}

/** `createAgentClient(options)`: an AgentClient. */
export function createAgentClient(options: AgentClientOptions): AgentClient {
  return new AgentClient(options);
}

/** Transport and API errors pass as they are; anything else (a body that is not JSON) is a protocol error. */
function failure(error: unknown): Error {
  if (
    error instanceof MandateApiError ||
    error instanceof MandateConnectionError ||
    error instanceof MandateProtocolError
  )
    return error;
  // A timeout while reading the body surfaces here, not in fetch().
  if ((error as Error)?.name === 'TimeoutError' || (error as Error)?.name === 'AbortError')
    return new MandateConnectionError('Mandate', 'timed out');
  return new MandateProtocolError(`unreadable answer from Mandate: ${(error as Error)?.message ?? error}`);
}

async function digestOf(result: unknown): Promise<{ resultDigest?: string }> {
  let text: string | undefined;
  try {
    text = JSON.stringify(result);
  } catch {
    return {};
  }
  if (text === undefined) return {};
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return { resultDigest: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('') };
}

function warnOutcomeLost(error: unknown, decisionId: string): void {
  globalThis.console?.warn(
    `mandate: the outcome of decision ${decisionId} was not recorded: ${(error as Error)?.message ?? error}`,
  );
}
