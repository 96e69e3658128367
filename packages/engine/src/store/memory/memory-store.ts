import {
  type AuditEventInput,
  type AuditRecord,
  canonicalize,
  effectiveAgentStatus,
  leafHash,
  nodesCompletedBy,
  utf8,
} from '@mandate/core';
import type {
  Agent,
  ApiKey,
  Delegation,
  Org,
  PlatformKey,
  PolicyVersion,
  RevokedToken,
  StoredEntity,
  TokenSigningKeyRecord,
  User,
} from '../../ports/records.js';
import {
  type AgentFilter,
  type AuditFilter,
  ConflictError,
  type DelegationFilter,
  type DocumentKind,
  DuplicateError,
  type OrgReader,
  type OrgStore,
  type OrgTransaction,
  type Page,
  type PageRequest,
  type PlatformStore,
  type Store,
  type StoredCheckpoint,
  type StoredDocument,
  type UserFilter,
} from '../../ports/store.js';

/** Everything the memory store holds; a transaction works on a copy and swaps it in on success. */
interface State {
  settings: Map<string, string>;
  orgs: Map<string, Org>;
  platformKeys: Map<string, PlatformKey>;
  users: Map<string, User>;
  apiKeys: Map<string, ApiKey>;
  agents: Map<string, Agent>;
  delegations: Map<string, Delegation>;
  /** Canonical audit records per org, index = seq. */
  audit: Map<string, string[]>;
  /** Merkle nodes per org, keyed `level/index`. */
  nodes: Map<string, Map<string, Uint8Array>>;
  /** Checkpoints per org, keyed by size. */
  checkpoints: Map<string, Map<number, StoredCheckpoint>>;
  tokenSigningKeys: Map<string, TokenSigningKeyRecord>;
  /** Revoked access tokens, keyed `org/jti`. */
  revokedTokens: Map<string, RevokedToken>;
  /** Policy versions keyed `org/version`; the active version per org. */
  policyVersions: Map<string, PolicyVersion>;
  policyHeads: Map<string, number>;
  /** Entities keyed `org/type\u0000id`. */
  entities: Map<string, StoredEntity>;
  /** Documents keyed `org/kind\u0000id`. */
  documents: Map<string, StoredDocument>;
}

function emptyState(): State {
  return {
    settings: new Map(),
    orgs: new Map(),
    platformKeys: new Map(),
    users: new Map(),
    apiKeys: new Map(),
    agents: new Map(),
    delegations: new Map(),
    audit: new Map(),
    nodes: new Map(),
    checkpoints: new Map(),
    tokenSigningKeys: new Map(),
    revokedTokens: new Map(),
    policyVersions: new Map(),
    policyHeads: new Map(),
    entities: new Map(),
    documents: new Map(),
  };
}

/** Key of an org-owned object in the flat maps. */
const k = (orgId: string, id: string) => `${orgId}/${id}`;
const copy = <T>(value: T): T => structuredClone(value);

function page<T>(sorted: T[], request: PageRequest, idOf: (item: T) => string): Page<T> {
  const after = request.after;
  const rest = after === undefined ? sorted : sorted.filter((item) => idOf(item) > after);
  if (rest.length <= request.limit) return { items: rest };
  const items = rest.slice(0, request.limit);
  return { items, nextCursor: idOf(items[items.length - 1] as T) };
}

/**
 * The reference store: plain maps, the same contract as SQLite, no durability. Transactions
 * are serialised and isolated (reads outside a transaction see only committed state).
 */
export class MemoryStore implements Store {
  private state: State = emptyState();
  private chain: Promise<unknown> = Promise.resolve();
  readonly platform: PlatformStore;

