import type { AuditRecord } from '@mandate/core';
import type Database from 'better-sqlite3';
import type {
  Agent,
  ApiKey,
  Delegation,
  Org,
  PolicyVersion,
  StoredEntity,
  User,
} from '../../ports/records.js';
import type {
  AgentFilter,
  AuditFilter,
  DelegationFilter,
  DocumentKind,
  OrgReader,
  Page,
  PageRequest,
  StoredCheckpoint,
  StoredDocument,
  UserFilter,
} from '../../ports/store.js';
import type { ReadCache } from './read-cache.js';
import { statement } from './statements.js';

type Row = { doc: string };
type AuditRow = { seq: number; record: string };

/** Turns a list of rows fetched with `limit + 1` into a page and its cursor. */
export function toPage<T>(rows: T[], limit: number, cursorOf: (item: T) => string): Page<T> {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  return { items, nextCursor: cursorOf(items[items.length - 1] as T) };
}

/** Org-scoped reads over one SQLite connection. Every statement binds `org_id`. */
export class SqliteOrgReader implements OrgReader {
  constructor(
    protected readonly db: Database.Database,
    readonly orgId: string,
    private readonly cache?: ReadCache,
    /** On the writer, inside a transaction: the cache only for keys this transaction did not write. */
    private readonly inTransaction = false,
  ) {}

  /** `read()` through the cache, under this org's `key` (see read-cache.ts). */
  protected cached<T>(key: string, read: () => T): T {
    if (!this.cache) return read();
    const full = `${this.orgId}\u0000${key}`;
    return this.inTransaction ? this.cache.getInTransaction(full, read) : this.cache.get(full, read);
  }

  protected doc<T>(sql: string, ...params: unknown[]): T | undefined {
    const row = statement(this.db, sql).get(this.orgId, ...params) as Row | undefined;
    return row ? (JSON.parse(row.doc) as T) : undefined;
  }

  async getOrg(): Promise<Org | undefined> {
    return this.cached('org', () => this.doc<Org>('SELECT doc FROM orgs WHERE id = ?'));
  }

  async getAgent(agentId: string): Promise<Agent | undefined> {
    return this.cached(`agent\u0000${agentId}`, () =>
      this.doc<Agent>('SELECT doc FROM agents WHERE org_id = ? AND id = ?', agentId),
    );
  }

  async findAgentByKid(kid: string): Promise<Agent | undefined> {
    return this.doc<Agent>(
      `SELECT a.doc FROM agent_keys k JOIN agents a ON a.org_id = k.org_id AND a.id = k.agent_id
       WHERE k.org_id = ? AND k.kid = ?`,
      kid,
    );
  }

  async listAgents(filter: AgentFilter, page: PageRequest, now: Date): Promise<Page<Agent>> {
    const where = ['a.org_id = ?'];
    const params: unknown[] = [this.orgId];
    const nowIso = now.toISOString();
    if (filter.status === 'expired') {
      where.push("a.status <> 'revoked' AND a.expires_at <= ?");
      params.push(nowIso);
    } else if (filter.status === 'revoked') {
      where.push("a.status = 'revoked'");
    } else if (filter.status) {
      where.push('a.status = ? AND a.expires_at > ?');
      params.push(filter.status, nowIso);
    }
    if (filter.ownerId) {
      where.push('a.owner_id = ?');
      params.push(filter.ownerId);
    }
    if (filter.namePrefix) {
      // instr rather than LIKE: no wildcards to escape, case-sensitive, and it counts characters
      // as SQLite does (a JS length would count UTF-16 units and miss names with emoji).
      where.push('instr(a.name, ?) = 1');
      params.push(filter.namePrefix);
    }
    if (filter.label) {
      where.push(
        'EXISTS (SELECT 1 FROM agent_labels l WHERE l.org_id = a.org_id AND l.agent_id = a.id AND l.label = ?)',
      );
      params.push(filter.label);
    }
    if (filter.environment) {
      where.push(
        'EXISTS (SELECT 1 FROM agent_environments e WHERE e.org_id = a.org_id AND e.agent_id = a.id AND e.environment = ?)',
      );
      params.push(filter.environment);
    }
    if (page.after) {
      where.push('a.id > ?');
      params.push(page.after);
    }
    const rows = statement(
      this.db,
      `SELECT a.doc FROM agents a WHERE ${where.join(' AND ')} ORDER BY a.id LIMIT ?`,
    ).all(...params, page.limit + 1) as Row[];
    return toPage(
      rows.map((r) => JSON.parse(r.doc) as Agent),
      page.limit,
      (a) => a.id,
    );
  }

