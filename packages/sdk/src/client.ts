import type { LifecycleCommand } from '@mandate/core';
import { MandateApiError, MandateConnectionError } from './errors.js';
import type {
  Agent,
  ApiKey,
  AuditRecord,
  Org,
  Page,
  PageOptions,
  RegisterAgentInput,
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
    const url = new URL(this.base + path);
    for (const [name, value] of Object.entries(query ?? {}) as [string, unknown][]) {
      if (value !== undefined && value !== '') url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.key) headers.authorization = `Bearer ${this.options.key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new MandateConnectionError(this.base, describeFetchFailure(error));
    }
    const text = await response.text();
    const json = parseJson(text);
    if (!response.ok) {
      const detail = (json as { error?: { code?: string; message?: string; field?: string } } | undefined)
        ?.error;
      throw new MandateApiError(
        response.status,
        detail?.code ?? `http_${response.status}`,
        detail?.message ?? (text.slice(0, 200) || response.statusText),
        detail?.field,
      );
    }
    return (json ?? text) as T;
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
  };
}

const enc = encodeURIComponent;

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describeFetchFailure(error: unknown): string {
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
