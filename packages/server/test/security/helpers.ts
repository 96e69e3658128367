/**
 * Shared helpers of the security tests. Nothing here imports the permission table or any other
 * policy from src: the tests state their own expectations and compare the server with them.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { newId } from '@mandate/core';
import { AgentCredentials } from '@mandate/sdk';
import type { RouteSpec } from '@mandate/server';
import Database from 'better-sqlite3';
import { exportJWK, generateKeyPair } from 'jose';
import { z } from 'zod';
import { boundaries, ISSUER, publicJwk, type TestApp } from '../harness.js';

export type Role = 'admin' | 'operator' | 'approver' | 'auditor' | 'pep';
export const ALL_ROLES: readonly Role[] = ['admin', 'operator', 'approver', 'auditor', 'pep'];

export type Response = Awaited<ReturnType<TestApp['call']>>;

export const sha256hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** `mk_key_<ULID>_<secret>` or `mpk_pk_<ULID>_<secret>` → `<secret>`. */
export function secretOf(token: string): string {
  const match = /^(?:mk_key|mpk_pk)_[0-9A-Z]{26}_([A-Za-z0-9_-]+)$/.exec(token);
  if (!match) throw new Error(`not an API or platform key: ${token.slice(0, 12)}…`);
  return match[1] as string;
}

/** `mk_key_<ULID>_<secret>` → `key_<ULID>`. */
export function keyIdOf(token: string): string {
  const match = /^mk_(key_[0-9A-Z]{26})_/.exec(token);
  if (!match) throw new Error(`not an API key: ${token.slice(0, 12)}…`);
  return match[1] as string;
}

export const routeName = (route: Pick<RouteSpec, 'method' | 'url'>) => `${route.method} ${route.url}`;

/** The `:name` parameters of a route URL, in order. */
export const pathParamsOf = (url: string): string[] =>
  [...url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1] as string);

/** `/v1/agents/:agentId` + `{ agentId }` → `/v1/agents/agt_…`; a missing value is an error (new param: add it). */
export function fillUrl(url: string, values: Record<string, string | number | undefined>): string {
  return url.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined)
      throw new Error(`no value for path parameter :${name} of ${url}; teach the test about it`);
    return encodeURIComponent(String(value));
  });
}

export function withQuery(url: string, query?: Record<string, string | number | undefined>): string {
  const entries = Object.entries(query ?? {}).filter(([, v]) => v !== undefined) as [
    string,
    string | number,
  ][];
  if (entries.length === 0) return url;
  return `${url}${url.includes('?') ? '&' : '?'}${entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}`;
}

export function expectStatus(response: Response, status: number, what = ''): any {
  if (response.status !== status)
    throw new Error(`${what} expected ${status}, got ${response.status}: ${response.text}`);
  return response.body;
}

/** A unique, greppable name: a marker plus random letters (never a substring of an id or hash). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}-${Math.random().toString(36).slice(2, 10)}`;
}

// ---------------------------------------------------------------------------------------------
// Creating things through the API

export async function createOrg(
  t: TestApp,
  name: string,
): Promise<{ orgId: string; adminKey: string; adminKeyId: string }> {
  const body = expectStatus(
    await t.call('POST', '/v1/orgs', { key: t.platformKey, body: { name } }),
    201,
    'create org',
  );
  return { orgId: body.org.id, adminKey: body.adminKey.secret, adminKeyId: body.adminKey.key.id };
}

export async function createUser(t: TestApp, key: string, body: Record<string, unknown>): Promise<any> {
  return expectStatus(await t.call('POST', '/v1/users', { key, body }), 201, 'create user');
}

export async function createKey(
  t: TestApp,
  adminKey: string,
  roles: readonly Role[],
  extra: { userId?: string; name?: string; expiresAt?: string } = {},
): Promise<{ id: string; secret: string; view: any }> {
  const body = expectStatus(
    await t.call('POST', '/v1/api-keys', {
      key: adminKey,
      body: { name: extra.name ?? `key ${roles.join('+')}`, roles, ...extra },
    }),
    201,
    'create api key',
  );
  return { id: body.key.id, secret: body.secret, view: body.key };
}

export type AgentState = 'pending' | 'active' | 'suspended';

/** Registers an agent with `keyCount` public keys, then (as admin) moves it to `state`. */
export async function createAgent(
  t: TestApp,
  adminKey: string,
  ownerId: string,
  options: { name?: string; state?: AgentState; keyCount?: number } = {},
): Promise<any> {
  const keys = [];
  for (let i = 0; i < (options.keyCount ?? 1); i++)
    keys.push(await publicJwk(i % 2 === 0 ? 'EdDSA' : 'ES256'));
  let agent = expectStatus(
    await t.call('POST', '/v1/agents', {
      key: adminKey,
      body: {
        name: options.name ?? uniqueName('agent'),
        ownerId,
        boundaries,
        keys,
        labels: ['team-x'],
        environments: ['prod'],
      },
    }),
    201,
    'register agent',
  );
  const state = options.state ?? 'pending';
  if (state !== 'pending') {
    agent = expectStatus(
      await t.call('POST', `/v1/agents/${agent.id}/activate`, { key: adminKey, body: {} }),
      200,
      'activate',
    );
  }
  if (state === 'suspended') {
    agent = expectStatus(
      await t.call('POST', `/v1/agents/${agent.id}/suspend`, { key: adminKey, body: { reason: 'test' } }),
      200,
      'suspend',
    );
  }
  return agent;
}

