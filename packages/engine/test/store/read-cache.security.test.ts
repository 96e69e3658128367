/**
 * The SQLite store caches what decisions read (store/sqlite/read-cache.ts). A stale entry would
 * be a security bug: an agent suspended, a delegation revoked, a lock set, and the next decision
 * still reading the old row. For every cached read: a write is seen by the next read; a read made
 * while the write's transaction is still open (and so sees, and caches, the old row) is not served
 * after the commit; a write rolled back is never seen; cached values cannot be changed by a caller.
 * Each was checked to fail with its invalidation taken out of org-transaction.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type OrgStore, type OrgTransaction, SqliteStore } from '@mandate/engine';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock, gate, makeAgent, makeApiKey, makeOrg, makeUser, systemActor, T0 } from './fixtures.js';

let dir: string;
let store: SqliteStore;
let orgId: string;
let ids: { user: string; agent: string; apiKey: string };

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-cache-'));
  store = new SqliteStore({ file: path.join(dir, 'mandate.db'), clock: fixedClock() });
  const org = makeOrg();
  orgId = org.id;
  const user = makeUser(org.id);
  const agent = makeAgent(org.id, user.id);
  const key = makeApiKey(org.id);
  ids = { user: user.id, agent: agent.id, apiKey: key.id };
  await store.org(org.id).transact(async (tx) => {
    await tx.insertOrg(org);
    await tx.insertUser(user);
    await tx.insertAgent(agent);
    await tx.insertApiKey(key);
  });
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** One cached read, a write that makes it say `n`, and what it says. */
interface Cached {
  name: string;
  write(tx: OrgTransaction, n: number): Promise<void>;
  read(org: OrgStore): Promise<unknown>;
  /** Read through the platform store: there is no transaction read of it. */
  platform?: true;
}

const CACHED: Cached[] = [
  {
    name: 'getOrg',
    write: async (tx, n) => {
      const org = (await tx.getOrg())!;
      await tx.updateOrg({ ...org, name: `org ${n}`, version: org.version + 1 }, org.version);
    },
    read: async (org) => (await org.getOrg())?.name,
  },
  {
    name: 'getAgent (a suspension)',
    write: async (tx, n) => {
      const agent = (await tx.getAgent(ids.agent))!;
      await tx.updateAgent(
        { ...agent, status: n % 2 ? 'suspended' : 'active', version: agent.version + 1 },
        agent.version,
      );
    },
    read: async (org) => (await org.getAgent(ids.agent))?.status,
  },
  {
    name: 'getUser',
    write: async (tx, n) => {
      const user = (await tx.getUser(ids.user))!;
      await tx.updateUser(
        { ...user, status: n % 2 ? 'offboarded' : 'active', version: user.version + 1 },
        user.version,
      );
    },
    read: async (org) => (await org.getUser(ids.user))?.status,
  },
  {
    name: 'getDelegation (a revocation)',
    write: async (tx, n) => {
      const existing = await tx.getDelegation('dlg_cache');
      const delegation = {
        id: 'dlg_cache',
        orgId,
        rootUserId: ids.user,
        delegator: { kind: 'user', id: ids.user },
        delegateAgentId: ids.agent,
        purpose: 'cache',
        scope: {
          actions: ['a'],
          resources: ['r'],
          dataClass: 'public',
          expiresAt: '2031-01-01T00:00:00.000Z',
        },
        depth: 0,
        chain: ['dlg_cache'],
        status: n % 2 ? 'revoked' : 'active',
        createdAt: T0,
        createdBy: systemActor,
        version: (existing?.version ?? 0) + 1,
      } as never;
      if (existing) await tx.updateDelegation(delegation, existing.version);
      else await tx.insertDelegation(delegation);
    },
    read: async (org) => (await org.getDelegation('dlg_cache'))?.status ?? 'none',
  },
  {
    name: 'isTokenRevoked',
    write: async (tx, n) => {
      if (n > 0) await tx.insertRevokedToken({ jti: `jti-${n}`, expiresAt: T0, revokedAt: T0 });
    },
    read: async (org) => {
      for (let n = 9; n > 0; n--) if (await org.isTokenRevoked(`jti-${n}`)) return n;
      return 0;
    },
  },
  {
    name: 'activePolicyVersion and getPolicyVersion',
    write: async (tx, n) => {
      if (n === 0) return;
      await tx.insertPolicyVersion({
        orgId,
        version: n,
        hash: `h${n}`,
        policies: `// ${n}`,
        createdAt: T0,
        createdBy: systemActor,
      });
      await tx.setActivePolicyVersion(n);
    },
    read: async (org) => {
      const active = await org.activePolicyVersion();
      return active === undefined ? 0 : (await org.getPolicyVersion(active))?.policies;
    },
  },
  {
    name: 'getEntity (and its deletion)',
    write: async (tx, n) => {
      if (n % 3 === 2) await tx.deleteEntity('Group', 'g');
      else await tx.putEntity({ uid: { type: 'Group', id: 'g' }, attrs: { n }, parents: [], updatedAt: T0 });
    },
    read: async (org) => (await org.getEntity('Group', 'g'))?.attrs.n ?? 'none',
  },
  {
    name: 'getDocument',
    write: (tx, n) => tx.putDocument('baseline', { id: 'b', tag: 'baseline', doc: { n } }),
    read: async (org) => (await org.getDocument<{ n: number }>('baseline', 'b'))?.doc.n,
  },
  {
    name: 'listDocuments by tag (the active kill-switch locks)',
    write: (tx, n) => tx.putDocument('lock', { id: 'lck_1', tag: n % 2 ? 'active' : 'released', doc: { n } }),
    read: async (org) => (await org.listDocuments('lock', 'active', { limit: 1000 })).items.length,
  },
  {
    name: 'platform.findApiKey (a revoked key)',
    write: async (tx, n) => {
      const key = (await tx.getApiKey(ids.apiKey))!;
      const { lastUsedAt: _, ...rest } = key;
      await tx.updateApiKey(
        { ...rest, ...(n % 2 ? { revokedAt: T0 } : { revokedAt: undefined }), version: key.version + 1 },
        key.version,
      );
    },
    read: async () => Boolean((await store.platform.findApiKey(ids.apiKey))?.revokedAt),
    platform: true,
  },
];

