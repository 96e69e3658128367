/**
 * The store additions of the OAuth work, as a contract both adapters must satisfy (the shared
 * `storeContract` cannot be extended from outside, so these cases run here over both):
 * finding an agent's org by its id, the token signing keys (upsert by kid, all-or-nothing),
 * and revoked access tokens (idempotent, scoped to their org).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  MemoryStore,
  type RevokedToken,
  SqliteStore,
  type Store,
  type TokenSigningKeyRecord,
} from '@mandate/engine';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { fixedClock, LATER, makeAgent, makeOrg, makeUser, T0 } from './fixtures.js';

interface Adapter {
  name: string;
  make(): { store: Store; cleanup: () => Promise<void> };
}

const adapters: Adapter[] = [
  {
    name: 'MemoryStore',
    make: () => {
      const store = new MemoryStore();
      return { store, cleanup: () => store.close() };
    },
  },
  {
    name: 'SqliteStore',
    make: () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-oauth-contract-'));
      const store = new SqliteStore({ file: path.join(dir, 'mandate.db'), clock: fixedClock() });
      return {
        store,
        cleanup: async () => {
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

let n = 0;
function signingKey(overrides: Partial<TokenSigningKeyRecord> = {}): TokenSigningKeyRecord {
  n += 1;
  return {
    kid: `kid-${String(n).padStart(4, '0')}`,
    publicJwk: { kty: 'OKP', crv: 'Ed25519', x: `x-${n}` },
    sealedPrivateKey: `sealed-${n}`,
    status: 'active',
    createdAt: T0,
    ...overrides,
  };
}

const revoked = (jti: string, overrides: Partial<RevokedToken> = {}): RevokedToken => ({
  jti,
  expiresAt: LATER,
  revokedAt: T0,
  ...overrides,
});

describe.each(adapters)('OAuth store contract: $name', ({ make }) => {
  let store: Store;
  let cleanup: () => Promise<void>;

  beforeEach(() => {
    ({ store, cleanup } = make());
  });
  afterEach(async () => {
    await cleanup();
  });

  /** An org with a user and an agent owned by them, inserted as contract.ts seeds them. */
  async function seedOrgWithAgent() {
    const org = makeOrg();
    await store.org(org.id).transact((tx) => tx.insertOrg(org));
    const user = makeUser(org.id);
    await store.org(org.id).transact((tx) => tx.insertUser(user));
    const agent = makeAgent(org.id, user.id);
    await store.org(org.id).transact((tx) => tx.insertAgent(agent));
    return { org, user, agent };
  }

  describe('findAgentOrg', () => {
    it('finds the org of an agent by its id alone, across orgs', async () => {
      const a = await seedOrgWithAgent();
      const b = await seedOrgWithAgent();
      expect(await store.platform.findAgentOrg(a.agent.id)).toBe(a.org.id);
      expect(await store.platform.findAgentOrg(b.agent.id)).toBe(b.org.id);
    });

    it('returns nothing for an unknown id, a user id or an org id', async () => {
      const { org, user } = await seedOrgWithAgent();
      expect(await store.platform.findAgentOrg('agent_unknown')).toBeUndefined();
      expect(await store.platform.findAgentOrg(user.id)).toBeUndefined();
      expect(await store.platform.findAgentOrg(org.id)).toBeUndefined();
      expect(await store.platform.findAgentOrg('')).toBeUndefined();
    });

    it('does not see an agent whose transaction failed', async () => {
      const { org, user } = await seedOrgWithAgent();
      const agent = makeAgent(org.id, user.id);
      await expect(
        store.org(org.id).transact(async (tx) => {
          await tx.insertAgent(agent);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await store.platform.findAgentOrg(agent.id)).toBeUndefined();
    });

    it('still finds a revoked agent (authentication decides what its status means)', async () => {
      const { org, agent } = await seedOrgWithAgent();
      await store
        .org(org.id)
        .transact((tx) => tx.updateAgent({ ...agent, status: 'revoked', version: 2 }, agent.version));
      expect(await store.platform.findAgentOrg(agent.id)).toBe(org.id);
    });
  });

  describe('token signing keys', () => {
    it('an empty store has no keys', async () => {
      expect(await store.platform.listTokenSigningKeys()).toEqual([]);
    });

    it('saved keys read back equal to what was written, optional fields included', async () => {
      const active = signingKey();
      const retired = signingKey({ status: 'retired', retiredAt: T0, publishUntil: LATER });
      await store.platform.saveTokenSigningKeys([active, retired]);
      const listed = await store.platform.listTokenSigningKeys();
      expect(listed).toHaveLength(2);
      expect(listed).toEqual(expect.arrayContaining([active, retired]));
      // No optional field appears that was not written.
      expect(Object.keys(listed.find((k) => k.kid === active.kid) as object).sort()).toEqual(
        Object.keys(active).sort(),
      );
    });

    it('saving a key with a known kid replaces it (upsert), leaving the others', async () => {
      const a = signingKey();
      const b = signingKey();
      await store.platform.saveTokenSigningKeys([a, b]);
      const retiredA = { ...a, status: 'retired' as const, retiredAt: LATER, publishUntil: LATER };
      const c = signingKey();
      await store.platform.saveTokenSigningKeys([retiredA, c]);
      const listed = await store.platform.listTokenSigningKeys();
      expect(listed).toHaveLength(3);
      expect(listed).toEqual(expect.arrayContaining([retiredA, b, c]));
      expect(listed.filter((k) => k.kid === a.kid)).toEqual([retiredA]);
    });

    it('saving nothing changes nothing', async () => {
      const a = signingKey();
      await store.platform.saveTokenSigningKeys([a]);
      await store.platform.saveTokenSigningKeys([]);
      expect(await store.platform.listTokenSigningKeys()).toEqual([a]);
    });

    it('stored keys are not aliased to the caller’s objects', async () => {
      const a = signingKey();
      await store.platform.saveTokenSigningKeys([a]);
      a.status = 'retired';
      a.publicJwk.x = 'mutated';
      const [read] = await store.platform.listTokenSigningKeys();
      expect(read?.status).toBe('active');
      expect(read?.publicJwk.x).not.toBe('mutated');
      if (read) read.status = 'retired';
      expect((await store.platform.listTokenSigningKeys())[0]?.status).toBe('active');
    });

    it('a rotation (retire + new key in one save) is seen whole by a concurrent list, never half', async () => {
      const old = signingKey();
      await store.platform.saveTokenSigningKeys([old]);
      const views: TokenSigningKeyRecord[][] = [];
      const rotations: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) {
        const fresh = signingKey();
        rotations.push(
          store.platform.saveTokenSigningKeys([
            { ...old, status: 'retired', retiredAt: T0, publishUntil: LATER },
            fresh,
          ]),
        );
        views.push(await store.platform.listTokenSigningKeys());
      }
      await Promise.all(rotations);
      views.push(await store.platform.listTokenSigningKeys());
      for (const view of views) {
        const oldNow = view.find((k) => k.kid === old.kid);
        // Either before any rotation (old active, alone) or after one (old retired, plus new keys).
        if (oldNow?.status === 'active') expect(view).toHaveLength(1);
        else expect(view.length).toBeGreaterThan(1);
      }
      expect(views.at(-1)).toHaveLength(21);
    });
  });

  describe('revoked tokens', () => {
    it('insertRevokedToken records a jti that isTokenRevoked then reports', async () => {
      const { org } = await seedOrgWithAgent();
      expect(await store.org(org.id).isTokenRevoked('jti-1')).toBe(false);
      await store.org(org.id).transact((tx) => tx.insertRevokedToken(revoked('jti-1')));
      expect(await store.org(org.id).isTokenRevoked('jti-1')).toBe(true);
      expect(await store.org(org.id).isTokenRevoked('jti-2')).toBe(false);
    });

    it('is visible inside the transaction that inserts it', async () => {
      const { org } = await seedOrgWithAgent();
      const seen = await store.org(org.id).transact(async (tx) => {
        await tx.insertRevokedToken(revoked('jti-1'));
        return tx.isTokenRevoked('jti-1');
      });
      expect(seen).toBe(true);
    });

    it('revoking the same jti twice is not an error and keeps one record', async () => {
      const { org } = await seedOrgWithAgent();
      await store.org(org.id).transact((tx) => tx.insertRevokedToken(revoked('jti-1')));
      await expect(
        store
          .org(org.id)
          .transact((tx) => tx.insertRevokedToken(revoked('jti-1', { revokedAt: LATER, expiresAt: LATER }))),
      ).resolves.toBeUndefined();
      await store.org(org.id).transact(async (tx) => {
        await tx.insertRevokedToken(revoked('jti-2'));
        await tx.insertRevokedToken(revoked('jti-2'));
      });
      expect(await store.org(org.id).isTokenRevoked('jti-1')).toBe(true);
      expect(await store.org(org.id).isTokenRevoked('jti-2')).toBe(true);
    });

    it('is scoped to its org: another org does not see the jti as revoked', async () => {
      const a = await seedOrgWithAgent();
      const b = await seedOrgWithAgent();
      await store.org(a.org.id).transact((tx) => tx.insertRevokedToken(revoked('shared-jti')));
      expect(await store.org(a.org.id).isTokenRevoked('shared-jti')).toBe(true);
      expect(await store.org(b.org.id).isTokenRevoked('shared-jti')).toBe(false);
      expect(await store.org(b.org.id).transact((tx) => tx.isTokenRevoked('shared-jti'))).toBe(false);
      // The same jti revoked in the other org is that org's own record.
      await store.org(b.org.id).transact((tx) => tx.insertRevokedToken(revoked('shared-jti')));
      expect(await store.org(b.org.id).isTokenRevoked('shared-jti')).toBe(true);
    });

    it('is not kept when its transaction fails', async () => {
      const { org } = await seedOrgWithAgent();
      await expect(
        store.org(org.id).transact(async (tx) => {
          await tx.insertRevokedToken(revoked('jti-1'));
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await store.org(org.id).isTokenRevoked('jti-1')).toBe(false);
    });
  });
});

describe('SqliteStore: migration v4 (oauth) over a v3 database', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-oauth-migration-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('upgrades a database with agents: the new tables exist, findAgentOrg finds the old agents', async () => {
    const file = path.join(dir, 'mandate.db');
    const first = new SqliteStore({ file, clock: fixedClock() });
    const org = makeOrg();
    const user = makeUser(org.id);
    const agent = makeAgent(org.id, user.id);
    await first.org(org.id).transact(async (tx) => {
      await tx.insertOrg(org);
      await tx.insertUser(user);
      await tx.insertAgent(agent);
    });
    await first.close();

    // Back to the v3 schema: what a database written before this change looks like.
    expect(MIGRATIONS.find((m) => m.version === 4)?.name).toBe('oauth');
    const db = new Database(file);
    db.exec(`DROP TABLE token_signing_keys; DROP TABLE revoked_tokens; DROP INDEX agents_by_id;
             DELETE FROM schema_migrations WHERE version = 4;`);
    db.close();

    const store = new SqliteStore({ file, clock: fixedClock(LATER) });
    try {
      expect(await store.platform.findAgentOrg(agent.id)).toBe(org.id);
      expect(await store.platform.listTokenSigningKeys()).toEqual([]);
      const key = signingKey();
      await store.platform.saveTokenSigningKeys([key]);
      expect(await store.platform.listTokenSigningKeys()).toEqual([key]);
      await store.org(org.id).transact((tx) => tx.insertRevokedToken(revoked('jti-1')));
      expect(await store.org(org.id).isTokenRevoked('jti-1')).toBe(true);
    } finally {
      await store.close();
    }
    const check = new Database(file, { readonly: true });
    try {
      expect(
        check.prepare('SELECT version, applied_at FROM schema_migrations WHERE version = 4').get(),
      ).toEqual({
        version: 4,
        applied_at: LATER,
      });
      const plan = check.prepare('EXPLAIN QUERY PLAN SELECT org_id FROM agents WHERE id = ?').all('x') as {
        detail: string;
      }[];
      expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING (COVERING )?INDEX/);
    } finally {
      check.close();
    }
  });
});