/**
 * An admin records a grant to an active agent (registered with the harness `boundaries`) for
 * `userId`: `email.send` on `mailbox:alice/inbox` for an hour of the app clock.
 */
export async function createDelegation(
  t: TestApp,
  adminKey: string,
  agentId: string,
  userId: string,
  options: { purpose?: string } = {},
): Promise<any> {
  return expectStatus(
    await t.call('POST', '/v1/delegations', {
      key: adminKey,
      body: {
        delegateAgentId: agentId,
        purpose: options.purpose ?? uniqueName('purpose'),
        scope: {
          actions: ['email.send'],
          resources: ['mailbox:alice/inbox'],
          expiresAt: new Date(t.clock.now().getTime() + 3_600_000).toISOString(),
        },
        onBehalfOf: userId,
      },
    }),
    201,
    'grant delegation',
  );
}

/**
 * Like `createAgent` (active, the harness `boundaries`), but the test holds the private half of its
 * first key: `creds` gets tokens for it and asks for decisions (POST /v1/decisions) as the agent.
 */
export async function credentialedAgent(
  t: TestApp,
  adminKey: string,
  ownerId: string,
  options: { name?: string; keyCount?: number } = {},
): Promise<{ agent: any; creds: AgentCredentials }> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const keys: Record<string, unknown>[] = [await exportJWK(publicKey)];
  for (let i = 1; i < (options.keyCount ?? 1); i++)
    keys.push(await publicJwk(i % 2 === 0 ? 'EdDSA' : 'ES256'));
  const registered = expectStatus(
    await t.call('POST', '/v1/agents', {
      key: adminKey,
      body: { name: options.name ?? uniqueName('agent'), ownerId, boundaries, keys },
    }),
    201,
    'register agent',
  );
  const agent = expectStatus(
    await t.call('POST', `/v1/agents/${registered.id}/activate`, { key: adminKey, body: {} }),
    200,
    'activate',
  );
  const creds = new AgentCredentials({
    url: ISSUER,
    agentId: agent.id,
    privateJwk: await exportJWK(privateKey),
    fetch: t.fetch,
  });
  return { agent, creds };
}

/** A pending approval request, as the agent's decision answered it. */
export interface FiledApproval {
  /** `apr_…`: the approval, and the task id of the AuthZEN access-request profile. */
  approvalId: string;
  /** The decision that filed it (its audit seq): the `denial.evaluation_id` a PEP submits. */
  decisionId: string;
}

/**
 * A chain that needs a human: an admin grants a fresh credentialed agent (owned by `ownerId`) a
 * delegation on email.send in mailbox:alice/* for `rootUserId`; with `requireApproval` (the
 * default) the delegation asks a human for every email.send, and `approvers` names who besides
 * the root user may decide. `ask()` makes the agent ask for a decision on a fresh resource, which
 * must come back approval_required with a freshly filed, pending request. Whether an active
 * policy permits email.send (and whether it carries `@mandate_approval`) is the caller's business:
 * the baseline (version 0) permits what a delegation covers.
 */