describe('every cached read follows the writes', () => {
  for (const cached of CACHED) {
    describe(cached.name, () => {
      const org = () => store.org(orgId);
      const expected = async (_n: number) => {
        // What an uncached read says: the same read inside a transaction (writer connection).
        return org().transact((tx) => cached.read(tx as unknown as OrgStore));
      };

      it('a committed write is seen by the next read', async () => {
        for (let n = 0; n < 6; n += 2) {
          await org().transact((tx) => cached.write(tx, n));
          await cached.read(org()); // fill
          expect(await cached.read(org())).toEqual(await expected(n));
          await org().transact((tx) => cached.write(tx, n + 1));
          expect(await cached.read(org())).toEqual(await expected(n + 1));
        }
      });

      it('a read made while the write is uncommitted is not served after the commit', async () => {
        await org().transact((tx) => cached.write(tx, 0));
        const before = await cached.read(org());
        const written = gate();
        const release = gate();
        const writing = org().transact(async (tx) => {
          await cached.write(tx, 1);
          written.open();
          await release.promise;
        });
        await written.promise;
        // The change is written but not committed: readers see (and the cache may keep) the old row.
        expect(await cached.read(org())).toEqual(before);
        release.open();
        await writing;
        const after = await expected(1);
        expect(after).not.toEqual(before);
        expect(await cached.read(org())).toEqual(after);
      });

      it.skipIf(cached.platform)(
        'inside a transaction, a key written earlier in it (by another unit of its group too) is read from the transaction',
        async () => {
          await org().transact((tx) => cached.write(tx, 0));
          const before = await cached.read(org()); // the cache holds the committed value
          const held = gate();
          const holding = org().transact(() => held.promise); // so the next units share a group
          const wrote = gate();
          const resume = gate();
          const writing = org().transact(async (tx) => {
            await cached.write(tx, 1);
            wrote.open();
            await resume.promise;
          });
          const reading = org().transact((tx) => cached.read(tx as unknown as OrgStore));
          const ownRead = org().transact(async (tx) => {
            await cached.write(tx, 2);
            return cached.read(tx as unknown as OrgStore);
          });
          held.open();
          await wrote.promise;
          // Meanwhile a reader outside the transaction fills the cache with the committed value.
          expect(await cached.read(org())).toEqual(before);
          resume.open();
          await holding;
          await writing;
          const seenByNextUnit = await reading;
          const seenByOwnUnit = await ownRead;
          expect(seenByNextUnit).not.toEqual(before);
          expect(seenByOwnUnit).toEqual(await cached.read(org()));
        },
      );

      it('a write that rolls back is never seen', async () => {
        await org().transact((tx) => cached.write(tx, 0));
        const before = await cached.read(org());
        await expect(
          org().transact(async (tx) => {
            await cached.write(tx, 1);
            throw new Error('undo');
          }),
        ).rejects.toThrow('undo');
        expect(await cached.read(org())).toEqual(before);
        expect(await expected(0)).toEqual(before);
      });
    });
  }
});

it('cached values are frozen: a caller cannot change what the next caller reads', async () => {
  const agent = (await store.org(orgId).getAgent(ids.agent))!;
  expect(() => {
    (agent as { status: string }).status = 'active-forever';
  }).toThrow(TypeError);
  expect(() => (agent.labels as string[]).push('x')).toThrow(TypeError);
  expect((await store.org(orgId).getAgent(ids.agent))?.labels).toEqual(['mail']);
});