  async getUser(userId: string): Promise<User | undefined> {
    return this.cached(`user\u0000${userId}`, () =>
      this.doc<User>('SELECT doc FROM users WHERE org_id = ? AND id = ?', userId),
    );
  }

  async findUserBySubject(issuer: string, subject: string): Promise<User | undefined> {
    return this.doc<User>(
      'SELECT doc FROM users WHERE org_id = ? AND issuer = ? AND subject = ?',
      issuer,
      subject,
    );
  }

  async listUsers(filter: UserFilter, page: PageRequest): Promise<Page<User>> {
    const where = ['org_id = ?'];
    const params: unknown[] = [this.orgId];
    if (filter.status) {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.kind) {
      where.push('kind = ?');
      params.push(filter.kind);
    }
    if (page.after) {
      where.push('id > ?');
      params.push(page.after);
    }
    const rows = statement(
      this.db,
      `SELECT doc FROM users WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`,
    ).all(...params, page.limit + 1) as Row[];
    return toPage(
      rows.map((r) => JSON.parse(r.doc) as User),
      page.limit,
      (u) => u.id,
    );
  }

  async countLiveAgentsOwnedBy(userId: string): Promise<number> {
    const row = statement(
      this.db,
      "SELECT count(*) AS n FROM agents WHERE org_id = ? AND owner_id = ? AND status <> 'revoked'",
    ).get(this.orgId, userId) as { n: number };
    return row.n;
  }

  async getPolicyVersion(version: number): Promise<PolicyVersion | undefined> {
    return this.cached(`policy\u0000${version}`, () =>
      this.doc<PolicyVersion>('SELECT doc FROM policy_versions WHERE org_id = ? AND version = ?', version),
    );
  }

  async listPolicyVersions(page: PageRequest): Promise<Page<PolicyVersion>> {
    const rows = statement(
      this.db,
      'SELECT doc FROM policy_versions WHERE org_id = ? AND version > ? ORDER BY version LIMIT ?',
    ).all(this.orgId, Number(page.after ?? 0), page.limit + 1) as { doc: string }[];
    return toPage(
      rows.map((r) => JSON.parse(r.doc) as PolicyVersion),
      page.limit,
      (v) => String(v.version),
    );
  }

  async activePolicyVersion(): Promise<number | undefined> {
    return this.cached('policy-head', () => {
      const row = statement(this.db, 'SELECT active_version FROM policy_heads WHERE org_id = ?').get(
        this.orgId,
      ) as { active_version: number } | undefined;
      return row?.active_version;
    });
  }

  async latestPolicyVersion(): Promise<number> {
    const row = statement(this.db, 'SELECT max(version) AS v FROM policy_versions WHERE org_id = ?').get(
      this.orgId,
    ) as { v: number | null };
    return row.v ?? 0;
  }

  async getEntity(type: string, id: string): Promise<StoredEntity | undefined> {
    return this.cached(`entity\u0000${type}\u0000${id}`, () =>
      this.doc<StoredEntity>('SELECT doc FROM entities WHERE org_id = ? AND type = ? AND id = ?', type, id),
    );
  }