export async function approvalChain(
  t: TestApp,
  adminKey: string,
  ownerId: string,
  rootUserId: string,
  options: {
    requireApproval?: boolean;
    approvers?: string[];
    purpose?: string;
    agentName?: string;
    keyCount?: number;
  } = {},
): Promise<{
  agent: any;
  delegation: any;
  /** The agent's side: its key (for proofs and its own /v1 calls) and its DPoP-bound token. */
  creds: AgentCredentials;
  token: Awaited<ReturnType<AgentCredentials['exchange']>>;
  ask(resource?: string, args?: Record<string, unknown>): Promise<FiledApproval>;
}> {
  const { agent, creds } = await credentialedAgent(t, adminKey, ownerId, {
    name: options.agentName,
    keyCount: options.keyCount,
  });
  const delegation = expectStatus(
    await t.call('POST', '/v1/delegations', {
      key: adminKey,
      body: {
        delegateAgentId: agent.id,
        purpose: options.purpose ?? uniqueName('purpose'),
        scope: {
          actions: ['email.send'],
          resources: ['mailbox:alice/*'],
          expiresAt: new Date(t.clock.now().getTime() + 3_600_000).toISOString(),
          ...(options.requireApproval === false ? {} : { requireApproval: ['email.send'] }),
        },
        onBehalfOf: rootUserId,
        ...(options.approvers ? { approvers: options.approvers } : {}),
      },
    }),
    201,
    'grant delegation',
  );
  const token = await creds.exchange({ delegation: delegation.id });
  return {
    agent,
    delegation,
    creds,
    token,
    async ask(resource = uniqueName('box'), args = {}) {
      const answer = await creds.decide(token, {
        action: 'email.send',
        resource: { type: 'mailbox', id: `alice/${resource}` },
        arguments: args,
      });
      if (answer.decision !== 'approval_required' || answer.approval?.status !== 'pending')
        throw new Error(`expected a fresh pending approval: ${JSON.stringify(answer)}`);
      return { approvalId: answer.approval.id, decisionId: answer.decisionId };
    },
  };
}

/** The URL of the enforcement point an agent calls (what its DPoP proofs for that point name). */
export const ENFORCEMENT_POINT_URL = 'https://gateway.example.test/mcp';

/**
 * An enforcement point (the API key `pepKey`: pep or admin) received a call of the agent of
 * `chain` and asks Mandate about it (`POST /access/v1/evaluation` with `context.agent_credential`:
 * the agent's DPoP-bound token and a fresh proof the agent made for the enforcement point's URL),
 * for email.send on a fresh `mailbox:alice/…`. The decision names that key as the enforcement
 * point that asked; its id (an audit seq of the key's org) and whether it was an allow.
 */
export async function enforcementDecision(
  t: TestApp,
  pepKey: string,
  chain: Pick<Awaited<ReturnType<typeof approvalChain>>, 'agent' | 'creds' | 'token'>,
  options: { resource?: string; probe?: boolean } = {},
): Promise<{ decisionId: string; allowed: boolean; reason?: string }> {
  const { token, creds, agent } = chain;
  const proof = await creds.dpopProof('POST', ENFORCEMENT_POINT_URL, token.access_token);
  const item = {
    subject: { type: 'Agent', id: agent.id },
    action: { name: 'email.send' },
    resource: { type: 'mailbox', id: `alice/${options.resource ?? uniqueName('box')}` },
    context: {
      agent_credential: {
        token: token.access_token,
        dpop: proof,
        method: 'POST',
        url: ENFORCEMENT_POINT_URL,
      },
    },
  };
  const answer = options.probe
    ? await t.call('POST', '/access/v1/evaluations', {
        key: pepKey,
        body: { evaluations: [item], options: { probe: true } },
      })
    : await t.call('POST', '/access/v1/evaluation', { key: pepKey, body: item });
  const decision = expectStatus(answer, 200, 'enforcement point asks');
  const one = options.probe ? decision.evaluations[0] : decision;
  const decisionId = one?.context?.decision_id;
  if (typeof decisionId !== 'string' || !/^\d+$/.test(decisionId))
    throw new Error(`expected a recorded agent decision: ${answer.text}`);
  return { decisionId, allowed: one.decision === true, reason: one.context.reason };
}

/** Every item of a list endpoint, following `nextCursor` (at most `maxPages` pages). */
export async function listAll(t: TestApp, key: string, url: string, maxPages = 100): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const body = expectStatus(
      await t.call('GET', withQuery(url, { limit: 200, cursor }), { key }),
      200,
      `list ${url}`,
    );
    items.push(...body.items);
    if (!body.nextCursor) return items;
    cursor = body.nextCursor;
  }
  throw new Error(`${url}: more than ${maxPages} pages`);
}

