import { type AuditEventInput, type AuditRecord, canonicalize, nodesCompletedBy } from '@mandate/core';
import type Database from 'better-sqlite3';
import { nativeLeafHash, nativeNodeHash } from '../../audit/native-hash.js';
import type {
  Agent,
  ApiKey,
  Delegation,
  Org,
  PolicyVersion,
  RevokedToken,
  StoredEntity,
  User,
} from '../../ports/records.js';
import {
  ConflictError,
  type DocumentKind,
  DuplicateError,
  type OrgTransaction,
  type StoredCheckpoint,
  type StoredDocument,
} from '../../ports/store.js';
import type { LogHeads } from './log-heads.js';
import { SqliteOrgReader } from './org-reader.js';
import type { ReadCache } from './read-cache.js';
import { statement } from './statements.js';

/** Org-scoped writes on the writer connection; only ever used inside the write queue's transaction. */
export class SqliteOrgTransaction extends SqliteOrgReader implements OrgTransaction {
  constructor(
    db: Database.Database,
    orgId: string,
    private readonly heads?: LogHeads,
    /** The reader's cache: written keys are dropped from it; keys not written here are read from it. */
    private readonly readCache?: ReadCache,
  ) {
    super(db, orgId, readCache, true);
  }

  private invalidate(key: string): void {
    this.readCache?.invalidate(`${this.orgId}\u0000${key}`);
  }

  private run(sql: string, ...params: unknown[]): Database.RunResult {
    try {
      return statement(this.db, sql).run(...params);
    } catch (error) {
      if (isUniqueViolation(error)) throw new DuplicateError('an object with this identity already exists');
      throw error;
    }
  }

  private expectOneRow(result: Database.RunResult, what: string): void {
    if (result.changes !== 1)
      throw new ConflictError(`${what} was changed by someone else; reload and retry`);
  }

  async insertOrg(org: Org): Promise<void> {
    this.invalidate('org');
    if (org.id !== this.orgId) throw new Error('org id does not match the scoped store');
    this.run(
      'INSERT INTO orgs (id, version, doc) VALUES (?, ?, ?)',
      org.id,
      org.version,
      JSON.stringify(org),
    );
  }

  async updateOrg(org: Org, expectedVersion: number): Promise<void> {
    this.invalidate('org');
    if (org.id !== this.orgId) throw new Error('org id does not match the scoped store');
    const result = this.run(
      'UPDATE orgs SET version = ?, doc = ? WHERE id = ? AND version = ?',
      org.version,
      JSON.stringify(org),
      this.orgId,
      expectedVersion,
    );
    this.expectOneRow(result, 'the org');
  }

  async insertAgent(agent: Agent): Promise<void> {
    this.invalidate(`agent\u0000${agent.id}`);
    this.assertOrg(agent.orgId);
    this.run(
      `INSERT INTO agents (org_id, id, name, owner_id, status, expires_at, version, doc)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      this.orgId,
      agent.id,
      agent.name,
      agent.ownerId,
      agent.status,
      agent.expiresAt,
      agent.version,
      JSON.stringify(agent),
    );
    this.writeAgentIndexes(agent);
  }

  async updateAgent(agent: Agent, expectedVersion: number): Promise<void> {
    this.invalidate(`agent\u0000${agent.id}`);
    this.assertOrg(agent.orgId);
    const result = this.run(
      `UPDATE agents SET name = ?, owner_id = ?, status = ?, expires_at = ?, version = ?, doc = ?
       WHERE org_id = ? AND id = ? AND version = ?`,
      agent.name,
      agent.ownerId,
      agent.status,
      agent.expiresAt,
      agent.version,
      JSON.stringify(agent),
      this.orgId,
      agent.id,
      expectedVersion,
    );
    this.expectOneRow(result, 'the agent');
    for (const table of ['agent_labels', 'agent_environments', 'agent_keys']) {
      this.run(`DELETE FROM ${table} WHERE org_id = ? AND agent_id = ?`, this.orgId, agent.id);
    }
    this.writeAgentIndexes(agent);
  }

  private writeAgentIndexes(agent: Agent): void {
    for (const label of new Set(agent.labels)) {
      this.run(
        'INSERT INTO agent_labels (org_id, agent_id, label) VALUES (?, ?, ?)',
        this.orgId,
        agent.id,
        label,
      );
    }
    for (const environment of new Set(agent.environments)) {
      this.run(
        'INSERT INTO agent_environments (org_id, agent_id, environment) VALUES (?, ?, ?)',
        this.orgId,
        agent.id,
        environment,
      );
    }
    for (const key of agent.keys) {
      this.run(
        'INSERT INTO agent_keys (org_id, kid, agent_id) VALUES (?, ?, ?)',
        this.orgId,
        key.kid,
        agent.id,
      );
    }
  }

  async insertUser(user: User): Promise<void> {
    this.invalidate(`user\u0000${user.id}`);
    this.assertOrg(user.orgId);
    this.run(
      `INSERT INTO users (org_id, id, issuer, subject, kind, status, version, doc)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      this.orgId,
      user.id,
      user.issuer ?? null,
      user.subject ?? null,
      user.kind,
      user.status,
      user.version,
      JSON.stringify(user),
    );
  }

