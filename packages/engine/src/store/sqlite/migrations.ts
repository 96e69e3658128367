import type Database from 'better-sqlite3';

/**
 * Versioned schema migrations, applied in order at start inside one transaction each.
 * SQL stays portable (TEXT, INTEGER, plain indexes) so the PostgreSQL store can mirror it.
 * Objects are stored as a JSON document plus the columns queries filter on.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'foundation',
    sql: `
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE orgs (
        id TEXT PRIMARY KEY,
        log_size INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL,
        doc TEXT NOT NULL
      );
      CREATE TABLE platform_keys (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
      CREATE TABLE users (
        org_id TEXT NOT NULL REFERENCES orgs(id),
        id TEXT NOT NULL,
        issuer TEXT,
        subject TEXT,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (org_id, id)
      );
      CREATE UNIQUE INDEX users_subject ON users (org_id, issuer, subject) WHERE issuer IS NOT NULL;
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES orgs(id),
        version INTEGER NOT NULL,
        last_used_at TEXT,
        doc TEXT NOT NULL
      );
      CREATE INDEX api_keys_org ON api_keys (org_id, id);
      CREATE TABLE agents (
        org_id TEXT NOT NULL REFERENCES orgs(id),
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        status TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (org_id, id)
      );
      CREATE INDEX agents_owner ON agents (org_id, owner_id);
      CREATE TABLE agent_labels (org_id TEXT NOT NULL, agent_id TEXT NOT NULL, label TEXT NOT NULL,
        PRIMARY KEY (org_id, label, agent_id));
      CREATE TABLE agent_environments (org_id TEXT NOT NULL, agent_id TEXT NOT NULL, environment TEXT NOT NULL,
        PRIMARY KEY (org_id, environment, agent_id));
      CREATE TABLE agent_keys (org_id TEXT NOT NULL, kid TEXT NOT NULL, agent_id TEXT NOT NULL,
        PRIMARY KEY (org_id, kid));
      CREATE TABLE audit_events (
        org_id TEXT NOT NULL REFERENCES orgs(id),
        seq INTEGER NOT NULL,
        time TEXT NOT NULL,
        type TEXT NOT NULL,
        agent_id TEXT,
        user_id TEXT,
        delegation_id TEXT,
        decision_id TEXT,
        record TEXT NOT NULL,
        PRIMARY KEY (org_id, seq)
      );
      CREATE INDEX audit_by_type ON audit_events (org_id, type, seq);
      CREATE INDEX audit_by_agent ON audit_events (org_id, agent_id, seq) WHERE agent_id IS NOT NULL;
      CREATE INDEX audit_by_user ON audit_events (org_id, user_id, seq) WHERE user_id IS NOT NULL;
      CREATE INDEX audit_by_time ON audit_events (org_id, time);
      -- The audit log is append-only: the store refuses to change or remove a record.
      CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
      CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
    `,
  },
  {
    version: 2,
    name: 'merkle log',
    sql: `
      -- Every complete subtree's root, written once when it completes: level 0 holds leaf hashes.
      CREATE TABLE merkle_nodes (
        org_id TEXT NOT NULL REFERENCES orgs(id),
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (org_id, level, idx)
      );
      -- Signed checkpoints; one per size, so two different roots can never be signed for one size.
      CREATE TABLE checkpoints (
        org_id TEXT NOT NULL REFERENCES orgs(id),
        size INTEGER NOT NULL,
        root BLOB NOT NULL,
        note TEXT NOT NULL,
        signed_at TEXT NOT NULL,
        PRIMARY KEY (org_id, size)
      );
      -- Explain looks records up by the object they are about.
      ALTER TABLE audit_events ADD COLUMN target_type TEXT;
      ALTER TABLE audit_events ADD COLUMN target_id TEXT;
      CREATE INDEX audit_by_target ON audit_events (org_id, target_id, seq);
      CREATE TRIGGER merkle_nodes_no_update BEFORE UPDATE ON merkle_nodes
        BEGIN SELECT RAISE(ABORT, 'merkle_nodes is append-only'); END;
      CREATE TRIGGER merkle_nodes_no_delete BEFORE DELETE ON merkle_nodes
        BEGIN SELECT RAISE(ABORT, 'merkle_nodes is append-only'); END;
      CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
        BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
      CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
        BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
    `,
  },
  {
    version: 3,
    name: 'delegations',
    sql: `
      CREATE TABLE delegations (
        org_id TEXT NOT NULL REFERENCES orgs(id),
        id TEXT NOT NULL,
        parent_id TEXT,
        root_user_id TEXT NOT NULL,
        delegate_agent_id TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (org_id, id)
      );
      CREATE INDEX delegations_parent ON delegations (org_id, parent_id);
      CREATE INDEX delegations_root_user ON delegations (org_id, root_user_id);
      CREATE INDEX delegations_delegate ON delegations (org_id, delegate_agent_id);
    `,
  },
  {
    version: 4,
    name: 'oauth',
    sql: `
      CREATE TABLE token_signing_keys (
        kid TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        doc TEXT NOT NULL
      );
      CREATE TABLE revoked_tokens (
        org_id TEXT NOT NULL REFERENCES orgs(id),
        jti TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        revoked_at TEXT NOT NULL,
        PRIMARY KEY (org_id, jti)
      );
      -- Client authentication finds an agent's org from its id alone.
      CREATE INDEX agents_by_id ON agents (id);
    `,
  },
  {
    version: 5,
    name: 'policies and entities',
    sql: `
      CREATE TABLE policy_versions (
        org_id TEXT NOT NULL REFERENCES orgs(id),
        version INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (org_id, version)
      );
      CREATE TABLE policy_heads (
        org_id TEXT PRIMARY KEY REFERENCES orgs(id),
        active_version INTEGER NOT NULL
      );
      CREATE TRIGGER policy_versions_no_update BEFORE UPDATE ON policy_versions
        BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;
      CREATE TABLE entities (
        org_id TEXT NOT NULL REFERENCES orgs(id),
        type TEXT NOT NULL,
        id TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (org_id, type, id)
      );
    `,
  },
  {
    version: 6,
    name: 'live-context documents',
    sql: `
      CREATE TABLE documents (
        org_id TEXT NOT NULL REFERENCES orgs(id),
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        tag TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (org_id, kind, id)
      );
      CREATE INDEX documents_by_tag ON documents (org_id, kind, tag, id);
    `,
  },
];

export function migrate(db: Database.Database, now: () => Date): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
      (r) => r.version,
    ),
  );
  const newest = Math.max(0, ...applied);
  const known = Math.max(...MIGRATIONS.map((m) => m.version));
  if (newest > known) {
    throw new Error(
      `database schema version ${newest} is newer than this Mandate build knows (${known}); upgrade Mandate`,
    );
  }
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        migration.version,
        migration.name,
        now().toISOString(),
      );
    })();
  }
}