// ---------------------------------------------------------------------------------------------
// Snapshots

/** Deep copy without any `lastUsedAt` / `last_used_at` member (the one field a read may change). */
export function withoutLastUsed<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (key, v) =>
    key === 'lastUsedAt' || key === 'last_used_at' ? undefined : v,
  );
}

/** What an org's admin sees through the API. */
export async function snapshotViaApi(t: TestApp, key: string) {
  return withoutLastUsed({
    agents: await listAll(t, key, '/v1/agents'),
    users: await listAll(t, key, '/v1/users'),
    apiKeys: await listAll(t, key, '/v1/api-keys'),
    delegations: await listAll(t, key, '/v1/delegations'),
    audit: await listAll(t, key, '/v1/audit/events'),
    policies: await listAll(t, key, '/v1/policies'),
    activePolicy: expectStatus(await t.call('GET', '/v1/policies?limit=1', { key }), 200, 'policies').active,
    entities: await listAll(t, key, '/v1/entities'),
    // Kill-switch locks, in force and released.
    locks: await listAll(t, key, '/v1/killswitch?all=true'),
    // Approval requests (every status), where their events go, and the risk settings in force.
    approvals: await listAll(t, key, '/v1/approvals'),
    approvalWebhook: expectStatus(await t.call('GET', '/v1/approvals/webhook', { key }), 200, 'webhook'),
    riskSettings: expectStatus(await t.call('GET', '/v1/risk/settings', { key }), 200, 'risk settings'),
  });
}

/**
 * The raw rows of one org in every table of the SQLite file that has an `org_id` column (plus its
 * `orgs` row), read on a separate read-only connection. New tables are picked up automatically.
 */
export function snapshotRows(dbFile: string, orgId: string): Record<string, unknown[]> {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
        name: string;
      }[]
    )
      .map((r) => r.name)
      .filter((name) => !name.startsWith('sqlite_'));
    const out: Record<string, unknown[]> = {};
    for (const table of tables) {
      const columns = (db.prepare(`PRAGMA table_info("${table}")`).all() as { name: string }[]).map(
        (c) => c.name,
      );
      if (table === 'orgs') {
        out[table] = db.prepare('SELECT * FROM orgs WHERE id = ?').all(orgId);
      } else if (columns.includes('org_id')) {
        out[table] = db.prepare(`SELECT * FROM "${table}" WHERE org_id = ? ORDER BY rowid`).all(orgId);
      }
    }
    return withoutLastUsed(out);
  } finally {
    db.close();
  }
}

/** A short description of where two JSON values first differ (for findings). */
export function firstDifference(a: unknown, b: unknown, path = '$'): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return `${path}: ${JSON.stringify(a)?.slice(0, 200)} → ${JSON.stringify(b)?.slice(0, 200)}`;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const diff = firstDifference((a as any)[key], (b as any)[key], `${path}.${key}`);
    if (diff) return diff;
  }
  return `${path}: differs`;
}

