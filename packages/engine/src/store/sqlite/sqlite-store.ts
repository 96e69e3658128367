import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../../ports/clock.js';
import type { ApiKey, Org, PlatformKey, TokenSigningKeyRecord } from '../../ports/records.js';
import {
  DuplicateError,
  type OrgStore,
  type OrgTransaction,
  type Page,
  type PageRequest,
  type PlatformStore,
  type Store,
} from '../../ports/store.js';
import { ensureDir } from '../../util/ensure-dir.js';
import { LogHeads } from './log-heads.js';
import { migrate } from './migrations.js';
import { SqliteOrgReader, toPage } from './org-reader.js';
import { isUniqueViolation, SqliteOrgTransaction } from './org-transaction.js';
import { ReadCache } from './read-cache.js';
import { statement } from './statements.js';
import { type TransactionDriver, WriteQueue, type WriteQueueOptions } from './write-queue.js';

export interface SqliteStoreOptions {
  /** Path of the database file; its folder is created (mode 0700) if missing. */
  file: string;
  clock: Clock;
  writeQueue?: Partial<WriteQueueOptions>;
}

/**
 * The embedded store. Two connections to one WAL database: a writer that only the write queue
 * uses, and a reader for everything else, so reads never see a transaction in progress.
 *
 * Durability: a group's callers hear of their writes only once the WAL holding them is on disk.
 * SQLite's synchronous=FULL would fsync inside COMMIT, on the event loop, stalling every request
 * for the length of a disk flush; instead the writer runs synchronous=NORMAL (SQLite still syncs
 * around checkpoints) and the write queue calls `fdatasync` on the WAL file after each COMMIT,
 * on libuv's thread pool, before it settles the group. A committed, flushed WAL frame survives
 * power loss exactly as with FULL.
 */
export class SqliteStore implements Store {
  readonly platform: PlatformStore;
  private readonly writer: Database.Database;
  private readonly reader: Database.Database;
  private readonly queue: WriteQueue<Database.Database>;
  private readonly walFd: number;
  /** Transactions committed and WAL flushes made since the store opened (for benchmarks, metrics). */
  readonly stats = { commits: 0, flushes: 0 };
  private readonly heads: LogHeads;
  private readonly cache: ReadCache;

  constructor(options: SqliteStoreOptions) {
    ensureDir(path.dirname(options.file));
    this.writer = new Database(options.file);
    this.writer.pragma('journal_mode = WAL');
    this.writer.pragma('synchronous = NORMAL');
    this.writer.pragma('foreign_keys = ON');
    // Each unit of a group runs in a savepoint, whose statement journal would otherwise be a temp
    // file: in memory it costs a third less per append (measured with bench/lib/appends.mjs). It
    // only undoes a failed unit; crash recovery is the WAL's, so nothing durable depends on it.
    this.writer.pragma('temp_store = MEMORY');
    this.writer.pragma('busy_timeout = 5000');
    try {
      migrate(this.writer, () => options.clock.now());
    } catch (error) {
      this.writer.close();
      throw error;
    }
    this.reader = new Database(options.file, { readonly: true });
    this.reader.pragma('busy_timeout = 5000');
    // The WAL exists from the first write (the migrations) until the last connection closes.
    this.walFd = fs.openSync(`${options.file}-wal`, 'r+');
    const writer = this.writer;
    const walFd = this.walFd;
    const heads = new LogHeads();
    this.heads = heads;
    const cache = new ReadCache();
    this.cache = cache;
    // Prepared once: `exec` compiles its SQL on every call, and these run for every unit.
    const run = (sql: string) => {
      const prepared = writer.prepare(sql);
      return () => void prepared.run();
    };
    const commit = run('COMMIT');
    const driver: TransactionDriver<Database.Database> = {
      begin: run('BEGIN IMMEDIATE'),
      savepoint: run('SAVEPOINT unit'),
      release: run('RELEASE unit'),
      rollbackToSavepoint: () => writer.exec('ROLLBACK TO unit; RELEASE unit'),
      commit: () => {
        commit();
        this.stats.commits++;
      },
      rollback: () => writer.exec('ROLLBACK'),
      inTransaction: () => writer.inTransaction,
      transaction: () => writer,
      afterCommit: () => cache.afterCommit(),
      afterRollback: () => heads.clear(),
      sync: () =>
        new Promise<void>((resolve, reject) => {
          this.stats.flushes++;
          fs.fdatasync(walFd, (error) => (error ? reject(error) : resolve()));
        }),
    };
    this.queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0, ...options.writeQueue });
    this.platform = new SqlitePlatformStore(
      this.reader,
      (work) => this.queue.enqueue(async (db) => work(db)),
      cache,
    );
  }

  org(orgId: string): OrgStore {
    return new SqliteOrgStore(this.reader, orgId, this.queue, this.heads, this.cache);
  }

  /**
   * Drops every cached read and the in-memory log heads. The store assumes it is the only
   * writer; after the database file was changed by anything else (a restore, a hand edit), call
   * this, or restart, before the next decision.
   */
  forgetCachedReads(): void {
    this.cache.clear();
    this.heads.clear();
  }

  async ping(): Promise<void> {
    statement(this.reader, 'SELECT 1').get();
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.reader.close();
    this.writer.close();
    fs.closeSync(this.walFd);
  }
}

