import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEngine, type Engine, FileSignedHeadStore, LogSigningKey, SqliteStore } from '@mandate/engine';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';

/** The signer never signs a log that contradicts what it signed before, across restarts. */
describe('signed heads', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  function open(dir: string): { engine: Engine; store: SqliteStore } {
    const store = new SqliteStore({ file: path.join(dir, 'm.db'), clock: { now: () => new Date() } });
    const engine = createEngine(store, {
      logKey: LogSigningKey.loadOrCreate(path.join(dir, 'key')),
      signedHeads: new FileSignedHeadStore(path.join(dir, 'heads.json')),
    });
    return { engine, store };
  }

  it('refuses to sign a log truncated behind its back, even after a restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-heads-'));
    dirs.push(dir);
    let { engine, store } = open(dir);
    const { org } = await engine.orgs.ensureDefaultOrg();
    const signed = await engine.checkpoints.current(org.id);
    expect(signed.size).toBe(2);
    await store.close();

    const db = new Database(path.join(dir, 'm.db'));
    db.exec(
      'DROP TRIGGER audit_events_no_delete; DROP TRIGGER merkle_nodes_no_delete; DROP TRIGGER checkpoints_no_delete',
    );
    db.prepare('DELETE FROM audit_events WHERE seq = 1').run();
    db.prepare('DELETE FROM merkle_nodes WHERE NOT (level = 0 AND idx = 0)').run();
    db.prepare('DELETE FROM checkpoints').run();
    db.prepare('UPDATE orgs SET log_size = 1').run();
    db.close();

    ({ engine, store } = open(dir));
    await expect(engine.checkpoints.current(org.id)).rejects.toThrow(
      /shorter than its last signed checkpoint/,
    );
    await store.close();
  });

  it('signs again, identically, when only the checkpoint rows were lost', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-heads-'));
    dirs.push(dir);
    let { engine, store } = open(dir);
    const { org } = await engine.orgs.ensureDefaultOrg();
    const first = await engine.checkpoints.current(org.id);
    await store.close();
    const db = new Database(path.join(dir, 'm.db'));
    db.exec('DROP TRIGGER checkpoints_no_delete; DELETE FROM checkpoints');
    db.close();
    ({ engine, store } = open(dir));
    expect((await engine.checkpoints.current(org.id)).note).toBe(first.note);
    await store.close();
  });
});