  constructor() {
    const store = this;
    this.platform = {
      async listOrgs(request) {
        const orgs = [...store.state.orgs.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
        return page(orgs.map(copy), request, (o) => o.id);
      },
      async getOrg(orgId) {
        return copy(store.state.orgs.get(orgId));
      },
      async getSetting(key) {
        return store.state.settings.get(key);
      },
      async setSetting(key, value) {
        await store.serialise(async (state) => state.settings.set(key, value));
      },
      async findApiKey(keyId) {
        return copy([...store.state.apiKeys.values()].find((key) => key.id === keyId));
      },
      async getPlatformKey(keyId) {
        return copy(store.state.platformKeys.get(keyId));
      },
      async insertPlatformKey(key) {
        await store.serialise(async (state) => {
          if (state.platformKeys.has(key.id)) throw new DuplicateError('platform key exists');
          state.platformKeys.set(key.id, copy(key));
        });
      },
      async countPlatformKeys() {
        return store.state.platformKeys.size;
      },
      async touchApiKey(keyId, at) {
        await store.serialise(async (state) => {
          for (const key of state.apiKeys.values()) if (key.id === keyId) key.lastUsedAt = at;
        });
      },
      async findAgentOrg(agentId) {
        return [...store.state.agents.values()].find((agent) => agent.id === agentId)?.orgId;
      },
      async listTokenSigningKeys() {
        return [...store.state.tokenSigningKeys.values()].sort((a, b) => (a.kid < b.kid ? -1 : 1)).map(copy);
      },
      async saveTokenSigningKeys(keys) {
        await store.serialise(async (state) => {
          for (const key of keys) state.tokenSigningKeys.set(key.kid, copy(key));
        });
      },
    };
  }

  /** Runs `work` on a copy of the state and swaps the copy in only if `work` succeeds. */
  serialise<T>(work: (state: State) => Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      const working = copy(this.state);
      const result = await work(working);
      this.state = working;
      return result;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  org(orgId: string): OrgStore {
    const reader = new MemoryOrgReader(() => this.state, orgId);
    const store = this;
    return Object.assign(reader, {
      transact<T>(work: (tx: OrgTransaction) => Promise<T>): Promise<T> {
        return store.serialise((state) => work(new MemoryOrgTransaction(() => state, orgId)));
      },
    });
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {
    await this.chain;
  }
}

class MemoryOrgReader implements OrgReader {
  constructor(
    protected readonly state: () => State,
    readonly orgId: string,
  ) {}

  protected owned<T extends { orgId: string; id: string }>(map: Map<string, T>): T[] {
    return [...map.values()]
      .filter((item) => item.orgId === this.orgId)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async getOrg() {
    return copy(this.state().orgs.get(this.orgId));
  }
  async getAgent(agentId: string) {
    return copy(this.state().agents.get(k(this.orgId, agentId)));
  }
  async findAgentByKid(kid: string) {
    return copy(this.owned(this.state().agents).find((a) => a.keys.some((key) => key.kid === kid)));
  }
  async listAgents(filter: AgentFilter, request: PageRequest, now: Date) {
    const agents = this.owned(this.state().agents).filter(
      (a) =>
        (!filter.status || effectiveAgentStatus(a, now) === filter.status) &&
        (!filter.ownerId || a.ownerId === filter.ownerId) &&
        (!filter.label || a.labels.includes(filter.label)) &&
        (!filter.environment || a.environments.includes(filter.environment)) &&
        (!filter.namePrefix || a.name.startsWith(filter.namePrefix)),
    );
    return page(agents.map(copy), request, (a) => a.id);
  }
  async getUser(userId: string) {
    return copy(this.state().users.get(k(this.orgId, userId)));
  }
  async findUserBySubject(issuer: string, subject: string) {
    return copy(this.owned(this.state().users).find((u) => u.issuer === issuer && u.subject === subject));
  }
  async listUsers(filter: UserFilter, request: PageRequest) {
    const users = this.owned(this.state().users).filter(
      (u) => (!filter.status || u.status === filter.status) && (!filter.kind || u.kind === filter.kind),
    );
    return page(users.map(copy), request, (u) => u.id);
  }
  async countLiveAgentsOwnedBy(userId: string) {
    return this.owned(this.state().agents).filter((a) => a.ownerId === userId && a.status !== 'revoked')
      .length;
  }
  async getPolicyVersion(version: number) {
    return copy(this.state().policyVersions.get(k(this.orgId, String(version))));
  }
  async listPolicyVersions(request: PageRequest) {
    const after = Number(request.after ?? 0);
    const versions = [...this.state().policyVersions.values()]
      .filter((v) => v.orgId === this.orgId && v.version > after)
      .sort((a, b) => a.version - b.version);
    const items = versions.slice(0, request.limit).map(copy);
    return versions.length > request.limit
      ? { items, nextCursor: String(items[items.length - 1]?.version) }
      : { items };
  }
  async activePolicyVersion() {
    return this.state().policyHeads.get(this.orgId);
  }
  async latestPolicyVersion() {
    let latest = 0;
    for (const v of this.state().policyVersions.values())
      if (v.orgId === this.orgId) latest = Math.max(latest, v.version);
    return latest;
  }
  async getDocument<T>(kind: DocumentKind, id: string) {
    return copy(this.state().documents.get(k(this.orgId, `${kind}\u0000${id}`))) as
      | StoredDocument<T>
      | undefined;
  }
  async listDocuments<T>(kind: DocumentKind, tag: string | undefined, request: PageRequest) {
    const prefix = k(this.orgId, `${kind}\u0000`);
    const all = [...this.state().documents.entries()]
      .filter(([key, d]) => key.startsWith(prefix) && (tag === undefined || d.tag === tag))
      .map(([, d]) => d)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    return page(all.map(copy), request, (d) => d.id) as Page<StoredDocument<T>>;
  }
  async getEntity(type: string, id: string) {
    return copy(this.state().entities.get(k(this.orgId, `${type}\u0000${id}`)));
  }
  async listEntities(type: string | undefined, request: PageRequest) {
    const prefix = `${this.orgId}/`;
    const all = [...this.state().entities.entries()]
      .filter(([key, e]) => key.startsWith(prefix) && (type === undefined || e.uid.type === type))
      .map(([, e]) => e)
      .sort((a, b) =>
        a.uid.type === b.uid.type ? (a.uid.id < b.uid.id ? -1 : 1) : a.uid.type < b.uid.type ? -1 : 1,
      );
    return page(all.map(copy), request, (e) => `${e.uid.type}\u0000${e.uid.id}`);
  }
  async isTokenRevoked(jti: string) {
    return this.state().revokedTokens.has(k(this.orgId, jti));
  }
  async getDelegation(delegationId: string) {
    return copy(this.state().delegations.get(k(this.orgId, delegationId)));
  }
  async listDelegations(filter: DelegationFilter, request: PageRequest) {
    const items = this.owned(this.state().delegations).filter(
      (d) =>
        (filter.delegateAgentId === undefined || d.delegateAgentId === filter.delegateAgentId) &&
        (filter.rootUserId === undefined || d.rootUserId === filter.rootUserId) &&
        (filter.status === undefined || d.status === filter.status) &&
        (filter.parentId === undefined || d.parentId === filter.parentId),
    );
    return page(items.map(copy), request, (d) => d.id);
  }
  async listDelegationSubtree(delegationId: string) {
    const all = this.owned(this.state().delegations);
    const root = all.find((d) => d.id === delegationId);
    if (!root) return [];
    return all
      .filter((d) => d.chain.includes(delegationId))
      .sort((a, b) => a.depth - b.depth || (a.id < b.id ? -1 : 1))
      .map(copy);
  }
  async getApiKey(keyId: string) {
    return copy(this.state().apiKeys.get(k(this.orgId, keyId)));
  }
  async listApiKeys(request: PageRequest) {
    return page(this.owned(this.state().apiKeys).map(copy), request, (key) => key.id);
  }
  private log(): string[] {
    return this.state().audit.get(this.orgId) ?? [];
  }
  async getAuditCanonical(seq: number) {
    return this.log()[seq];
  }
  async getAuditRecord(seq: number) {
    const canonical = this.log()[seq];
    return canonical === undefined ? undefined : (JSON.parse(canonical) as AuditRecord);
  }
  async listAuditRecords(filter: AuditFilter, request: PageRequest): Promise<Page<AuditRecord>> {
    const after = request.after === undefined ? -1 : Number(request.after);
    const matches: AuditRecord[] = [];
    for (const canonical of this.log()) {
      const r = JSON.parse(canonical) as AuditRecord;
      if (r.seq <= after) continue;
      if (filter.type !== undefined && r.type !== filter.type) continue;
      if (filter.agentId !== undefined && r.refs?.agentId !== filter.agentId) continue;
      if (filter.userId !== undefined && r.refs?.userId !== filter.userId) continue;
      if (filter.delegationId !== undefined && r.refs?.delegationId !== filter.delegationId) continue;
      if (filter.decisionId !== undefined && r.refs?.decisionId !== filter.decisionId) continue;
      if (filter.targetId !== undefined && r.target.id !== filter.targetId) continue;
      if (filter.since !== undefined && r.time < filter.since) continue;
      if (filter.until !== undefined && r.time > filter.until) continue;
      matches.push(r);
      if (matches.length > request.limit) break;
    }
    if (matches.length <= request.limit) return { items: matches };
    const items = matches.slice(0, request.limit);
    return { items, nextCursor: String(items[items.length - 1]?.seq) };
  }
  async auditLogSize() {
    return this.log().length;
  }
  async listAuditCanonical(from: number, limit: number) {
    return this.log()
      .slice(from, from + limit)
      .map((canonical, i) => ({ seq: from + i, canonical }));
  }
  protected nodes(): Map<string, Uint8Array> {
    return this.state().nodes.get(this.orgId) ?? new Map();
  }
  async getMerkleNode(level: number, index: number) {
    const hash = this.nodes().get(`${level}/${index}`);
    return hash ? new Uint8Array(hash) : undefined;
  }
  async listLeafHashes(from: number, limit: number) {
    const out: Uint8Array[] = [];
    for (let i = from; i < from + limit; i++) {
      const hash = this.nodes().get(`0/${i}`);
      if (!hash) break;
      out.push(new Uint8Array(hash));
    }
    return out;
  }
  private checkpoints(): StoredCheckpoint[] {
    return [...(this.state().checkpoints.get(this.orgId)?.values() ?? [])].sort((a, b) => a.size - b.size);
  }
  async latestCheckpoint() {
    return copy(this.checkpoints().at(-1));
  }
  async getCheckpoint(size: number) {
    return copy(this.state().checkpoints.get(this.orgId)?.get(size));
  }
  async listCheckpoints(request: PageRequest) {
    return page(this.checkpoints().map(copy), request, (c) => String(c.size).padStart(16, '0'));
  }
}

class MemoryOrgTransaction extends MemoryOrgReader implements OrgTransaction {
  private assertOrg(orgId: string) {
    if (orgId !== this.orgId)
      throw new Error(`object of org ${orgId} written through the store of ${this.orgId}`);
  }
  private insert<T extends { orgId: string; id: string }>(map: Map<string, T>, item: T) {
    this.assertOrg(item.orgId);
    // As SQLite's foreign keys do: nothing can be filed under an org that does not exist.
    if (!this.state().orgs.has(this.orgId)) throw new Error(`org ${this.orgId} does not exist`);
    if (map.has(k(this.orgId, item.id))) throw new DuplicateError('an object with this id already exists');
    map.set(k(this.orgId, item.id), copy(item));
  }
  private update<T extends { orgId: string; id: string; version: number }>(
    map: Map<string, T>,
    item: T,
    v: number,
  ) {
    this.assertOrg(item.orgId);
    const current = map.get(k(this.orgId, item.id));
    if (!current || current.version !== v)
      throw new ConflictError('changed by someone else; reload and retry');
    map.set(k(this.orgId, item.id), copy(item));
  }

  async insertOrg(org: Org) {
    if (org.id !== this.orgId) throw new Error('org id does not match the scoped store');
    if (this.state().orgs.has(org.id)) throw new DuplicateError('org exists');
    this.state().orgs.set(org.id, copy(org));
  }
  async updateOrg(org: Org, expectedVersion: number) {
    const current = this.state().orgs.get(this.orgId);
    if (!current || current.version !== expectedVersion || org.id !== this.orgId) {
      throw new ConflictError('the org was changed by someone else');
    }
    this.state().orgs.set(org.id, copy(org));
  }
  async insertAgent(agent: Agent) {
    this.assertUniqueKids(agent);
    this.insert(this.state().agents, agent);
  }
  async updateAgent(agent: Agent, expectedVersion: number) {
    this.assertUniqueKids(agent);
    this.update(this.state().agents, agent, expectedVersion);
  }
  private assertUniqueKids(agent: Agent) {
    const kids = agent.keys.map((key) => key.kid);
    if (new Set(kids).size !== kids.length) throw new DuplicateError('duplicate key');
    for (const other of this.owned(this.state().agents)) {
      if (other.id !== agent.id && other.keys.some((key) => kids.includes(key.kid))) {
        throw new DuplicateError('key registered on another agent');
      }
    }
  }
  async insertUser(user: User) {
    if (user.issuer !== undefined && (await this.findUserBySubject(user.issuer, user.subject ?? ''))) {
      throw new DuplicateError('a user with this issuer and subject exists');
    }
    this.insert(this.state().users, user);
  }
  async updateUser(user: User, expectedVersion: number) {
    this.update(this.state().users, user, expectedVersion);
  }
  async insertPolicyVersion(version: PolicyVersion) {
    const key = k(this.orgId, String(version.version));
    if (version.orgId !== this.orgId) throw new Error('policy version of another org');
    if (this.state().policyVersions.has(key)) throw new DuplicateError('this policy version exists');
    this.state().policyVersions.set(key, copy(version));
  }
  async setActivePolicyVersion(version: number) {
    this.state().policyHeads.set(this.orgId, version);
  }
  async putEntity(entity: StoredEntity) {
    this.state().entities.set(k(this.orgId, `${entity.uid.type}\u0000${entity.uid.id}`), copy(entity));
  }
  async putDocument<T>(kind: DocumentKind, document: StoredDocument<T>) {
    if (!this.state().orgs.has(this.orgId)) throw new Error(`org ${this.orgId} does not exist`);
    this.state().documents.set(
      k(this.orgId, `${kind}\u0000${document.id}`),
      copy(document) as StoredDocument,
    );
  }
  async deleteEntity(type: string, id: string) {
    return this.state().entities.delete(k(this.orgId, `${type}\u0000${id}`));
  }
  async insertRevokedToken(token: RevokedToken) {
    const key = k(this.orgId, token.jti);
    if (!this.state().revokedTokens.has(key)) this.state().revokedTokens.set(key, copy(token));
  }
  async insertDelegation(delegation: Delegation) {
    this.insert(this.state().delegations, delegation);
  }
  async updateDelegation(delegation: Delegation, expectedVersion: number) {
    this.update(this.state().delegations, delegation, expectedVersion);
  }
  async insertApiKey(key: ApiKey) {
    if ([...this.state().apiKeys.values()].some((other) => other.id === key.id)) {
      throw new DuplicateError('API key id exists');
    }
    this.insert(this.state().apiKeys, key);
  }
  async updateApiKey(key: ApiKey, expectedVersion: number) {
    const lastUsedAt = this.state().apiKeys.get(k(this.orgId, key.id))?.lastUsedAt;
    this.update(this.state().apiKeys, { ...key, lastUsedAt }, expectedVersion);
  }
  async appendAudit(event: AuditEventInput, time: string): Promise<AuditRecord> {
    if (!this.state().orgs.has(this.orgId)) throw new Error(`audit log of ${this.orgId} does not exist`);
    const log = this.state().audit.get(this.orgId) ?? [];
    const record: AuditRecord = { ...event, seq: log.length, orgId: this.orgId, time };
    const canonical = canonicalize(record);
    const nodes = this.state().nodes.get(this.orgId) ?? new Map<string, Uint8Array>();
    for (const node of nodesCompletedBy(record.seq, leafHash(utf8(canonical)), (level, index) => {
      const hash = nodes.get(`${level}/${index}`);
      if (!hash) throw new Error(`merkle node ${level}/${index} is missing`);
      return hash;
    })) {
      nodes.set(`${node.level}/${node.index}`, node.hash);
    }
    this.state().nodes.set(this.orgId, nodes);
    log.push(canonical);
    this.state().audit.set(this.orgId, log);
    return JSON.parse(canonical) as AuditRecord;
  }
  async claimSetting(key: string, value: string) {
    if (this.state().settings.has(key)) throw new DuplicateError('the setting is already set');
    this.state().settings.set(key, value);
  }
  async insertCheckpoint(checkpoint: StoredCheckpoint) {
    const checkpoints = this.state().checkpoints.get(this.orgId) ?? new Map<number, StoredCheckpoint>();
    if (checkpoints.has(checkpoint.size)) throw new DuplicateError('a checkpoint of this size exists');
    checkpoints.set(checkpoint.size, copy(checkpoint));
    this.state().checkpoints.set(this.orgId, checkpoints);
  }
}
