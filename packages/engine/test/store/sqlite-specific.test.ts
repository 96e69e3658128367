import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '@mandate/engine';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import {
  fixedClock,
  gate,
  LATER,
  makeAgent,
  makeApiKey,
  makeAuditEvent,
  makeOidcUser,
  makeOrg,
  makePlatformKey,
  T0,
} from './fixtures.js';

describe('SqliteStore (SQLite only)', () => {
  let dir: string;
  let file: string;
  /** Stores and raw connections opened by a test, closed afterwards. */
  const open: Array<SqliteStore | Database.Database> = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-sqlite-'));
    file = path.join(dir, 'mandate.db');
  });
  afterEach(async () => {
    for (const handle of open.splice(0).reverse()) {
      if (handle instanceof SqliteStore) await handle.close();
      else if (handle.open) handle.close();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function openStore(at = T0): SqliteStore {
    const store = new SqliteStore({ file, clock: fixedClock(at) });
    open.push(store);
    return store;
  }
  function raw(options?: Database.Options): Database.Database {
    const db = new Database(file, options);
    open.push(db);
    return db;
  }
  async function closeStore(store: SqliteStore): Promise<void> {
    open.splice(open.indexOf(store), 1);
    await store.close();
  }

  it('a database that aborts mid-group (disk full) leaves no write whose caller was told it failed', async () => {
    const store = openStore();
    const org = makeOrg();
    await store.org(org.id).transact((tx) => tx.insertOrg(org));
    const writer = (store as unknown as { writer: Database.Database }).writer;
    writer.pragma('wal_checkpoint(TRUNCATE)');
    const pages = writer.pragma('page_count', { simple: true }) as number;
    writer.pragma(`max_page_count = ${pages + 2}`);
    const users = ['small-a', 'x'.repeat(200_000), 'small-c'].map((displayName) => ({
      ...makeOidcUser(org.id),
      displayName,
    }));
    const results = await Promise.allSettled(
      users.map((user) => store.org(org.id).transact((tx) => tx.insertUser(user))),
    );
    writer.pragma('max_page_count = 1073741823');
    for (const [i, result] of results.entries()) {
      const stored = await store.org(org.id).getUser(users[i]?.id as string);
      if (result.status === 'fulfilled') expect(stored, `unit ${i} acknowledged but lost`).toBeDefined();
      else expect(stored, `unit ${i} rejected but written`).toBeUndefined();
    }
    expect(results[1]?.status).toBe('rejected');
  });

  it('creates the missing folder of the database file with mode 0700', async () => {
    file = path.join(dir, 'nested', 'deeper', 'mandate.db');
    openStore();
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
  });

  it('records applied migrations in schema_migrations, and re-opening does not re-apply them', async () => {
    const first = openStore(T0);
    await closeStore(first);
    const expected = MIGRATIONS.map((m) => ({ version: m.version, name: m.name, applied_at: T0 }));
    const read = () =>
      raw({ readonly: true })
        .prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version')
        .all();
    expect(read()).toEqual(expected);

    // Re-open with a later clock: nothing is applied again (a re-run would also fail on CREATE TABLE).
    const second = openStore(LATER);
    await closeStore(second);
    expect(read()).toEqual(expected);
    const db = raw({ readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
    ).map((t) => t.name);
    expect(tables).toEqual(
      expect.arrayContaining([
        'settings',
        'orgs',
        'platform_keys',
        'users',
        'api_keys',
        'agents',
        'audit_events',
      ]),
    );
  });

  it('refuses to open a database whose schema is newer than this build knows', async () => {
    await closeStore(openStore());
    const known = Math.max(...MIGRATIONS.map((m) => m.version));
    const db = raw();
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
      known + 1,
      'from the future',
      LATER,
    );
    db.close();
    expect(() => new SqliteStore({ file, clock: fixedClock() })).toThrow(
      `database schema version ${known + 1} is newer than this Mandate build knows (${known}); upgrade Mandate`,
    );
  });

  it('audit_events rejects UPDATE and DELETE, even from another connection', async () => {
    const store = openStore();
    const org = makeOrg();
    const orgStore = store.org(org.id);
    await orgStore.transact(async (tx) => {
      await tx.insertOrg(org);
      await tx.appendAudit(makeAuditEvent({ type: 'org.created' }), T0);
      await tx.appendAudit(makeAuditEvent({ type: 'org.updated' }), T0);
    });
    const before = await orgStore.listAuditRecords({}, { limit: 10 });
    const canonical = await orgStore.getAuditCanonical(0);

    const db = raw();
    expect(() => db.prepare("UPDATE audit_events SET type = 'forged' WHERE seq = 0").run()).toThrow(
      /append-only/,
    );
    expect(() =>
      db.prepare("UPDATE audit_events SET record = '{}' WHERE org_id = ? AND seq = 1").run(org.id),
    ).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_events WHERE seq = 1').run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_events').run()).toThrow(/append-only/);

    expect(await orgStore.listAuditRecords({}, { limit: 10 })).toEqual(before);
    expect(await orgStore.getAuditCanonical(0)).toBe(canonical);
    expect(await orgStore.auditLogSize()).toBe(2);
    expect((db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n).toBe(2);
  });

  it('keeps all data across close and reopen', async () => {
    const store = openStore();
    const org = makeOrg();
    const user = makeOidcUser(org.id, 'https://idp.example', 'alice');
    const agent = makeAgent(org.id, user.id);
    const key = makeApiKey(org.id, { userId: user.id });
    const platformKey = makePlatformKey();
    const record = await store.org(org.id).transact(async (tx) => {
      await tx.insertOrg(org);
      await tx.insertUser(user);
      await tx.insertAgent(agent);
      await tx.insertApiKey(key);
      return tx.appendAudit(makeAuditEvent({ refs: { agentId: agent.id } }), T0);
    });
    await store.platform.setSetting('default_org', org.id);
    await store.platform.insertPlatformKey(platformKey);
    await store.platform.touchApiKey(key.id, LATER);
    await closeStore(store);

    const reopened = openStore(LATER);
    const orgStore = reopened.org(org.id);
    expect(await orgStore.getOrg()).toEqual(org);
    expect(await orgStore.getUser(user.id)).toEqual(user);
    expect(await orgStore.findUserBySubject('https://idp.example', 'alice')).toEqual(user);
    expect(await orgStore.getAgent(agent.id)).toEqual(agent);
    expect(await orgStore.findAgentByKid(agent.keys[0]?.kid as string)).toEqual(agent);
    expect((await orgStore.listAgents({ label: 'mail' }, { limit: 10 }, new Date(T0))).items).toEqual([
      agent,
    ]);
    expect(await orgStore.getApiKey(key.id)).toEqual({ ...key, lastUsedAt: LATER });
    expect(await orgStore.getAuditRecord(0)).toEqual(record);
    expect(await orgStore.auditLogSize()).toBe(1);
    expect(await reopened.platform.getSetting('default_org')).toBe(org.id);
    expect(await reopened.platform.getPlatformKey(platformKey.id)).toEqual(platformKey);
    expect(await reopened.platform.countPlatformKeys()).toBe(1);

    // The log continues where it stopped.
    const next = await orgStore.transact((tx) => tx.appendAudit(makeAuditEvent(), LATER));
    expect(next.seq).toBe(1);
  });

  it('a queued write is visible to the reader connection only once its transaction commits', async () => {
    const store = openStore();
    const org = makeOrg();
    const orgStore = store.org(org.id);
    await orgStore.transact((tx) => tx.insertOrg(org));
    const other = raw({ readonly: true });
    const countAgents = () => (other.prepare('SELECT count(*) AS n FROM agents').get() as { n: number }).n;

    // Two units in one group: the first finishes, the second holds the transaction open.
    const user = makeOidcUser(org.id, 'https://idp.example', 'alice');
    const agent = makeAgent(org.id, user.id);
    const reached = gate();
    const release = gate();
    let firstSettled = false;
    const first = orgStore
      .transact(async (tx) => {
        await tx.insertAgent(agent);
        await tx.appendAudit(makeAuditEvent({ refs: { agentId: agent.id } }), T0);
      })
      .finally(() => {
        firstSettled = true;
      });
    const second = orgStore.transact(async (tx) => {
      await tx.insertUser(user);
      // The writer sees the first unit's uncommitted rows.
      expect(await tx.getAgent(agent.id)).toEqual(agent);
      reached.open();
      await release.promise;
    });
    await reached.promise;

    // Neither the store's reader connection nor any other connection sees uncommitted rows.
    expect(await orgStore.getAgent(agent.id)).toBeUndefined();
    expect(await orgStore.getUser(user.id)).toBeUndefined();
    expect(await orgStore.auditLogSize()).toBe(0);
    expect(countAgents()).toBe(0);
    expect(firstSettled).toBe(false);

    release.open();
    await Promise.all([first, second]);
    expect(await orgStore.getAgent(agent.id)).toEqual(agent);
    expect(await orgStore.getUser(user.id)).toEqual(user);
    expect(await orgStore.auditLogSize()).toBe(1);
    expect(countAgents()).toBe(1);
  });

  it('refuses transactions and platform writes after close()', async () => {
    const store = openStore();
    const org = makeOrg();
    await store.org(org.id).transact((tx) => tx.insertOrg(org));
    await closeStore(store);
    await expect(store.org(org.id).transact((tx) => tx.appendAudit(makeAuditEvent(), T0))).rejects.toThrow(
      /closed/,
    );
    await expect(store.platform.setSetting('k', 'v')).rejects.toThrow(/closed/);
  });
});