class SqliteOrgStore extends SqliteOrgReader implements OrgStore {
  constructor(
    reader: Database.Database,
    orgId: string,
    private readonly queue: WriteQueue<Database.Database>,
    private readonly heads: LogHeads,
    private readonly readCache: ReadCache,
  ) {
    super(reader, orgId, readCache);
  }

  transact<T>(work: (tx: OrgTransaction) => Promise<T>): Promise<T> {
    return this.queue.enqueue((db) =>
      work(new SqliteOrgTransaction(db, this.orgId, this.heads, this.readCache)),
    );
  }
}

class SqlitePlatformStore implements PlatformStore {
  constructor(
    private readonly db: Database.Database,
    private readonly write: <T>(work: (db: Database.Database) => T) => Promise<T>,
    private readonly cache: ReadCache,
  ) {}

  async listOrgs(page: PageRequest): Promise<Page<Org>> {
    const rows = statement(this.db, 'SELECT doc FROM orgs WHERE id > ? ORDER BY id LIMIT ?').all(
      page.after ?? '',
      page.limit + 1,
    ) as { doc: string }[];
    return toPage(
      rows.map((r) => JSON.parse(r.doc) as Org),
      page.limit,
      (o) => o.id,
    );
  }

  async getOrg(orgId: string): Promise<Org | undefined> {
    const row = statement(this.db, 'SELECT doc FROM orgs WHERE id = ?').get(orgId) as
      | { doc: string }
      | undefined;
    return row ? (JSON.parse(row.doc) as Org) : undefined;
  }

  async getSetting(key: string): Promise<string | undefined> {
    const row = statement(this.db, 'SELECT value FROM settings WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.write((db) =>
      statement(
        db,
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ).run(key, value),
    );
  }

  async findApiKey(keyId: string): Promise<ApiKey | undefined> {
    // Every API request looks its key up: cached, dropped by any write of the key (read-cache.ts).
    return this.cache.get(`apikey\u0000${keyId}`, () => {
      const row = statement(this.db, 'SELECT doc, last_used_at FROM api_keys WHERE id = ?').get(keyId) as
        | { doc: string; last_used_at: string | null }
        | undefined;
      if (!row) return undefined;
      const key = JSON.parse(row.doc) as ApiKey;
      if (row.last_used_at) key.lastUsedAt = row.last_used_at;
      return key;
    });
  }

  async getPlatformKey(keyId: string): Promise<PlatformKey | undefined> {
    const row = statement(this.db, 'SELECT doc FROM platform_keys WHERE id = ?').get(keyId) as
      | { doc: string }
      | undefined;
    return row ? (JSON.parse(row.doc) as PlatformKey) : undefined;
  }

  async insertPlatformKey(key: PlatformKey): Promise<void> {
    await this.write((db) => {
      try {
        statement(db, 'INSERT INTO platform_keys (id, doc) VALUES (?, ?)').run(key.id, JSON.stringify(key));
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateError('a platform key with this id exists');
        throw error;
      }
    });
  }

  async countPlatformKeys(): Promise<number> {
    return (statement(this.db, 'SELECT count(*) AS n FROM platform_keys').get() as { n: number }).n;
  }

  async touchApiKey(keyId: string, at: string): Promise<void> {
    await this.write((db) => {
      this.cache.invalidate(`apikey\u0000${keyId}`);
      statement(db, 'UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(at, keyId);
    });
  }

  async findAgentOrg(agentId: string): Promise<string | undefined> {
    const row = statement(this.db, 'SELECT org_id FROM agents WHERE id = ?').get(agentId) as
      | { org_id: string }
      | undefined;
    return row?.org_id;
  }

  async listTokenSigningKeys(): Promise<TokenSigningKeyRecord[]> {
    const rows = statement(this.db, 'SELECT doc FROM token_signing_keys ORDER BY kid').all() as {
      doc: string;
    }[];
    return rows.map((r) => JSON.parse(r.doc) as TokenSigningKeyRecord);
  }

  async saveTokenSigningKeys(keys: TokenSigningKeyRecord[]): Promise<void> {
    await this.write((db) => {
      for (const key of keys) {
        statement(
          db,
          `INSERT INTO token_signing_keys (kid, status, doc) VALUES (?, ?, ?)
           ON CONFLICT (kid) DO UPDATE SET status = excluded.status, doc = excluded.doc`,
        ).run(key.kid, key.status, JSON.stringify(key));
      }
    });
  }
}