  async getDocument<T>(kind: DocumentKind, id: string): Promise<StoredDocument<T> | undefined> {
    return this.cached(`document\u0000${kind}\u0000${id}`, () => {
      const row = statement(
        this.db,
        'SELECT id, tag, doc FROM documents WHERE org_id = ? AND kind = ? AND id = ?',
      ).get(this.orgId, kind, id) as { id: string; tag: string; doc: string } | undefined;
      return row ? { id: row.id, tag: row.tag, doc: JSON.parse(row.doc) as T } : undefined;
    });
  }

  async listDocuments<T>(
    kind: DocumentKind,
    tag: string | undefined,
    page: PageRequest,
  ): Promise<Page<StoredDocument<T>>> {
    // First pages listed by tag (the active kill-switch locks, on every decision) are cached.
    if (this.cache && tag !== undefined && page.after === undefined) {
      const group = `${this.orgId}\u0000${kind}`;
      const key = `${tag}\u0000${page.limit}`;
      const read = () => this.readDocuments<T>(kind, tag, page);
      return this.inTransaction
        ? this.cache.listInTransaction(group, key, read)
        : this.cache.list(group, key, read);
    }
    return this.readDocuments<T>(kind, tag, page);
  }

  private readDocuments<T>(
    kind: DocumentKind,
    tag: string | undefined,
    page: PageRequest,
  ): Page<StoredDocument<T>> {
    const rows = (
      tag === undefined
        ? statement(
            this.db,
            'SELECT id, tag, doc FROM documents WHERE org_id = ? AND kind = ? AND id > ? ORDER BY id LIMIT ?',
          ).all(this.orgId, kind, page.after ?? '', page.limit + 1)
        : statement(
            this.db,
            'SELECT id, tag, doc FROM documents WHERE org_id = ? AND kind = ? AND tag = ? AND id > ? ORDER BY id LIMIT ?',
          ).all(this.orgId, kind, tag, page.after ?? '', page.limit + 1)
    ) as { id: string; tag: string; doc: string }[];
    return toPage(
      rows.map((r) => ({ id: r.id, tag: r.tag, doc: JSON.parse(r.doc) as T })),
      page.limit,
      (d) => d.id,
    );
  }

  async listEntities(type: string | undefined, page: PageRequest): Promise<Page<StoredEntity>> {
    // The cursor is `type\u0000id` of the last entity of the previous page.
    const [afterType, afterId] = (page.after ?? '\u0000').split('\u0000') as [string, string];
    const rows = (
      type === undefined
        ? statement(
            this.db,
            `SELECT doc FROM entities WHERE org_id = ? AND (type > ? OR (type = ? AND id > ?))
             ORDER BY type, id LIMIT ?`,
          ).all(this.orgId, afterType, afterType, afterId ?? '', page.limit + 1)
        : statement(
            this.db,
            'SELECT doc FROM entities WHERE org_id = ? AND type = ? AND id > ? ORDER BY id LIMIT ?',
          ).all(this.orgId, type, type === afterType ? (afterId ?? '') : '', page.limit + 1)
    ) as { doc: string }[];
    return toPage(
      rows.map((r) => JSON.parse(r.doc) as StoredEntity),
      page.limit,
      (e) => `${e.uid.type}\u0000${e.uid.id}`,
    );
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return this.cached(
      `revoked\u0000${jti}`,
      () =>
        statement(this.db, 'SELECT 1 FROM revoked_tokens WHERE org_id = ? AND jti = ?').get(
          this.orgId,
          jti,
        ) !== undefined,
    );
  }

  async getDelegation(delegationId: string): Promise<Delegation | undefined> {
    return this.cached(`delegation\u0000${delegationId}`, () =>
      this.doc<Delegation>('SELECT doc FROM delegations WHERE org_id = ? AND id = ?', delegationId),
    );
  }

