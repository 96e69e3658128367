import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEngine, DEFAULT_ORG_SETTING, MemoryStore, SqliteStore } from '@mandate/engine';
import { afterEach, describe, expect, it } from 'vitest';

describe('the default org', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is created once even when two starts race, and both see the same org', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-default-org-'));
    dirs.push(dir);
    const store = new SqliteStore({ file: path.join(dir, 'm.db'), clock: { now: () => new Date() } });
    const engine = createEngine(store);
    const [a, b] = await Promise.all([engine.orgs.ensureDefaultOrg(), engine.orgs.ensureDefaultOrg()]);
    expect(a.org.id).toBe(b.org.id);
    expect([a.created, b.created].filter(Boolean)).toHaveLength(1);
    expect((await store.platform.listOrgs({ limit: 10 })).items).toHaveLength(1);
    expect(await store.platform.getSetting(DEFAULT_ORG_SETTING)).toBe(a.org.id);
    await store.close();
  });

  it('records itself in the same transaction as the org (memory store too)', async () => {
    const store = new MemoryStore();
    const engine = createEngine(store);
    const { org } = await engine.orgs.ensureDefaultOrg();
    expect(await store.platform.getSetting(DEFAULT_ORG_SETTING)).toBe(org.id);
    expect((await engine.orgs.ensureDefaultOrg()).created).toBeUndefined();
  });
});
