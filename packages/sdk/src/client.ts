import type { LifecycleCommand } from '@mandate/core';
import { MandateApiError, MandateConnectionError } from './errors.js';
import type {
  Agent,
  ApiKey,
  ApprovalView,
  AuditRecord,
  DelegationView,
  ExplainNode,
  IntrospectionResult,
  KillSwitchLock,
  Org,
  Page,
  PageOptions,
  PolicyVersionView,
  ProofBundle,
  RegisterAgentInput,
  SigningKey,
  User,
} from './types.js';

export interface ClientOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:7070. */
  url: string;
  /** An API key (`mk_…`), a platform key, or an OIDC ID token. */
  key?: string;
  fetch?: typeof fetch;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
}

type Query = object;

/** A thin, typed client of Mandate's `/v1` API. Every failure is a MandateApiError or MandateConnectionError. */
export class MandateClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const response = await this.send(method, path, body, query);
    const text = await response.text();
    return (parseJson(text) ?? text) as T;
  }

  /** Sends a request and returns the raw response (for streams); errors are thrown as for request(). */
  async send(
    method: string,
    path: string,
    body?: unknown,
    query?: Query,
    timeoutMs = this.options.timeoutMs ?? 30_000,
  ): Promise<Response> {
    const url = new URL(this.base + path);
    for (const [name, value] of Object.entries(query ?? {}) as [string, unknown][]) {
      if (value !== undefined && value !== '') url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.key) headers.authorization = `Bearer ${this.options.key}`;
    // A URLSearchParams body is a form (the OAuth endpoints); anything else is JSON.
    const isForm = body instanceof URLSearchParams;
    if (body !== undefined)
      headers['content-type'] = isForm ? 'application/x-www-form-urlencoded' : 'application/json';
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        body: body === undefined ? undefined : isForm ? body.toString() : JSON.stringify(body),
        signal: timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined,
      });
    } catch (error) {
      throw new MandateConnectionError(this.base, describeFetchFailure(error));
    }
    if (response.ok) return response;
    const text = await response.text();
    const parsed = parseJson(text) as
      | { error?: string | { code?: string; message?: string; field?: string }; error_description?: string }
      | undefined;
    // OAuth endpoints answer { error, error_description } (RFC 6749 §5.2).
    if (typeof parsed?.error === 'string') {
      throw new MandateApiError(response.status, parsed.error, parsed.error_description ?? parsed.error);
    }
    const detail = typeof parsed?.error === 'object' ? parsed.error : undefined;
    throw new MandateApiError(
      response.status,
      detail?.code ?? `http_${response.status}`,
      detail?.message ?? (text.slice(0, 200) || response.statusText),
      detail?.field,
    );
  }

  readonly agents = {
    register: (input: RegisterAgentInput) => this.request<Agent>('POST', '/v1/agents', input),
    list: (
      filter: PageOptions & {
        status?: string;
        owner?: string;
        label?: string;
        environment?: string;
        name?: string;
      } = {},
    ) => this.request<Page<Agent>>('GET', '/v1/agents', undefined, filter),
    get: (agentId: string) => this.request<Agent>('GET', `/v1/agents/${enc(agentId)}`),
    update: (agentId: string, changes: Partial<RegisterAgentInput>) =>
      this.request<Agent>('PATCH', `/v1/agents/${enc(agentId)}`, changes),
    transition: (
      agentId: string,
      command: LifecycleCommand,
      body: { reason?: string; expiresAt?: string } = {},
    ) => this.request<Agent>('POST', `/v1/agents/${enc(agentId)}/${command}`, body),
    addKey: (agentId: string, jwk: object) =>
      this.request<Agent>('POST', `/v1/agents/${enc(agentId)}/keys`, { jwk }),
    retireKey: (agentId: string, kid: string, reason?: string) =>
      this.request<Agent>('POST', `/v1/agents/${enc(agentId)}/keys/${enc(kid)}/retire`, { reason }),
    transfer: (agentId: string, ownerId: string, reason: string) =>
      this.request<Agent>('POST', `/v1/agents/${enc(agentId)}/transfer`, { ownerId, reason }),
  };

  readonly users = {
    create: (input: {
      displayName: string;
      email?: string;
      roles?: string[];
      issuer?: string;
      subject?: string;
    }) => this.request<User>('POST', '/v1/users', input),
    list: (filter: PageOptions & { status?: string; kind?: string } = {}) =>
      this.request<Page<User>>('GET', '/v1/users', undefined, filter),
    get: (userId: string) => this.request<User>('GET', `/v1/users/${enc(userId)}`),
    update: (userId: string, changes: { displayName?: string; email?: string; roles?: string[] }) =>
      this.request<User>('PATCH', `/v1/users/${enc(userId)}`, changes),
    offboard: (userId: string, reason: string) =>
      this.request<User>('POST', `/v1/users/${enc(userId)}/offboard`, { reason }),
  };

  readonly apiKeys = {
    create: (input: { name: string; roles: string[]; userId?: string; expiresAt?: string }) =>
      this.request<{ key: ApiKey; secret: string }>('POST', '/v1/api-keys', input),
    list: (page: PageOptions = {}) =>
      this.request<Page<ApiKey>>('GET', '/v1/api-keys', undefined, { ...page }),
    get: (keyId: string) => this.request<ApiKey>('GET', `/v1/api-keys/${enc(keyId)}`),
    revoke: (keyId: string, reason?: string) =>
      this.request<ApiKey>('POST', `/v1/api-keys/${enc(keyId)}/revoke`, { reason }),
  };

  readonly delegations = {
    grant: (input: {
      delegateAgentId: string;
      purpose: string;
      scope: object;
      onBehalfOf?: string;
      standing?: boolean;
      /** Who besides the root user may approve: `usr_…` ids and `role:<role>`. */
      approvers?: string[];
    }) => this.request<DelegationView>('POST', '/v1/delegations', input),
    list: (filter: PageOptions & { agent?: string; user?: string; status?: string; parent?: string } = {}) =>
      this.request<Page<DelegationView>>('GET', '/v1/delegations', undefined, filter),
    get: (delegationId: string) =>
      this.request<DelegationView>('GET', `/v1/delegations/${enc(delegationId)}`),
    tree: (delegationId: string) =>
      this.request<{ items: DelegationView[] }>('GET', `/v1/delegations/${enc(delegationId)}/tree`),
    revoke: (delegationId: string, reason: string) =>
      this.request<{ revoked: DelegationView[] }>('POST', `/v1/delegations/${enc(delegationId)}/revoke`, {
        reason,
      }),
  };

  /** The authorization server's endpoints that an API key may call. */
  readonly oauth = {
    /** RFC 7662: whether a token is usable now (needs the pep, auditor or admin role). */
    introspect: (token: string) =>
      this.request<IntrospectionResult>('POST', '/oauth/introspect', new URLSearchParams({ token })),
    /** RFC 7009 (needs the admin role). */
    revoke: (token: string) => this.request<object>('POST', '/oauth/revoke', new URLSearchParams({ token })),
    metadata: () => this.request<Record<string, unknown>>('GET', '/.well-known/oauth-authorization-server'),
    jwks: () => this.request<{ keys: Array<Record<string, string>> }>('GET', '/.well-known/jwks.json'),
  };

  /** The org's Cedar policy set, versioned. */
  readonly policies = {
    publish: (input: { policies: string; schema?: string; note?: string }) =>
      this.request<PolicyVersionView>('POST', '/v1/policies', input),
    validate: (input: { policies: string; schema?: string }) =>
      this.request<{ valid: boolean; errors: string[]; warnings: string[] }>(
        'POST',
        '/v1/policies/validate',
        input,
      ),
    list: (page: PageOptions = {}) =>
      this.request<Page<PolicyVersionView> & { active: number }>('GET', '/v1/policies', undefined, {
        ...page,
      }),
    get: (version: number) => this.request<PolicyVersionView>('GET', `/v1/policies/${version}`),
    diff: (version: number, against?: number) =>
      this.request<{ from: number; to: number; diff: string }>(
        'GET',
        `/v1/policies/${version}/diff`,
        undefined,
        {
          against,
        },
      ),
    activate: (version: number, reason: string) =>
      this.request<PolicyVersionView>('POST', `/v1/policies/${version}/activate`, { reason }),
  };

  /** Entities the org's policies see (Cedar JSON entity format). */
  readonly entities = {
    put: (entities: object[]) => this.request<{ stored: number }>('PUT', '/v1/entities', { entities }),
    list: (filter: PageOptions & { type?: string } = {}) =>
      this.request<Page<Record<string, unknown>>>('GET', '/v1/entities', undefined, filter),
    get: (type: string, id: string) =>
      this.request<Record<string, unknown>>('GET', `/v1/entities/${enc(type)}/${enc(id)}`),
    delete: (type: string, id: string) =>
      this.request<{ deleted: boolean }>('DELETE', `/v1/entities/${enc(type)}/${enc(id)}`),
  };

  /** OpenID AuthZEN Authorization API 1.0 (a `pep` key). */
  readonly authzen = {
    evaluation: (request: object) =>
      this.request<{ decision: boolean; context?: Record<string, unknown> }>(
        'POST',
        '/access/v1/evaluation',
        request,
      ),
    evaluations: (request: object) =>
      this.request<{ evaluations: Array<{ decision: boolean; context?: Record<string, unknown> }> }>(
        'POST',
        '/access/v1/evaluations',
        request,
      ),
  };

  /** Human approval of one exact action. */
  readonly approvals = {
    list: (filter: PageOptions & { status?: ApprovalView['status'] } = {}) =>
      this.request<Page<ApprovalView>>('GET', '/v1/approvals', undefined, filter),
    /** With `waitSeconds` (≤ 60), waits while the request is pending. */
    get: (approvalId: string, waitSeconds?: number) =>
      this.send(
        'GET',
        `/v1/approvals/${enc(approvalId)}`,
        undefined,
        { wait: waitSeconds },
        ((waitSeconds ?? 0) + 30) * 1000,
      ).then(async (response) => JSON.parse(await response.text()) as ApprovalView),
    approve: (approvalId: string, comment?: string) =>
      this.request<ApprovalView>(
        'POST',
        `/v1/approvals/${enc(approvalId)}/approve`,
        comment ? { comment } : {},
      ),
    deny: (approvalId: string, comment?: string) =>
      this.request<ApprovalView>('POST', `/v1/approvals/${enc(approvalId)}/deny`, comment ? { comment } : {}),
    cancel: (approvalId: string, comment?: string) =>
      this.request<ApprovalView>(
        'POST',
        `/v1/approvals/${enc(approvalId)}/cancel`,
        comment ? { comment } : {},
      ),
    setWebhook: (url: string) =>
      this.request<{ url: string; secret: string }>('PUT', '/v1/approvals/webhook', { url }),
  };

  /** The emergency stop: lock the org, one owner's agents or one agent; release by lock id. */
  readonly killSwitch = {
    lock: (input: { scope: 'org' | 'owner' | 'agent'; targetId?: string; reason: string }) =>
      this.request<KillSwitchLock>('POST', '/v1/killswitch', input),
    list: (filter: PageOptions & { all?: boolean } = {}) =>
      this.request<Page<KillSwitchLock>>('GET', '/v1/killswitch', undefined, filter),
    get: (lockId: string) => this.request<KillSwitchLock>('GET', `/v1/killswitch/${enc(lockId)}`),
    release: (lockId: string, reason: string) =>
      this.request<KillSwitchLock>('POST', `/v1/killswitch/${enc(lockId)}/release`, { reason }),
  };

  /** The token signing keys (platform key). */
  readonly signingKeys = {
    list: () => this.request<{ items: SigningKey[] }>('GET', '/v1/signing-keys'),
    rotate: (options: { compromised?: boolean } = {}) =>
      this.request<{ kid: string; retired: string[] }>('POST', '/v1/signing-keys/rotate', options),
  };

  readonly orgs = {
    create: (name: string) =>
      this.request<{ org: Org; adminKey: { key: ApiKey; secret: string } }>('POST', '/v1/orgs', { name }),
    list: (page: PageOptions = {}) => this.request<Page<Org>>('GET', '/v1/orgs', undefined, { ...page }),
    get: (orgId: string) => this.request<Org>('GET', `/v1/orgs/${enc(orgId)}`),
  };

  readonly audit = {
    events: (
      filter: PageOptions & {
        type?: string;
        agent?: string;
        user?: string;
        since?: string;
        until?: string;
      } = {},
    ) => this.request<Page<AuditRecord>>('GET', '/v1/audit/events', undefined, filter),
    event: (seq: number) => this.request<AuditRecord>('GET', `/v1/audit/events/${seq}`),
    checkpoint: () => this.request<string>('GET', '/v1/audit/checkpoint'),
    signCheckpoint: () => this.request<string>('POST', '/v1/audit/checkpoint'),
    checkpoints: (page: PageOptions = {}) =>
      this.request<Page<{ size: number; note: string; signedAt: string }>>(
        'GET',
        '/v1/audit/checkpoints',
        undefined,
        {
          ...page,
        },
      ),
    verifierKey: async () => (await this.request<string>('GET', '/v1/audit/verifier-key')).trim(),
    proof: (seq: number) => this.request<ProofBundle>('GET', `/v1/audit/events/${seq}/proof`),
    consistency: (from: number, to?: number) =>
      this.request<{ from: number; to: number; proof: string[] }>('GET', '/v1/audit/consistency', undefined, {
        from,
        to,
      }),
    leaves: (from: number, limit = 1000) =>
      this.request<{ from: number; items: string[] }>('GET', '/v1/audit/leaves', undefined, { from, limit }),
    explain: (seq: number) => this.request<ExplainNode>('GET', `/v1/audit/explain/${seq}`),
    /** The log as JSON Lines (or OCSF), streamed; yields one line at a time without its newline. */
    export: (options: { format?: 'jsonl' | 'ocsf'; from?: number } = {}) =>
      this.lines('/v1/audit/export', options),
  };

  private async *lines(path: string, query: object): AsyncGenerator<string> {
    // No overall timeout: a whole log can take long to stream.
    const response = await this.send('GET', path, undefined, query, 0);
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffered = '';
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        yield buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
      }
    }
    buffered += decoder.decode();
    if (buffered.length > 0) yield buffered;
  }
}

const enc = encodeURIComponent;

export function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function describeFetchFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string } })?.cause;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused; is the server running?';
  if (cause?.code === 'ENOTFOUND') return 'host not found';
  if ((error as Error)?.name === 'TimeoutError') return 'timed out';
  return (
    cause?.code ??
    (cause as { message?: string } | undefined)?.message ??
    (error as Error)?.message ??
    'unknown error'
  );
}