  async updateUser(user: User, expectedVersion: number): Promise<void> {
    this.invalidate(`user\u0000${user.id}`);
    this.assertOrg(user.orgId);
    const result = this.run(
      `UPDATE users SET issuer = ?, subject = ?, kind = ?, status = ?, version = ?, doc = ?
       WHERE org_id = ? AND id = ? AND version = ?`,
      user.issuer ?? null,
      user.subject ?? null,
      user.kind,
      user.status,
      user.version,
      JSON.stringify(user),
      this.orgId,
      user.id,
      expectedVersion,
    );
    this.expectOneRow(result, 'the user');
  }

  async insertPolicyVersion(version: PolicyVersion): Promise<void> {
    this.invalidate(`policy\u0000${version.version}`);
    this.assertOrg(version.orgId);
    this.run(
      'INSERT INTO policy_versions (org_id, version, doc) VALUES (?, ?, ?)',
      this.orgId,
      version.version,
      JSON.stringify(version),
    );
  }

  async setActivePolicyVersion(version: number): Promise<void> {
    this.invalidate('policy-head');
    this.run(
      `INSERT INTO policy_heads (org_id, active_version) VALUES (?, ?)
       ON CONFLICT (org_id) DO UPDATE SET active_version = excluded.active_version`,
      this.orgId,
      version,
    );
  }

  async putEntity(entity: StoredEntity): Promise<void> {
    this.invalidate(`entity\u0000${entity.uid.type}\u0000${entity.uid.id}`);
    this.run(
      `INSERT INTO entities (org_id, type, id, doc) VALUES (?, ?, ?, ?)
       ON CONFLICT (org_id, type, id) DO UPDATE SET doc = excluded.doc`,
      this.orgId,
      entity.uid.type,
      entity.uid.id,
      JSON.stringify(entity),
    );
  }

  async putDocument<T>(kind: DocumentKind, document: StoredDocument<T>): Promise<void> {
    this.invalidate(`document\u0000${kind}\u0000${document.id}`);
    this.readCache?.invalidateLists(`${this.orgId}\u0000${kind}`);
    this.run(
      `INSERT INTO documents (org_id, kind, id, tag, doc) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (org_id, kind, id) DO UPDATE SET tag = excluded.tag, doc = excluded.doc`,
      this.orgId,
      kind,
      document.id,
      document.tag,
      JSON.stringify(document.doc),
    );
  }

  async deleteEntity(type: string, id: string): Promise<boolean> {
    this.invalidate(`entity\u0000${type}\u0000${id}`);
    return (
      this.run('DELETE FROM entities WHERE org_id = ? AND type = ? AND id = ?', this.orgId, type, id)
        .changes > 0
    );
  }

  async insertRevokedToken(token: RevokedToken): Promise<void> {
    this.invalidate(`revoked\u0000${token.jti}`);
    this.run(
      `INSERT INTO revoked_tokens (org_id, jti, expires_at, revoked_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (org_id, jti) DO NOTHING`,
      this.orgId,
      token.jti,
      token.expiresAt,
      token.revokedAt,
    );
  }