  async listDelegations(filter: DelegationFilter, page: PageRequest): Promise<Page<Delegation>> {
    const where = ['org_id = ?'];
    const params: unknown[] = [this.orgId];
    const columns: Array<[keyof DelegationFilter, string]> = [
      ['delegateAgentId', 'delegate_agent_id'],
      ['rootUserId', 'root_user_id'],
      ['status', 'status'],
      ['parentId', 'parent_id'],
    ];
    for (const [key, column] of columns) {
      if (filter[key] !== undefined) {
        where.push(`${column} = ?`);
        params.push(filter[key]);
      }
    }
    if (page.after) {
      where.push('id > ?');
      params.push(page.after);
    }
    const rows = statement(
      this.db,
      `SELECT doc FROM delegations WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`,
    ).all(...params, page.limit + 1) as Row[];
    return toPage(
      rows.map((r) => JSON.parse(r.doc) as Delegation),
      page.limit,
      (d) => d.id,
    );
  }

  async listDelegationSubtree(delegationId: string): Promise<Delegation[]> {
    // Portable recursive CTE (SQLite and PostgreSQL), depth-bounded by the data itself.
    const rows = statement(
      this.db,
      `WITH RECURSIVE subtree(id, level) AS (
         SELECT id, 0 FROM delegations WHERE org_id = ? AND id = ?
         UNION ALL
         SELECT d.id, s.level + 1 FROM delegations d JOIN subtree s ON d.parent_id = s.id
         WHERE d.org_id = ? AND s.level < 64
       )
       SELECT d.doc FROM subtree s JOIN delegations d ON d.org_id = ? AND d.id = s.id ORDER BY s.level, d.id`,
    ).all(this.orgId, delegationId, this.orgId, this.orgId) as Row[];
    return rows.map((r) => JSON.parse(r.doc) as Delegation);
  }

  async getApiKey(keyId: string): Promise<ApiKey | undefined> {
    const row = statement(this.db, 'SELECT doc, last_used_at FROM api_keys WHERE org_id = ? AND id = ?').get(
      this.orgId,
      keyId,
    ) as (Row & { last_used_at: string | null }) | undefined;
    return row ? withLastUsed(row) : undefined;
  }

  async listApiKeys(page: PageRequest): Promise<Page<ApiKey>> {
    const rows = statement(
      this.db,
      'SELECT doc, last_used_at FROM api_keys WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?',
    ).all(this.orgId, page.after ?? '', page.limit + 1) as (Row & { last_used_at: string | null })[];
    return toPage(rows.map(withLastUsed), page.limit, (k) => k.id);
  }

  async getAuditRecord(seq: number): Promise<AuditRecord | undefined> {
    const canonical = await this.getAuditCanonical(seq);
    return canonical === undefined ? undefined : (JSON.parse(canonical) as AuditRecord);
  }

  async getAuditCanonical(seq: number): Promise<string | undefined> {
    const row = statement(this.db, 'SELECT record FROM audit_events WHERE org_id = ? AND seq = ?').get(
      this.orgId,
      seq,
    ) as { record: string } | undefined;
    return row?.record;
  }

  async listAuditRecords(filter: AuditFilter, page: PageRequest): Promise<Page<AuditRecord>> {
    const where = ['org_id = ?'];
    const params: unknown[] = [this.orgId];
    const columns: Array<[keyof AuditFilter, string]> = [
      ['type', 'type'],
      ['agentId', 'agent_id'],
      ['userId', 'user_id'],
      ['delegationId', 'delegation_id'],
      ['decisionId', 'decision_id'],
      ['targetId', 'target_id'],
    ];
    for (const [key, column] of columns) {
      if (filter[key] !== undefined) {
        where.push(`${column} = ?`);
        params.push(filter[key]);
      }
    }
    if (filter.since) {
      where.push('time >= ?');
      params.push(filter.since);
    }
    if (filter.until) {
      where.push('time <= ?');
      params.push(filter.until);
    }
    if (page.after !== undefined) {
      where.push('seq > ?');
      params.push(Number(page.after));
    }
    const rows = statement(
      this.db,
      `SELECT seq, record FROM audit_events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`,
    ).all(...params, page.limit + 1) as AuditRow[];
    return toPage(
      rows.map((r) => JSON.parse(r.record) as AuditRecord),
      page.limit,
      (r) => String(r.seq),
    );
  }