/** Every `orgId` member anywhere in a JSON value. */
export function orgIdsIn(value: unknown, found = new Set<string>(), depth = 0): Set<string> {
  if (depth > 50 || value === null || typeof value !== 'object') return found;
  for (const [key, v] of Object.entries(value)) {
    if (key === 'orgId' && typeof v === 'string') found.add(v);
    orgIdsIn(v, found, depth + 1);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness and request generators

/** mulberry32: small, seeded, reproducible. */
export class Rng {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let x = this.state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }
  /** A random subset of `items` (each with probability 1/2), at least `min` long. */
  subset<T>(items: readonly T[], min = 0): T[] {
    for (let attempt = 0; attempt < 20; attempt++) {
      const chosen = items.filter(() => this.chance(0.5));
      if (chosen.length >= min) return chosen;
    }
    return items.slice(0, min);
  }
  /** Each member of `optional` kept with probability 1/2. */
  maybe<T extends Record<string, unknown>>(optional: T): Partial<T> {
    return Object.fromEntries(Object.entries(optional).filter(() => this.chance(0.5))) as Partial<T>;
  }
}

/**
 * The kinds of id a request can carry, by path-parameter name. `version` (a policy version
 * number) and `type` / `id` (a Cedar entity uid) are names inside one org, not global ids: org A
 * and org B both have a version 1 and may both have a `User::"alice"`. `taskId` (an AuthZEN
 * access-request task) is the `apr_…` id of the approval request behind it, like `approvalId`.
 * `decisionId` is a decision's audit seq: a number inside an org, like `seq`.
 */
export type IdKind =
  | 'agentId'
  | 'userId'
  | 'keyId'
  | 'kid'
  | 'seq'
  | 'orgId'
  | 'delegationId'
  | 'lockId'
  | 'approvalId'
  | 'taskId'
  | 'decisionId'
  | 'version'
  | 'type'
  | 'id';
const PREFIX_KIND: Record<string, IdKind> = {
  agt: 'agentId',
  usr: 'userId',
  key: 'keyId',
  org: 'orgId',
  dlg: 'delegationId',
  lck: 'lockId',
  apr: 'approvalId',
};

export interface Gen {
  rng: Rng;
  /** An id of this kind; the caller decides whose (another org's, one's own, or nobody's). */
  id(kind: IdKind): string;
  /** An ISO date-time `days` in the future of the app clock. */
  future(days: number): string;
}

export interface RequestParts {
  query?: Record<string, string | undefined>;
  body?: unknown;
}

const AGENT_STATUSES = ['pending', 'active', 'suspended', 'revoked', 'expired'];
const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled', 'used'];
const randomBoundaries = (g: Gen) => ({
  actions: g.rng.subset(['email.*', 'email.send', 'calendar.read', 'files.*'], 1),
  resources: g.rng.subset(['mailbox:alice/*', 'calendar:team/*', 'drive:shared/*'], 1),
  ...g.rng.maybe({
    maxDataClass: g.rng.pick(['public', 'internal']),
    maxCredentialTtlSeconds: g.rng.int(60, 86_400),
  }),
});
const reason = (g: Gen) => g.rng.pick(['routine', 'security review', 'rotation']);

/**
 * The attribute (and value) the probing policies ask of a principal. Policies and entities the
 * generators write never set it, nor do the properties they send: in an org whose policies all
 * come from `probePolicies`, every AuthZEN decision is a deny unless another org's entities (which
 * may carry it) or another org's policies (which may permit more) were used.
 */
export const PROBE_CLEARANCE = { attr: 'probeClearance', value: 'top' } as const;

/** A policy set that permits only principals with PROBE_CLEARANCE (see there). */
export const probePolicies = (label = uniqueName('probe-policy')) =>
  `// ${label}\npermit (principal, action, resource)\n` +
  `when { principal has ${PROBE_CLEARANCE.attr} && principal.${PROBE_CLEARANCE.attr} == "${PROBE_CLEARANCE.value}" };\n`;

const entityUid = (g: Gen) => ({ type: g.id('type'), id: g.id('id') });
const probeProperties = (g: Gen) => ({ probe: true, n: g.rng.int(0, 9), tag: 'probe' });
const authzenEntity = (g: Gen) => ({
  ...entityUid(g),
  ...g.rng.maybe({ properties: probeProperties(g) }),
});
const authzenAction = (g: Gen) => ({ name: g.rng.pick(['read', 'write', 'delete', 'can_read_todos']) });
const policyBody = (g: Gen) => ({
  // Now and then a set that does not parse (refused with Cedar's messages, nothing changes).
  policies: g.rng.chance(0.1) ? 'permit (principal, action, resource' : probePolicies(),
  ...g.rng.maybe({ note: 'published by the probe' }),
});

/**
 * Valid query and body for each org operation, with every id-shaped field taken from `g.id`.
 * Bodies never carry another org's *names*, only ids, so an echo of a name in an answer is a leak.
 */
export const REQUEST_GENERATORS: Record<string, (g: Gen) => Promise<RequestParts>> = {
  registerAgent: async (g) => ({
    body: {
      name: uniqueName('probe-agent'),
      ownerId: g.id('userId'),
      boundaries: randomBoundaries(g),
      keys: [await publicJwk(g.rng.chance(0.5) ? 'EdDSA' : 'ES256')],
      ...g.rng.maybe({
        description: 'probe',
        labels: ['probe'],
        environments: ['staging'],
        metadata: { probe: true },
        expiresAt: g.future(g.rng.int(1, 300)),
      }),
    },
  }),
  listAgents: async (g) => ({
    query: g.rng.maybe({
      status: g.rng.pick(AGENT_STATUSES),
      owner: g.id('userId'),
      cursor: g.id('agentId'),
      label: 'team-x',
      environment: 'prod',
      limit: String(g.rng.int(1, 200)),
    }),
  }),
  getAgent: async () => ({}),
  updateAgent: async (g) => ({
    body: g.rng.maybe({
      name: uniqueName('renamed'),
      description: 'changed by probe',
      labels: ['probe'],
      metadata: { n: g.rng.int(0, 9) },
      environments: ['dev'],
      boundaries: randomBoundaries(g),
    }),
  }),
  activateAgent: async (g) => ({ body: g.rng.maybe({ reason: reason(g) }) }),
  suspendAgent: async (g) => ({ body: { reason: reason(g) } }),
  resumeAgent: async (g) => ({ body: g.rng.maybe({ reason: reason(g) }) }),
  revokeAgent: async (g) => ({ body: { reason: reason(g) } }),
  renewAgent: async (g) => ({
    body: g.rng.maybe({ reason: reason(g), expiresAt: g.future(g.rng.int(1, 300)) }),
  }),
  listAgentKeys: async () => ({}),
  addAgentKey: async (g) => ({ body: { jwk: await publicJwk(g.rng.chance(0.5) ? 'EdDSA' : 'ES256') } }),
  retireAgentKey: async (g) => ({ body: g.rng.maybe({ reason: reason(g) }) }),
  transferAgent: async (g) => ({ body: { ownerId: g.id('userId'), reason: reason(g) } }),
  createApiKey: async (g) => ({
    body: {
      name: uniqueName('probe-key'),
      roles: g.rng.subset(ALL_ROLES, 1),
      ...g.rng.maybe({ userId: g.id('userId'), expiresAt: g.future(g.rng.int(1, 30)) }),
    },
  }),
  listApiKeys: async (g) => ({
    query: g.rng.maybe({ cursor: g.id('keyId'), limit: String(g.rng.int(1, 200)) }),
  }),
  getApiKey: async () => ({}),
  revokeApiKey: async (g) => ({ body: g.rng.maybe({ reason: reason(g) }) }),
  createUser: async (g) => ({
    body: {
      displayName: uniqueName('probe-user'),
      ...g.rng.maybe({ email: 'probe@example.test', roles: g.rng.subset(ALL_ROLES) }),
      ...(g.rng.chance(0.3) ? { issuer: 'https://idp.example.test', subject: uniqueName('sub') } : {}),
    },
  }),
  listUsers: async (g) => ({
    query: g.rng.maybe({
      status: g.rng.pick(['active', 'offboarded']),
      kind: g.rng.pick(['local', 'oidc']),
      cursor: g.id('userId'),
    }),
  }),
  getUser: async () => ({}),
  updateUser: async (g) => ({
    body: g.rng.maybe({
      displayName: uniqueName('renamed-user'),
      email: 'changed@example.test',
      roles: g.rng.subset(ALL_ROLES),
    }),
  }),
  offboardUser: async (g) => ({ body: { reason: reason(g) } }),
  listAuditEvents: async (g) => ({
    query: g.rng.maybe({
      type: g.rng.pick(['agent.registered', 'user.created', 'api_key.created']),
      agent: g.id('agentId'),
      user: g.id('userId'),
      cursor: g.id('seq'),
      since: new Date(Date.now() - 86_400_000).toISOString(),
    }),
  }),
  getAuditEvent: async () => ({}),
  // A scope that fits the harness `boundaries` of an active agent (actions email.*, resources
  // mailbox:alice/*, data class up to internal, no further depth), so that a grant naming one's
  // own active agent and user can succeed.
  grantDelegation: async (g) => ({
    body: {
      delegateAgentId: g.id('agentId'),
      purpose: uniqueName('probe-purpose'),
      scope: {
        actions: g.rng.subset(['email.*', 'email.send', 'email.read'], 1),
        resources: g.rng.subset(['mailbox:alice/*', 'mailbox:alice/inbox'], 1),
        expiresAt: g.future(g.rng.int(1, 30)),
        ...g.rng.maybe({
          dataClass: g.rng.pick(['public', 'internal']),
          maxDepth: 0,
          limits: { maxUses: g.rng.int(1, 100) },
          requireApproval: ['email.send'],
        }),
      },
      onBehalfOf: g.id('userId'),
    },
  }),
  listDelegations: async (g) => ({
    query: g.rng.maybe({
      agent: g.id('agentId'),
      user: g.id('userId'),
      status: g.rng.pick(['active', 'revoked']),
      parent: g.id('delegationId'),
      cursor: g.id('delegationId'),
      limit: String(g.rng.int(1, 200)),
    }),
  }),
  getDelegation: async () => ({}),
  getDelegationTree: async () => ({}),
  revokeDelegation: async (g) => ({ body: { reason: reason(g) } }),
  publishPolicies: async (g) => ({ body: policyBody(g) }),
  validatePolicies: async (g) => ({ body: policyBody(g) }),
  listPolicies: async (g) => ({
    query: g.rng.maybe({ cursor: g.id('version'), limit: String(g.rng.int(1, 200)) }),
  }),
  getPolicies: async () => ({}),
  diffPolicies: async (g) => ({ query: g.rng.maybe({ against: g.id('version') }) }),
  activatePolicies: async (g) => ({ body: { reason: reason(g) } }),
  putEntities: async (g) => ({
    body: {
      entities: Array.from({ length: g.rng.int(1, 3) }, () => ({
        uid: entityUid(g),
        ...g.rng.maybe({ attrs: { note: 'written by the probe', n: g.rng.int(0, 9) } }),
        ...g.rng.maybe({ parents: [entityUid(g)] }),
      })),
    },
  }),
  listEntities: async (g) => ({
    query: g.rng.maybe({ type: g.id('type'), limit: String(g.rng.int(1, 200)) }),
  }),
  getEntity: async () => ({}),
  deleteEntity: async () => ({}),
  // Never an org lock: a probe that locked its own org would deny every later decision there (the
  // org scope naming another org is checked by hand in the cross-org test). An agent or an owner,
  // named by id, so that another org's agent or user lands in `targetId`.
  lock: async (g) => {
    const scope = g.rng.pick(['agent', 'owner'] as const);
    return {
      body: { scope, targetId: g.id(scope === 'agent' ? 'agentId' : 'userId'), reason: reason(g) },
    };
  },
  listLocks: async (g) => ({
    query: g.rng.maybe({
      all: g.rng.pick(['true', 'false']),
      cursor: g.id('lockId'),
      limit: String(g.rng.int(1, 200)),
    }),
  }),
  getLock: async () => ({}),
  releaseLock: async (g) => ({ body: { reason: reason(g) } }),
  accessEvaluation: async (g) => ({
    body: {
      subject: authzenEntity(g),
      action: authzenAction(g),
      resource: authzenEntity(g),
      ...g.rng.maybe({ context: { probe: true } }),
    },
  }),
  accessEvaluations: async (g) => ({
    body: {
      subject: authzenEntity(g),
      action: authzenAction(g),
      resource: authzenEntity(g),
      evaluations: Array.from({ length: g.rng.int(0, 3) }, () =>
        g.rng.maybe({ subject: authzenEntity(g), action: authzenAction(g), resource: authzenEntity(g) }),
      ),
      ...g.rng.maybe({
        options: {
          evaluations_semantic: g.rng.pick(['execute_all', 'deny_on_first_deny', 'permit_on_first_permit']),
        },
      }),
    },
  }),
  listApprovals: async (g) => ({
    query: g.rng.maybe({
      status: g.rng.pick(APPROVAL_STATUSES),
      cursor: g.id('approvalId'),
      limit: String(g.rng.int(1, 200)),
    }),
  }),
  // Never a wait above 0: a long-poll on one's own pending request would hold the probe for seconds.
  getApproval: async (g) => ({ query: g.rng.maybe({ wait: '0' }) }),
  approve: async (g) => ({ body: g.rng.maybe({ comment: 'approved by the probe' }) }),
  denyApproval: async (g) => ({ body: g.rng.maybe({ comment: 'denied by the probe' }) }),
  getApprovalWebhook: async () => ({}),
  // A URL nothing listens on (a delivery is refused at once), now and then one that is not http(s).
  setApprovalWebhook: async (g) => ({
    body: {
      url: g.rng.chance(0.2) ? 'ftp://example.test/hook' : `http://127.0.0.1:9/${uniqueName('probe-hook')}`,
    },
  }),
  getRiskSettings: async () => ({}),
  // Never thresholds that would refuse the probing org's own decisions outright. (userHours, keyed
  // by user id, is probed by hand in the cross-org test: its keys are not checked, see there.)
  putRiskSettings: async (g) => ({
    body: g.rng.maybe({
      weights: { velocity: g.rng.int(0, 100), agent_age: g.rng.int(0, 100) },
      approvalAt: g.rng.int(60, 90),
      denyAt: 101,
      workingHours: { timeZone: 'Europe/Paris', days: [1, 2, 3, 4, 5], start: '08:00', end: '19:00' },
      externalActions: g.rng.subset(['email.send', 'http.*', 'pay.*'], 1),
    }),
  }),
  // The requestable denial is named by the decision's audit seq (a number inside an org).
  submitAccessRequest: async (g) => ({ body: { denial: { evaluation_id: g.id('seq') } } }),
  getAccessRequest: async () => ({}),
  // An outcome as an enforcement point reports it (the decision is named by the path).
  recordEnforcementOutcome: async (g) => ({
    body: {
      status: g.rng.pick(['success', 'error']),
      ...g.rng.maybe({
        resultDigest: sha256hex(uniqueName('result')),
        durationMs: g.rng.int(0, 5000),
        error: 'upstream said no',
      }),
    },
  }),
  // A tool pin event as the MCP gateway sends it.
  recordEnforcementEvent: async (g) => ({
    body: {
      type: g.rng.pick(['mcp.tool.pinned', 'mcp.tool.changed', 'mcp.tool.accepted']),
      target: { type: 'mcp_tool', id: `probe-srv/${uniqueName('tool')}` },
      ...g.rng.maybe({ detail: { hash: sha256hex(uniqueName('tool-def')) } }),
    },
  }),
};

/**
 * Fallback for a route nobody wrote a generator for yet: a request derived from its zod schemas
 * (through their JSON Schema), with id-shaped strings (`^usr_…`, `^agt_…`) taken from `g.id`.
 * Good enough to put another org's ids in every id-shaped field of a new route.
 */
export async function requestFromSchemas(route: RouteSpec, g: Gen): Promise<RequestParts> {
  const parts: RequestParts = {};
  if (route.query) parts.query = sampleJson(toJsonSchema(route.query), g, 0) as Record<string, string>;
  if (route.body) parts.body = sampleJson(toJsonSchema(route.body), g, 0);
  return parts;
}

function toJsonSchema(schema: unknown): any {
  return z.toJSONSchema(schema as z.ZodType, { io: 'input', unrepresentable: 'any' });
}

function sampleJson(schema: any, g: Gen, depth: number): unknown {
  if (depth > 6 || !schema || typeof schema !== 'object') return undefined;
  if (Array.isArray(schema.enum)) return g.rng.pick(schema.enum);
  if (schema.const !== undefined) return schema.const;
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alternatives)) return sampleJson(g.rng.pick(alternatives), g, depth + 1);
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [name, property] of Object.entries<any>(schema.properties ?? {})) {
        if (schema.required?.includes(name) || g.rng.chance(0.5))
          out[name] = sampleJson(property, g, depth + 1);
      }
      return out;
    }
    case 'array': {
      const count = Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 2, 2));
      return Array.from({ length: count }, () => sampleJson(schema.items, g, depth + 1));
    }
    case 'string': {
      const idPrefix =
        typeof schema.pattern === 'string' ? /^\^([a-z]+)_/.exec(schema.pattern)?.[1] : undefined;
      const kind = idPrefix ? PREFIX_KIND[idPrefix] : undefined;
      if (kind) return g.id(kind);
      if (schema.format === 'email') return 'probe@example.test';
      if (schema.format === 'date-time') return g.future(1);
      if (schema.format === 'uri') return 'https://example.test';
      return 'probe';
    }
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    default:
      return undefined;
  }
}

/** A well-formed id that names nothing. */
export function nobodysId(kind: IdKind): string {
  switch (kind) {
    case 'agentId':
      return newId('agent');
    case 'userId':
      return newId('user');
    case 'keyId':
      return newId('apiKey');
    case 'orgId':
      return newId('org');
    case 'delegationId':
      return newId('delegation');
    case 'lockId':
      return newId('lock');
    // An AuthZEN access-request task is named by the id of the approval behind it.
    case 'approvalId':
    case 'taskId':
      return newId('approval');
    case 'kid':
      return 'A'.repeat(43);
    case 'seq':
    case 'decisionId':
      return '999999';
    case 'version':
      return '999999';
    case 'type':
      return 'NoSuch::Type';
    case 'id':
      return uniqueName('nobody');
  }
}
