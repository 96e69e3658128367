import type { Presentation } from './credential.js';

/** One action request as the gateway asks it (COAZ: subject from the token, never from the call). */
export interface ToolAction {
  action: string;
  resource: { type: string; id: string; properties?: Record<string, unknown> };
  arguments?: Record<string, unknown>;
  dataClass?: string;
  untrustedInput?: boolean;
}

export type Verdict =
  | { kind: 'allow'; decisionId: string }
  | { kind: 'approval_required'; decisionId: string; approvalId?: string }
  | { kind: 'deny'; decisionId: string; reason: string }
  /** Mandate could not answer (down, timeout, 5xx, malformed): the tool does not run. */
  | { kind: 'unavailable'; detail: string };

export interface PdpOptions {
  url: string;
  apiKey: string;
  fetch: typeof fetch;
  timeoutMs: number;
}

interface AuthZenAnswer {
  decision: boolean;
  context?: { decision_id?: string; reason?: string; access_request?: { approval_id?: string } };
}

/**
 * The gateway's side of Mandate (PDP): AuthZEN evaluations with the agent's credential in
 * `context.agent_credential`, asked with the gateway's `pep` API key; outcomes and pin events.
 * Every failure to get a well-formed answer is `unavailable`, which the caller treats as a deny.
 */
export class MandatePdp {
  private readonly base: string;

  constructor(private readonly options: PdpOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  /** One decision for a tools/call. */
  async decide(presentation: Presentation, action: ToolAction): Promise<Verdict> {
    const answer = await this.post('/access/v1/evaluation', evaluation(presentation, action));
    if (!answer.ok) return { kind: 'unavailable', detail: answer.detail };
    return verdictOf(answer.body);
  }

  /**
   * One batch for a listing: every item carries the same credential (the one proof of this HTTP
   * request, verified once by Mandate for the batch), as a probe (nothing is used or filed).
   */
  async decideMany(presentation: Presentation, actions: ToolAction[]): Promise<Verdict[]> {
    if (actions.length === 0) return [];
    const answer = await this.post('/access/v1/evaluations', {
      evaluations: actions.map((a) => evaluation(presentation, a)),
      options: { evaluations_semantic: 'execute_all', probe: true },
    });
    const items = answer.ok ? (answer.body as { evaluations?: unknown }).evaluations : undefined;
    if (!answer.ok || !Array.isArray(items) || items.length !== actions.length) {
      const detail = answer.ok ? 'malformed evaluations answer' : answer.detail;
      return actions.map(() => ({ kind: 'unavailable', detail }));
    }
    return items.map(verdictOf);
  }

  /** Records what happened after an allowed decision this gateway asked for. */
  async outcome(
    decisionId: string,
    outcome: { status: 'success' | 'error'; resultDigest?: string; durationMs?: number; error?: string },
  ): Promise<boolean> {
    const answer = await this.post(
      `/v1/enforcement/decisions/${encodeURIComponent(decisionId)}/outcome`,
      outcome,
    );
    return answer.ok;
  }

  /** Appends a pin event (mcp.tool.pinned | changed | accepted) to Mandate's audit log. */
  async event(
    type: 'mcp.tool.pinned' | 'mcp.tool.changed' | 'mcp.tool.accepted',
    toolId: string,
    detail: Record<string, unknown>,
  ): Promise<boolean> {
    const answer = await this.post('/v1/enforcement/events', {
      type,
      target: { type: 'mcp_tool', id: toolId },
      detail,
    });
    return answer.ok;
  }

  private async post(
    path: string,
    body: unknown,
  ): Promise<{ ok: true; body: unknown } | { ok: false; detail: string }> {
    let response: Response;
    try {
      response = await this.options.fetch(`${this.base}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      return { ok: false, detail: `Mandate unreachable (${(error as Error).name})` };
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      return { ok: false, detail: `Mandate's answer was cut (${(error as Error).name})` };
    }
    if (!response.ok) return { ok: false, detail: `Mandate answered HTTP ${response.status}` };
    try {
      return { ok: true, body: JSON.parse(text) as unknown };
    } catch {
      return { ok: false, detail: 'Mandate answered something that is not JSON' };
    }
  }
}

function evaluation(presentation: Presentation, action: ToolAction) {
  return {
    // Mandate checks that this is the token's own agent (client_id); the user comes from the token.
    subject: { type: 'Agent', id: presentation.verified.claims.client_id },
    action: { name: action.action, ...(action.arguments ? { properties: action.arguments } : {}) },
    resource: action.resource,
    context: {
      agent_credential: {
        token: presentation.token,
        ...(presentation.dpop
          ? { dpop: presentation.dpop, method: presentation.method, url: presentation.url }
          : {}),
      },
      ...(action.dataClass ? { data_class: action.dataClass } : {}),
      ...(action.untrustedInput ? { untrusted_input: true } : {}),
    },
  };
}

/** A well-formed AuthZEN answer, or `unavailable`: anything else never counts as an allow. */
function verdictOf(raw: unknown): Verdict {
  const answer = raw as AuthZenAnswer | undefined;
  const decisionId = answer?.context?.decision_id;
  if (typeof answer !== 'object' || answer === null || typeof answer.decision !== 'boolean')
    return { kind: 'unavailable', detail: 'malformed decision' };
  if (answer.decision === true) {
    if (typeof decisionId !== 'string' || !/^\d+$/.test(decisionId))
      return { kind: 'unavailable', detail: 'an allow without a decision id' };
    return { kind: 'allow', decisionId };
  }
  const reason = typeof answer.context?.reason === 'string' ? answer.context.reason : 'denied';
  if (reason === 'approval_required')
    return {
      kind: 'approval_required',
      decisionId: decisionId ?? '',
      approvalId: answer.context?.access_request?.approval_id,
    };
  return { kind: 'deny', decisionId: decisionId ?? '', reason };
}