  async auditLogSize(): Promise<number> {
    return this.logSizeNow();
  }

  protected logSizeNow(): number {
    const row = statement(this.db, 'SELECT log_size FROM orgs WHERE id = ?').get(this.orgId) as
      | { log_size: number }
      | undefined;
    return row?.log_size ?? 0;
  }

  async listAuditCanonical(from: number, limit: number): Promise<Array<{ seq: number; canonical: string }>> {
    const rows = statement(
      this.db,
      `SELECT e.seq, e.record FROM audit_events e JOIN orgs o ON o.id = e.org_id
         WHERE e.org_id = ? AND e.seq >= ? AND e.seq < o.log_size ORDER BY e.seq LIMIT ?`,
    ).all(this.orgId, from, limit) as AuditRow[];
    return rows.map((r) => ({ seq: r.seq, canonical: r.record }));
  }

  async getMerkleNode(level: number, index: number): Promise<Uint8Array | undefined> {
    return this.nodeNow(level, index);
  }

  protected nodeNow(level: number, index: number): Uint8Array | undefined {
    const row = statement(
      this.db,
      'SELECT hash FROM merkle_nodes WHERE org_id = ? AND level = ? AND idx = ?',
    ).get(this.orgId, level, index) as { hash: Buffer } | undefined;
    return row ? new Uint8Array(row.hash) : undefined;
  }

  async listLeafHashes(from: number, limit: number): Promise<Uint8Array[]> {
    const rows = statement(
      this.db,
      'SELECT hash FROM merkle_nodes WHERE org_id = ? AND level = 0 AND idx >= ? ORDER BY idx LIMIT ?',
    ).all(this.orgId, from, limit) as { hash: Buffer }[];
    return rows.map((r) => new Uint8Array(r.hash));
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const row = statement(
      this.db,
      'SELECT size, root, note, signed_at FROM checkpoints WHERE org_id = ? ORDER BY size DESC LIMIT 1',
    ).get(this.orgId) as CheckpointRow | undefined;
    return row ? toCheckpoint(row) : undefined;
  }

  async getCheckpoint(size: number): Promise<StoredCheckpoint | undefined> {
    const row = statement(
      this.db,
      'SELECT size, root, note, signed_at FROM checkpoints WHERE org_id = ? AND size = ?',
    ).get(this.orgId, size) as CheckpointRow | undefined;
    return row ? toCheckpoint(row) : undefined;
  }

  async listCheckpoints(page: PageRequest): Promise<Page<StoredCheckpoint>> {
    const rows = statement(
      this.db,
      'SELECT size, root, note, signed_at FROM checkpoints WHERE org_id = ? AND size > ? ORDER BY size LIMIT ?',
    ).all(this.orgId, page.after === undefined ? -1 : Number(page.after), page.limit + 1) as CheckpointRow[];
    return toPage(rows.map(toCheckpoint), page.limit, (c) => String(c.size));
  }
}

type CheckpointRow = { size: number; root: Buffer; note: string; signed_at: string };
const toCheckpoint = (row: CheckpointRow): StoredCheckpoint => ({
  size: row.size,
  root: new Uint8Array(row.root),
  note: row.note,
  signedAt: row.signed_at,
});

function withLastUsed(row: Row & { last_used_at: string | null }): ApiKey {
  const key = JSON.parse(row.doc) as ApiKey;
  if (row.last_used_at) key.lastUsedAt = row.last_used_at;
  return key;
}