  async insertDelegation(delegation: Delegation): Promise<void> {
    this.invalidate(`delegation\u0000${delegation.id}`);
    this.assertOrg(delegation.orgId);
    this.run(
      `INSERT INTO delegations (org_id, id, parent_id, root_user_id, delegate_agent_id, status, version, doc)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      this.orgId,
      delegation.id,
      delegation.parentId ?? null,
      delegation.rootUserId,
      delegation.delegateAgentId,
      delegation.status,
      delegation.version,
      JSON.stringify(delegation),
    );
  }

  async updateDelegation(delegation: Delegation, expectedVersion: number): Promise<void> {
    this.invalidate(`delegation\u0000${delegation.id}`);
    this.assertOrg(delegation.orgId);
    const result = this.run(
      'UPDATE delegations SET status = ?, version = ?, doc = ? WHERE org_id = ? AND id = ? AND version = ?',
      delegation.status,
      delegation.version,
      JSON.stringify(delegation),
      this.orgId,
      delegation.id,
      expectedVersion,
    );
    this.expectOneRow(result, 'the delegation');
  }

  async insertApiKey(key: ApiKey): Promise<void> {
    this.readCache?.invalidate(`apikey\u0000${key.id}`);
    this.assertOrg(key.orgId);
    this.run(
      'INSERT INTO api_keys (id, org_id, version, doc) VALUES (?, ?, ?, ?)',
      key.id,
      this.orgId,
      key.version,
      JSON.stringify(key),
    );
  }

  async updateApiKey(key: ApiKey, expectedVersion: number): Promise<void> {
    this.readCache?.invalidate(`apikey\u0000${key.id}`);
    this.assertOrg(key.orgId);
    const { lastUsedAt: _ignored, ...doc } = key;
    const result = this.run(
      'UPDATE api_keys SET version = ?, doc = ? WHERE org_id = ? AND id = ? AND version = ?',
      key.version,
      JSON.stringify(doc),
      this.orgId,
      key.id,
      expectedVersion,
    );
    this.expectOneRow(result, 'the API key');
  }

  async appendAudit(event: AuditEventInput, time: string): Promise<AuditRecord> {
    const seq = this.heads?.size(this.orgId) ?? this.logSizeNow();
    const record: AuditRecord = { ...event, seq, orgId: this.orgId, time };
    const canonical = canonicalize(record);
    this.run(
      `INSERT INTO audit_events (org_id, seq, time, type, agent_id, user_id, delegation_id, decision_id, record,
         target_type, target_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      this.orgId,
      seq,
      time,
      event.type,
      event.refs?.agentId ?? null,
      event.refs?.userId ?? null,
      event.refs?.delegationId ?? null,
      event.refs?.decisionId ?? null,
      canonical,
      event.target.type,
      event.target.id,
    );
    const insertNode = statement(
      this.db,
      'INSERT INTO merkle_nodes (org_id, level, idx, hash) VALUES (?, ?, ?, ?)',
    );
    const nodes = nodesCompletedBy(
      seq,
      nativeLeafHash(canonical),
      (level, index) => {
        const hash = this.heads?.node(this.orgId, level, index) ?? this.nodeNow(level, index);
        if (!hash) throw new Error(`merkle node ${level}/${index} of ${this.orgId} is missing`);
        return hash;
      },
      nativeNodeHash,
    );
    for (const node of nodes) insertNode.run(this.orgId, node.level, node.index, node.hash);
    const bumped = this.run(
      'UPDATE orgs SET log_size = log_size + 1 WHERE id = ? AND log_size = ?',
      this.orgId,
      seq,
    );
    if (bumped.changes !== 1) {
      this.heads?.clear();
      throw new Error(`audit log of ${this.orgId} does not exist or changed under this process`);
    }
    this.heads?.appended(this.orgId, seq + 1, nodes);
    return JSON.parse(canonical) as AuditRecord;
  }

  async claimSetting(key: string, value: string): Promise<void> {
    this.run('INSERT INTO settings (key, value) VALUES (?, ?)', key, value);
  }

  async insertCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    this.run(
      'INSERT INTO checkpoints (org_id, size, root, note, signed_at) VALUES (?, ?, ?, ?, ?)',
      this.orgId,
      checkpoint.size,
      checkpoint.root,
      checkpoint.note,
      checkpoint.signedAt,
    );
  }

  private assertOrg(orgId: string): void {
    // Defence in depth: a service bug must not be able to file an object under another org.
    if (orgId !== this.orgId)
      throw new Error(`object of org ${orgId} written through the store of ${this.orgId}`);
  }
}

export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
