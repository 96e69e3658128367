import { type AuditRecord, canonicalize, type Delegation, newId } from '@mandate/core';
import {
  type Agent,
  type ApiKey,
  ConflictError,
  DuplicateError,
  type Org,
  type Page,
  type Store,
  type User,
} from '@mandate/engine';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  gate,
  LATER,
  makeAgent,
  makeAgentKey,
  makeApiKey,
  makeAuditEvent,
  makeOidcUser,
  makeOrg,
  makePlatformKey,
  makeUser,
  T0,
} from './fixtures.js';

export interface StoreContractOptions {
  /**
   * Titles of contract tests this adapter is known to fail. Each runs as `it.fails`, so the suite
   * stays green while the bug is open and turns red (remove the title) once the bug is fixed.
   * Every entry must name a bug report; an unknown title is an error.
   */
  knownBugs?: readonly string[];
}

/** Walks every page of a paginated listing; fails if it does not terminate. */
async function walk<T>(fetch: (after: string | undefined) => Promise<Page<T>>): Promise<T[][]> {
  const pages: T[][] = [];
  let after: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const page = await fetch(after);
    pages.push(page.items);
    if (page.nextCursor === undefined) return pages;
    after = page.nextCursor;
  }
  throw new Error('pagination did not terminate');
}

const ids = (items: Array<{ id: string }>) => items.map((item) => item.id);
const sorted = (values: string[]) => [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const seqs = (records: AuditRecord[]) => records.map((r) => r.seq);

/**
 * The storage contract every `Store` adapter must satisfy. Each test gets a fresh, empty store
 * from `makeStore` and calls `cleanup` afterwards.
 */
export function storeContract(
  name: string,
  makeStore: () => Promise<{ store: Store; cleanup: () => Promise<void> }>,
  options: StoreContractOptions = {},
): void {
  const knownBugs = new Set(options.knownBugs ?? []);
  const seen = new Set<string>();
  const test = (title: string, fn: () => Promise<void>) => {
    if (seen.has(title)) throw new Error(`duplicate contract test title: ${title}`);
    seen.add(title);
    if (knownBugs.has(title)) it.fails(title, fn);
    else it(title, fn);
  };

  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await cleanup();
    });

    async function seedOrg(org: Org = makeOrg()): Promise<Org> {
      await store.org(org.id).transact((tx) => tx.insertOrg(org));
      return org;
    }
    async function insertUser(user: User): Promise<User> {
      await store.org(user.orgId).transact((tx) => tx.insertUser(user));
      return user;
    }
    async function insertAgent(agent: Agent): Promise<Agent> {
      await store.org(agent.orgId).transact((tx) => tx.insertAgent(agent));
      return agent;
    }
    async function insertApiKey(key: ApiKey): Promise<ApiKey> {
      await store.org(key.orgId).transact((tx) => tx.insertApiKey(key));
      return key;
    }
    async function append(orgId: string, count: number, time = T0): Promise<AuditRecord[]> {
      const records: AuditRecord[] = [];
      for (let i = 0; i < count; i++) {
        records.push(await store.org(orgId).transact((tx) => tx.appendAudit(makeAuditEvent(), time)));
      }
      return records;
    }

    describe('basics', () => {
      test('ping resolves on an open store', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      test('objects read back equal to what was written', async () => {
        const org = await seedOrg();
        const user = await insertUser(makeOidcUser(org.id, 'https://idp.example', 'alice'));
        const agent = await insertAgent(
          makeAgent(org.id, user.id, {
            keys: [makeAgentKey(), makeAgentKey({ status: 'retired', retiredAt: T0 })],
          }),
        );
        const key = await insertApiKey(makeApiKey(org.id, { userId: user.id, expiresAt: LATER }));
        const orgStore = store.org(org.id);
        expect(await orgStore.getOrg()).toEqual(org);
        expect(await store.platform.getOrg(org.id)).toEqual(org);
        expect(await orgStore.getUser(user.id)).toEqual(user);
        expect(await orgStore.getAgent(agent.id)).toEqual(agent);
        expect(await orgStore.getApiKey(key.id)).toEqual(key);
        expect(await store.platform.findApiKey(key.id)).toEqual(key);
      });

      test('stored objects are not aliased to the caller’s objects', async () => {
        const org = await seedOrg();
        const user = makeUser(org.id);
        const agent = makeAgent(org.id, user.id);
        await insertUser(user);
        await insertAgent(agent);
        agent.name = 'mutated after insert';
        agent.labels.push('mutated');
        const read = await store.org(org.id).getAgent(agent.id);
        expect(read?.name).toBe('mail-triage');
        expect(read?.labels).toEqual(['mail']);
        // A read is a copy or frozen (the SQLite store caches frozen reads): either way a caller
        // cannot change what the next caller reads.
        try {
          if (read) read.name = 'mutated after read';
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
        }
        expect((await store.org(org.id).getAgent(agent.id))?.name).toBe('mail-triage');
      });

      test('readers of an unknown org or id return nothing', async () => {
        const org = await seedOrg();
        const missing = store.org(makeOrg().id);
        expect(await missing.getOrg()).toBeUndefined();
        expect(await store.platform.getOrg(missing.orgId)).toBeUndefined();
        expect(missing.orgId).not.toBe(org.id);
        const orgStore = store.org(org.id);
        expect(await orgStore.getAgent('agt_missing')).toBeUndefined();
        expect(await orgStore.getUser('usr_missing')).toBeUndefined();
        expect(await orgStore.getApiKey('key_missing')).toBeUndefined();
        expect(await orgStore.getAuditRecord(0)).toBeUndefined();
        expect(await orgStore.getAuditCanonical(0)).toBeUndefined();
        expect(await orgStore.auditLogSize()).toBe(0);
      });

      test('transact resolves with the value its work returns', async () => {
        const org = await seedOrg();
        await expect(store.org(org.id).transact(async () => 42)).resolves.toBe(42);
      });
    });

    describe('org scoping', () => {
      test('data of org A is invisible through store.org(B) for every reader method', async () => {
        const a = await seedOrg(makeOrg({ name: 'A' }));
        const b = await seedOrg(makeOrg({ name: 'B' }));
        const user = await insertUser(makeOidcUser(a.id, 'https://idp.example', 'alice'));
        const agent = await insertAgent(makeAgent(a.id, user.id));
        const key = await insertApiKey(makeApiKey(a.id, { userId: user.id }));
        const record = await store
          .org(a.id)
          .transact((tx) =>
            tx.appendAudit(
              makeAuditEvent({ type: 'agent.registered', refs: { agentId: agent.id, userId: user.id } }),
              T0,
            ),
          );
        const kid = agent.keys[0]?.kid as string;
        const now = new Date(T0);

        // Sanity: A sees its own data.
        const inA = store.org(a.id);
        expect(await inA.getAgent(agent.id)).toBeDefined();
        expect(await inA.findAgentByKid(kid)).toBeDefined();
        expect(await inA.findUserBySubject('https://idp.example', 'alice')).toBeDefined();
        expect(await inA.countLiveAgentsOwnedBy(user.id)).toBe(1);
        expect(await inA.auditLogSize()).toBe(1);

        const inB = store.org(b.id);
        expect((await inB.getOrg())?.id).toBe(b.id);
        expect(await inB.getAgent(agent.id)).toBeUndefined();
        expect((await inB.listAgents({}, { limit: 100 }, now)).items).toEqual([]);
        expect((await inB.listAgents({ ownerId: user.id }, { limit: 100 }, now)).items).toEqual([]);
        expect((await inB.listAgents({ label: 'mail' }, { limit: 100 }, now)).items).toEqual([]);
        expect((await inB.listAgents({ environment: 'production' }, { limit: 100 }, now)).items).toEqual([]);
        expect((await inB.listAgents({ namePrefix: 'mail' }, { limit: 100 }, now)).items).toEqual([]);
        expect((await inB.listAgents({ status: 'active' }, { limit: 100 }, now)).items).toEqual([]);
        expect(await inB.findAgentByKid(kid)).toBeUndefined();
        expect(await inB.getUser(user.id)).toBeUndefined();
        expect(await inB.findUserBySubject('https://idp.example', 'alice')).toBeUndefined();
        expect((await inB.listUsers({}, { limit: 100 })).items).toEqual([]);
        expect(await inB.countLiveAgentsOwnedBy(user.id)).toBe(0);
        expect(await inB.getApiKey(key.id)).toBeUndefined();
        expect((await inB.listApiKeys({ limit: 100 })).items).toEqual([]);
        expect(await inB.getAuditRecord(record.seq)).toBeUndefined();
        expect(await inB.getAuditCanonical(record.seq)).toBeUndefined();
        expect((await inB.listAuditRecords({}, { limit: 100 })).items).toEqual([]);
        expect((await inB.listAuditRecords({ agentId: agent.id }, { limit: 100 })).items).toEqual([]);
        expect(await inB.auditLogSize()).toBe(0);

        // The same reads inside a transaction of B are scoped too.
        await inB.transact(async (tx) => {
          expect(await tx.getAgent(agent.id)).toBeUndefined();
          expect(await tx.getUser(user.id)).toBeUndefined();
          expect(await tx.getApiKey(key.id)).toBeUndefined();
          expect(await tx.findAgentByKid(kid)).toBeUndefined();
          expect(await tx.auditLogSize()).toBe(0);
        });
      });

      test('each org has its own audit log, numbered from 0', async () => {
        const a = await seedOrg();
        const b = await seedOrg();
        await append(a.id, 3);
        const [first] = await append(b.id, 1);
        expect(first?.seq).toBe(0);
        expect(first?.orgId).toBe(b.id);
        expect(await store.org(a.id).auditLogSize()).toBe(3);
        expect(await store.org(b.id).auditLogSize()).toBe(1);
      });

      test('inserting an object of another org throws and writes nothing', async () => {
        const a = await seedOrg();
        const b = await seedOrg();
        const user = makeUser(a.id);
        const agent = makeAgent(a.id, user.id);
        const key = makeApiKey(a.id);
        const inB = store.org(b.id);
        await expect(inB.transact((tx) => tx.insertUser(user))).rejects.toThrow();
        await expect(inB.transact((tx) => tx.insertAgent(agent))).rejects.toThrow();
        await expect(inB.transact((tx) => tx.insertApiKey(key))).rejects.toThrow();
        await expect(inB.transact((tx) => tx.insertOrg(makeOrg()))).rejects.toThrow();
        for (const orgId of [a.id, b.id]) {
          const s = store.org(orgId);
          expect(await s.getUser(user.id)).toBeUndefined();
          expect(await s.getAgent(agent.id)).toBeUndefined();
          expect(await s.getApiKey(key.id)).toBeUndefined();
        }
        expect(await store.platform.findApiKey(key.id)).toBeUndefined();
        expect((await store.platform.listOrgs({ limit: 100 })).items).toHaveLength(2);
      });

      test('updating an object of another org throws and changes nothing', async () => {
        const a = await seedOrg();
        const b = await seedOrg();
        const user = await insertUser(makeUser(a.id));
        const agent = await insertAgent(makeAgent(a.id, user.id));
        const key = await insertApiKey(makeApiKey(a.id));
        const inB = store.org(b.id);
        await expect(
          inB.transact((tx) => tx.updateUser({ ...user, displayName: 'changed', version: 2 }, 1)),
        ).rejects.toThrow();
        await expect(
          inB.transact((tx) => tx.updateAgent({ ...agent, name: 'changed', version: 2 }, 1)),
        ).rejects.toThrow();
        await expect(
          inB.transact((tx) => tx.updateApiKey({ ...key, name: 'changed', version: 2 }, 1)),
        ).rejects.toThrow();
        const inA = store.org(a.id);
        expect(await inA.getUser(user.id)).toEqual(user);
        expect(await inA.getAgent(agent.id)).toEqual(agent);
        expect(await inA.getApiKey(key.id)).toEqual(key);
        expect(await inB.getUser(user.id)).toBeUndefined();
        expect(await inB.getAgent(agent.id)).toBeUndefined();
        expect(await inB.getApiKey(key.id)).toBeUndefined();
      });

      test("updateOrg through another org's store throws and changes nothing", async () => {
        const a = await seedOrg(makeOrg({ name: 'A' }));
        const b = await seedOrg(makeOrg({ name: 'B' }));
        // B's store is handed org A's document, with B's (matching) version.
        await expect(
          store.org(b.id).transact((tx) => tx.updateOrg({ ...a, name: 'renamed', version: 2 }, b.version)),
        ).rejects.toThrow();
        expect(await store.org(a.id).getOrg()).toEqual(a);
        expect(await store.org(b.id).getOrg()).toEqual(b);
        expect(await store.platform.getOrg(b.id)).toEqual(b);
        expect(ids((await store.platform.listOrgs({ limit: 100 })).items)).toEqual(sorted([a.id, b.id]));
      });
    });

    describe('transactions', () => {
      test('a transaction that throws leaves no trace', async () => {
        const org = await seedOrg();
        await append(org.id, 2);
        const user = makeOidcUser(org.id, 'https://idp.example', 'bob');
        const agent = makeAgent(org.id, user.id);
        const key = makeApiKey(org.id);
        const boom = new Error('boom');
        const orgStore = store.org(org.id);
        await expect(
          orgStore.transact(async (tx) => {
            await tx.insertUser(user);
            await tx.insertAgent(agent);
            await tx.insertApiKey(key);
            await tx.updateOrg({ ...org, name: 'renamed', version: 2 }, 1);
            await tx.appendAudit(makeAuditEvent({ refs: { agentId: agent.id } }), T0);
            expect(await tx.auditLogSize()).toBe(3);
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await orgStore.getUser(user.id)).toBeUndefined();
        expect(await orgStore.findUserBySubject('https://idp.example', 'bob')).toBeUndefined();
        expect(await orgStore.getAgent(agent.id)).toBeUndefined();
        expect(await orgStore.findAgentByKid(agent.keys[0]?.kid as string)).toBeUndefined();
        expect((await orgStore.listAgents({}, { limit: 100 }, new Date(T0))).items).toEqual([]);
        expect(await orgStore.getApiKey(key.id)).toBeUndefined();
        expect(await store.platform.findApiKey(key.id)).toBeUndefined();
        expect(await orgStore.getOrg()).toEqual(org);
        expect(await orgStore.auditLogSize()).toBe(2);
        expect(await orgStore.getAuditRecord(2)).toBeUndefined();
        expect(seqs((await orgStore.listAuditRecords({}, { limit: 100 })).items)).toEqual([0, 1]);
        // The next append continues the log without a gap, and the rolled-back ids are free again.
        const [next] = await append(org.id, 1);
        expect(next?.seq).toBe(2);
        await insertUser(user);
        await insertAgent(agent);
        await insertApiKey(key);
      });

      test('a transaction sees its own writes before it commits', async () => {
        const org = await seedOrg();
        const user = makeUser(org.id);
        const agent = makeAgent(org.id, user.id);
        await store.org(org.id).transact(async (tx) => {
          await tx.insertUser(user);
          await tx.insertAgent(agent);
          expect(await tx.getUser(user.id)).toEqual(user);
          expect(await tx.getAgent(agent.id)).toEqual(agent);
          expect(await tx.findAgentByKid(agent.keys[0]?.kid as string)).toEqual(agent);
          expect(await tx.countLiveAgentsOwnedBy(user.id)).toBe(1);
          const first = await tx.appendAudit(makeAuditEvent(), T0);
          const second = await tx.appendAudit(makeAuditEvent(), T0);
          expect([first.seq, second.seq]).toEqual([0, 1]);
          expect(await tx.auditLogSize()).toBe(2);
          expect(await tx.getAuditRecord(1)).toEqual(second);
        });
      });

      test('reads outside a transaction do not see its writes before it commits', async () => {
        const org = await seedOrg();
        const user = makeUser(org.id);
        const agent = makeAgent(org.id, user.id);
        const reached = gate();
        const release = gate();
        const orgStore = store.org(org.id);
        let settled = false;
        const running = orgStore
          .transact(async (tx) => {
            await tx.insertUser(user);
            await tx.insertAgent(agent);
            await tx.updateOrg({ ...org, name: 'renamed', version: 2 }, 1);
            await tx.appendAudit(makeAuditEvent(), T0);
            reached.open();
            await release.promise;
            return 'done';
          })
          .finally(() => {
            settled = true;
          });
        await reached.promise;

        expect(await orgStore.getUser(user.id)).toBeUndefined();
        expect(await orgStore.getAgent(agent.id)).toBeUndefined();
        expect((await orgStore.listAgents({}, { limit: 10 }, new Date(T0))).items).toEqual([]);
        expect(await orgStore.getOrg()).toEqual(org);
        expect(await orgStore.auditLogSize()).toBe(0);
        expect((await orgStore.listAuditRecords({}, { limit: 10 })).items).toEqual([]);
        expect(settled).toBe(false);

        release.open();
        await expect(running).resolves.toBe('done');
        expect(await orgStore.getUser(user.id)).toEqual(user);
        expect(await orgStore.getAgent(agent.id)).toEqual(agent);
        expect((await orgStore.getOrg())?.name).toBe('renamed');
        expect(await orgStore.auditLogSize()).toBe(1);
      });

      test('50 concurrent transactions each appending one record get seq 0..49', async () => {
        const org = await seedOrg();
        const orgStore = store.org(org.id);
        const records = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            orgStore.transact(async (tx) => {
              await Promise.resolve();
              return tx.appendAudit(makeAuditEvent({ target: { type: 'test', id: `t${i}` } }), T0);
            }),
          ),
        );
        expect(records.map((r) => r.seq).sort((x, y) => x - y)).toEqual(
          Array.from({ length: 50 }, (_, i) => i),
        );
        expect(await orgStore.auditLogSize()).toBe(50);
        const listed = (await orgStore.listAuditRecords({}, { limit: 100 })).items;
        expect(seqs(listed)).toEqual(Array.from({ length: 50 }, (_, i) => i));
        for (const record of records) expect(await orgStore.getAuditRecord(record.seq)).toEqual(record);
      });

      test('concurrent transactions that fail do not disturb the ones that succeed', async () => {
        const org = await seedOrg();
        const orgStore = store.org(org.id);
        const users = Array.from({ length: 10 }, () => makeUser(org.id));
        const results = await Promise.allSettled(
          users.map((user, i) =>
            orgStore.transact(async (tx) => {
              await tx.insertUser(user);
              const record = await tx.appendAudit(makeAuditEvent({ refs: { userId: user.id } }), T0);
              if (i % 2 === 1) throw new Error(`unit ${i} fails`);
              return record;
            }),
          ),
        );
        for (const [i, result] of results.entries()) {
          expect(result.status).toBe(i % 2 === 1 ? 'rejected' : 'fulfilled');
          expect(await orgStore.getUser(users[i]?.id as string)).toEqual(i % 2 === 1 ? undefined : users[i]);
        }
        expect(await orgStore.auditLogSize()).toBe(5);
        const listed = (await orgStore.listAuditRecords({}, { limit: 100 })).items;
        expect(seqs(listed)).toEqual([0, 1, 2, 3, 4]);
        expect(listed.map((r) => r.refs?.userId)).toEqual(
          users.filter((_, i) => i % 2 === 0).map((u) => u.id),
        );
      });
    });

    describe('optimistic concurrency', () => {
      test('updateAgent with a stale version throws ConflictError and changes nothing', async () => {
        const org = await seedOrg();
        const user = await insertUser(makeUser(org.id));
        const agent = await insertAgent(makeAgent(org.id, user.id));
        const v2: Agent = { ...agent, name: 'v2', labels: ['v2'], version: 2 };
        await store.org(org.id).transact((tx) => tx.updateAgent(v2, 1));
        const newKey = makeAgentKey();
        const stale: Agent = {
          ...agent,
          name: 'stale',
          status: 'revoked',
          labels: ['stale'],
          environments: ['stale'],
          keys: [newKey],
          version: 2,
        };
        await expect(store.org(org.id).transact((tx) => tx.updateAgent(stale, 1))).rejects.toBeInstanceOf(
          ConflictError,
        );
        const orgStore = store.org(org.id);
        const now = new Date(T0);
        expect(await orgStore.getAgent(agent.id)).toEqual(v2);
        expect(await orgStore.findAgentByKid(newKey.kid)).toBeUndefined();
        expect(await orgStore.findAgentByKid(agent.keys[0]?.kid as string)).toEqual(v2);
        expect((await orgStore.listAgents({ label: 'stale' }, { limit: 10 }, now)).items).toEqual([]);
        expect((await orgStore.listAgents({ environment: 'stale' }, { limit: 10 }, now)).items).toEqual([]);
        expect((await orgStore.listAgents({ namePrefix: 'stale' }, { limit: 10 }, now)).items).toEqual([]);
        expect(ids((await orgStore.listAgents({ label: 'v2' }, { limit: 10 }, now)).items)).toEqual([
          agent.id,
        ]);
        expect(await orgStore.countLiveAgentsOwnedBy(user.id)).toBe(1);
      });

      test('updateUser with a stale version throws ConflictError and changes nothing', async () => {
        const org = await seedOrg();
        const user = await insertUser(makeUser(org.id));
        const v2: User = { ...user, displayName: 'v2', version: 2 };
        await store.org(org.id).transact((tx) => tx.updateUser(v2, 1));
        await expect(
          store.org(org.id).transact((tx) => tx.updateUser({ ...user, status: 'offboarded', version: 2 }, 1)),
        ).rejects.toBeInstanceOf(ConflictError);
        expect(await store.org(org.id).getUser(user.id)).toEqual(v2);
        expect(ids((await store.org(org.id).listUsers({ status: 'active' }, { limit: 10 })).items)).toEqual([
          user.id,
        ]);
      });

      test('updateApiKey with a stale version throws ConflictError and changes nothing', async () => {
        const org = await seedOrg();
        const key = await insertApiKey(makeApiKey(org.id));
        const v2: ApiKey = { ...key, name: 'v2', version: 2 };
        await store.org(org.id).transact((tx) => tx.updateApiKey(v2, 1));
        await expect(
          store.org(org.id).transact((tx) => tx.updateApiKey({ ...key, revokedAt: T0, version: 2 }, 1)),
        ).rejects.toBeInstanceOf(ConflictError);
        expect(await store.org(org.id).getApiKey(key.id)).toEqual(v2);
        expect(await store.platform.findApiKey(key.id)).toEqual(v2);
      });

      test('updateOrg with a stale version throws ConflictError and changes nothing', async () => {
        const org = await seedOrg();
        const v2: Org = { ...org, name: 'v2', version: 2 };
        await store.org(org.id).transact((tx) => tx.updateOrg(v2, 1));
        await expect(
          store.org(org.id).transact((tx) => tx.updateOrg({ ...org, name: 'stale', version: 2 }, 1)),
        ).rejects.toBeInstanceOf(ConflictError);
        expect(await store.org(org.id).getOrg()).toEqual(v2);
        expect(await store.platform.getOrg(org.id)).toEqual(v2);
      });

      test('updating an object that does not exist throws ConflictError', async () => {
        const org = await seedOrg();
        const user = makeUser(org.id);
        const orgStore = store.org(org.id);
        await expect(orgStore.transact((tx) => tx.updateUser(user, 1))).rejects.toBeInstanceOf(ConflictError);
        await expect(
          orgStore.transact((tx) => tx.updateAgent(makeAgent(org.id, user.id), 1)),
        ).rejects.toBeInstanceOf(ConflictError);
        await expect(
          orgStore.transact((tx) => tx.updateApiKey(makeApiKey(org.id), 1)),
        ).rejects.toBeInstanceOf(ConflictError);
        const ghost = makeOrg();
        await expect(store.org(ghost.id).transact((tx) => tx.updateOrg(ghost, 1))).rejects.toBeInstanceOf(
          ConflictError,
        );
        expect(await orgStore.getUser(user.id)).toBeUndefined();
        expect(await store.platform.getOrg(ghost.id)).toBeUndefined();
      });

      test('successive updates with the current version succeed', async () => {
        const org = await seedOrg();
        const user = await insertUser(makeUser(org.id));
        const orgStore = store.org(org.id);
        let current = user;
        for (let v = 1; v <= 3; v++) {
          const next: User = { ...current, displayName: `v${v + 1}`, version: v + 1 };
          await orgStore.transact((tx) => tx.updateUser(next, v));
          current = next;
        }
        expect(await orgStore.getUser(user.id)).toEqual(current);
      });
    });

    describe('uniqueness', () => {
      test('inserting a duplicate org, user, agent or API key id throws DuplicateError', async () => {
        const org = await seedOrg();
        const user = await insertUser(makeUser(org.id));
        const agent = await insertAgent(makeAgent(org.id, user.id));
        const key = await insertApiKey(makeApiKey(org.id));
        const orgStore = store.org(org.id);
        await expect(
          orgStore.transact((tx) => tx.insertOrg({ ...org, name: 'again' })),
        ).rejects.toBeInstanceOf(DuplicateError);
        await expect(
          orgStore.transact((tx) => tx.insertUser({ ...user, displayName: 'again' })),
        ).rejects.toBeInstanceOf(DuplicateError);
        await expect(
          orgStore.transact((tx) => tx.insertAgent({ ...agent, name: 'again', keys: [makeAgentKey()] })),
        ).rejects.toBeInstanceOf(DuplicateError);
        await expect(
          orgStore.transact((tx) => tx.insertApiKey({ ...key, name: 'again' })),
        ).rejects.toBeInstanceOf(DuplicateError);
        expect(await orgStore.getOrg()).toEqual(org);
        expect(await orgStore.getUser(user.id)).toEqual(user);
        expect(await orgStore.getAgent(agent.id)).toEqual(agent);
        expect(await orgStore.getApiKey(key.id)).toEqual(key);
      });

      test('an API key id is unique across orgs (findApiKey is a cross-org lookup)', async () => {
        const a = await seedOrg();
        const b = await seedOrg();
        const key = await insertApiKey(makeApiKey(a.id));
        await expect(
          store.org(b.id).transact((tx) => tx.insertApiKey({ ...key, orgId: b.id })),
        ).rejects.toBeInstanceOf(DuplicateError);
        expect(await store.platform.findApiKey(key.id)).toEqual(key);
        expect(await store.org(b.id).getApiKey(key.id)).toBeUndefined();
      });

      test('insertPlatformKey with an existing id throws DuplicateError', async () => {
        const key = makePlatformKey();
        await store.platform.insertPlatformKey(key);
        await expect(store.platform.insertPlatformKey({ ...key, name: 'again' })).rejects.toBeInstanceOf(
          DuplicateError,
        );
        expect(await store.platform.getPlatformKey(key.id)).toEqual(key);
        expect(await store.platform.countPlatformKeys()).toBe(1);
      });

      test('two users with the same issuer and subject in one org: DuplicateError', async () => {
        const org = await seedOrg();
        const first = await insertUser(makeOidcUser(org.id, 'https://idp.example', 'alice'));
        await expect(
          insertUser(makeOidcUser(org.id, 'https://idp.example', 'alice', { displayName: 'Impostor' })),
        ).rejects.toBeInstanceOf(DuplicateError);
        expect(await store.org(org.id).findUserBySubject('https://idp.example', 'alice')).toEqual(first);
        expect((await store.org(org.id).listUsers({}, { limit: 10 })).items).toEqual([first]);
      });

      test('the same issuer and subject is allowed in different orgs, and other issuers or subjects', async () => {
        const a = await seedOrg();
        const b = await seedOrg();
        const inA = await insertUser(makeOidcUser(a.id, 'https://idp.example', 'alice'));
        const inB = await insertUser(makeOidcUser(b.id, 'https://idp.example', 'alice'));
        const otherIssuer = await insertUser(makeOidcUser(a.id, 'https://other.example', 'alice'));
        const otherSubject = await insertUser(makeOidcUser(a.id, 'https://idp.example', 'bob'));
        const localA = await insertUser(makeUser(a.id));
        const localB = await insertUser(makeUser(a.id));
        expect(await store.org(a.id).findUserBySubject('https://idp.example', 'alice')).toEqual(inA);
        expect(await store.org(b.id).findUserBySubject('https://idp.example', 'alice')).toEqual(inB);
        expect(await store.org(a.id).findUserBySubject('https://other.example', 'alice')).toEqual(
          otherIssuer,
        );
        expect(await store.org(a.id).findUserBySubject('https://idp.example', 'bob')).toEqual(otherSubject);
        expect(await store.org(a.id).findUserBySubject('https://idp.example', 'carol')).toBeUndefined();
        expect(ids((await store.org(a.id).listUsers({}, { limit: 10 })).items)).toEqual(
          sorted([inA.id, otherIssuer.id, otherSubject.id, localA.id, localB.id]),
        );
      });

      test('the same agent key kid on two agents of one org: DuplicateError', async () => {
        const org = await seedOrg();
        const user = await insertUser(makeUser(org.id));
        const first = await insertAgent(makeAgent(org.id, user.id));
        const shared = first.keys[0] as Agent['keys'][number];
        const second = makeAgent(org.id, user.id, { keys: [makeAgentKey(), { ...shared }] });
        await expect(insertAgent(second)).rejects.toBeInstanceOf(DuplicateError);
        const orgStore = store.org(org.id);
        expect(await orgStore.getAgent(second.id)).toBeUndefined();
        expect(await orgStore.findAgentByKid(second.keys[0]?.kid as string)).toBeUndefined();
        expect(await orgStore.findAgentByKid(shared.kid)).toEqual(first);
      });

      test('updateAgent adding a kid held by another agent of the org: DuplicateError', async () => {
        const org = await seedOrg();
        const user = await insertUser(makeUser(org.id));
        const first = await insertAgent(makeAgent(org.id, user.id));
        const second = await insertAgent(makeAgent(org.id, user.id));
        const taken = first.keys[0] as Agent['keys'][number];
        const grabbing: Agent = { ...second, keys: [...second.keys, { ...taken }], version: 2 };
        await expect(store.org(org.id).transact((tx) => tx.updateAgent(grabbing, 1))).rejects.toBeInstanceOf(
          DuplicateError,
        );
        const orgStore = store.org(org.id);
        expect(await orgStore.getAgent(second.id)).toEqual(second);
        expect(await orgStore.findAgentByKid(taken.kid)).toEqual(first);
        expect(await orgStore.findAgentByKid(second.keys[0]?.kid as string)).toEqual(second);
      });

      test('the same kid is allowed on agents of different orgs', async () => {
        const a = await seedOrg();
        const b = await seedOrg();
        const userA = await insertUser(makeUser(a.id));
        const userB = await insertUser(makeUser(b.id));
        const key = makeAgentKey();
        const agentA = await insertAgent(makeAgent(a.id, userA.id, { keys: [{ ...key }] }));
        const agentB = await insertAgent(makeAgent(b.id, userB.id, { keys: [{ ...key }] }));
        expect(await store.org(a.id).findAgentByKid(key.kid)).toEqual(agentA);
        expect(await store.org(b.id).findAgentByKid(key.kid)).toEqual(agentB);
      });

      test('findAgentByKid finds the agent by any of its keys, active or retired, and follows updates', async () => {
        const org = await seedOrg();
        const user = await insertUser(makeUser(org.id));
        const active = makeAgentKey();
        const retired = makeAgentKey({ status: 'retired', retiredAt: T0 });
        const agent = await insertAgent(makeAgent(org.id, user.id, { keys: [active, retired] }));
        await insertAgent(makeAgent(org.id, user.id));
        const orgStore = store.org(org.id);
        expect(await orgStore.findAgentByKid(active.kid)).toEqual(agent);
        expect(await orgStore.findAgentByKid(retired.kid)).toEqual(agent);
        expect(await orgStore.findAgentByKid('no-such-kid')).toBeUndefined();

        // Re-saving an agent with its own keys is not a duplicate; dropping a key frees its kid.
        const rotated = makeAgentKey();
        const v2: Agent = { ...agent, keys: [{ ...active }, rotated], version: 2 };
        await orgStore.transact((tx) => tx.updateAgent(v2, 1));
        expect(await orgStore.findAgentByKid(active.kid)).toEqual(v2);
        expect(await orgStore.findAgentByKid(rotated.kid)).toEqual(v2);
        expect(await orgStore.findAgentByKid(retired.kid)).toBeUndefined();
        const taker = await insertAgent(makeAgent(org.id, user.id, { keys: [{ ...retired }] }));
        expect(await orgStore.findAgentByKid(retired.kid)).toEqual(taker);
      });
    });

    describe('audit', () => {
      test('appendAudit returns the record with seq, orgId and time, readable by seq', async () => {
        const org = await seedOrg();
        const event = makeAuditEvent({
          type: 'agent.registered',
          target: { type: 'agent', id: 'agt_1' },
          refs: { agentId: 'agt_1', userId: 'usr_1' },
          before: { status: 'pending', nested: { list: [1, 2, 'three'], flag: true, nothing: null } },
          after: { status: 'active', unicode: 'é ✓ 🤖' },
          reason: 'because',
        });
        const time = '2030-05-06T07:08:09.123Z';
        const record = await store.org(org.id).transact((tx) => tx.appendAudit(event, time));
        expect(record).toEqual({ ...event, seq: 0, orgId: org.id, time });
        expect(await store.org(org.id).getAuditRecord(0)).toEqual(record);
        expect(await store.org(org.id).auditLogSize()).toBe(1);
      });

      test('getAuditCanonical returns the RFC 8785 canonical form of the record', async () => {
        const org = await seedOrg();
        const orgStore = store.org(org.id);
        const records = await orgStore.transact(async (tx) => [
          await tx.appendAudit(
            makeAuditEvent({ reason: 'with a reason', after: { b: 2, a: [1, { d: 1, c: 0 }] } }),
            T0,
          ),
          // An undefined member is absent, exactly as canonicalize treats it.
          await tx.appendAudit(
            makeAuditEvent({ reason: undefined, refs: { agentId: 'agt_x', userId: undefined } }),
            T0,
          ),
        ]);
        for (const record of records) {
          const canonical = await orgStore.getAuditCanonical(record.seq);
          expect(canonical).toBe(canonicalize(record));
          expect(canonical).toBe(canonicalize(await orgStore.getAuditRecord(record.seq)));
          expect(JSON.parse(canonical as string)).toEqual(record);
        }
        const second = await orgStore.getAuditRecord(1);
        expect(second && 'reason' in second).toBe(false);
        expect(second?.refs).toStrictEqual({ agentId: 'agt_x' });
      });

      test('appendAudit to an org that does not exist throws', async () => {
        const ghost = makeOrg();
        await expect(
          store.org(ghost.id).transact((tx) => tx.appendAudit(makeAuditEvent(), T0)),
        ).rejects.toThrow();
        expect(await store.org(ghost.id).auditLogSize()).toBe(0);
      });

      test('listAuditRecords filters by type, agentId, userId, delegationId, decisionId, since and until', async () => {
        const org = await seedOrg();
        const at = (second: number) => `2030-01-01T00:00:${String(second).padStart(2, '0')}.000Z`;
        const events = [
          { type: 'agent.registered', refs: { agentId: 'agt_a', userId: 'usr_1' }, time: at(0) },
          { type: 'agent.suspended', refs: { agentId: 'agt_a' }, time: at(1) },
          { type: 'user.created', refs: { userId: 'usr_1' }, time: at(2) },
          { type: 'agent.registered', refs: { agentId: 'agt_b', userId: 'usr_2' }, time: at(3) },
          { type: 'delegation.granted', refs: { agentId: 'agt_b', delegationId: 'dlg_1' }, time: at(4) },
          { type: 'decision.made', refs: { agentId: 'agt_a', decisionId: 'dcs_1' }, time: at(5) },
          { type: 'org.updated', time: at(6) },
        ];
        const orgStore = store.org(org.id);
        await orgStore.transact(async (tx) => {
          for (const { time, ...event } of events) await tx.appendAudit(makeAuditEvent(event), time);
        });
        const list = async (filter: Parameters<typeof orgStore.listAuditRecords>[0]) =>
          seqs((await orgStore.listAuditRecords(filter, { limit: 100 })).items);
        expect(await list({})).toEqual([0, 1, 2, 3, 4, 5, 6]);
        expect(await list({ type: 'agent.registered' })).toEqual([0, 3]);
        expect(await list({ type: 'no.such.type' })).toEqual([]);
        expect(await list({ agentId: 'agt_a' })).toEqual([0, 1, 5]);
        expect(await list({ agentId: 'agt_b' })).toEqual([3, 4]);
        expect(await list({ userId: 'usr_1' })).toEqual([0, 2]);
        expect(await list({ delegationId: 'dlg_1' })).toEqual([4]);
        expect(await list({ decisionId: 'dcs_1' })).toEqual([5]);
        expect(await list({ since: at(4) })).toEqual([4, 5, 6]);
        expect(await list({ until: at(2) })).toEqual([0, 1, 2]);
        expect(await list({ since: at(2), until: at(4) })).toEqual([2, 3, 4]);
        expect(await list({ since: at(3), until: at(3) })).toEqual([3]);
        expect(await list({ type: 'agent.registered', agentId: 'agt_b' })).toEqual([3]);
        expect(await list({ agentId: 'agt_a', since: at(1) })).toEqual([1, 5]);
        expect(await list({ since: at(7) })).toEqual([]);
      });

      test('listAuditRecords paginates with cursors: limit 3 sees every record once, in seq order', async () => {
        const org = await seedOrg();
        const orgStore = store.org(org.id);
        await orgStore.transact(async (tx) => {
          for (let i = 0; i < 10; i++) {
            await tx.appendAudit(makeAuditEvent({ type: i % 2 === 0 ? 'even' : 'odd' }), T0);
          }
        });
        const pages = await walk((after) => orgStore.listAuditRecords({}, { limit: 3, after }));
        expect(pages.map((p) => p.length)).toEqual([3, 3, 3, 1]);
        expect(seqs(pages.flat())).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

        const filtered = await walk((after) =>
          orgStore.listAuditRecords({ type: 'odd' }, { limit: 3, after }),
        );
        expect(filtered.map((p) => p.length)).toEqual([3, 2]);
        expect(seqs(filtered.flat())).toEqual([1, 3, 5, 7, 9]);
      });

      test('the last page of a listing has no cursor, even when it is full', async () => {
        const org = await seedOrg();
        const orgStore = store.org(org.id);
        await append(org.id, 6);
        const pages = await walk((after) => orgStore.listAuditRecords({}, { limit: 3, after }));
        expect(pages.map((p) => p.length)).toEqual([3, 3]);
        const all = await orgStore.listAuditRecords({}, { limit: 6 });
        expect(all.items).toHaveLength(6);
        expect(all.nextCursor).toBeUndefined();
        const empty = await store.org(makeOrg().id).listAuditRecords({}, { limit: 3 });
        expect(empty).toEqual({ items: [] });
      });
    });

    describe('listAgents', () => {
      const now = new Date('2030-06-01T00:00:00.000Z');
      const past = '2030-05-01T00:00:00.000Z';
      const future = '2030-07-01T00:00:00.000Z';

      test("status filters, including the derived 'expired'", async () => {
        const org = await seedOrg();
        const user = await insertUser(makeUser(org.id));
        const mk = (name: string, status: Agent['status'], expiresAt: string) =>
          insertAgent(makeAgent(org.id, user.id, { name, status, expiresAt }));
        const activeLive = await mk('active-live', 'active', future);
        const activeExpired = await mk('active-expired', 'active', past);
        const activeAtNow = await mk('active-at-now', 'active', now.toISOString());
        const pendingLive = await mk('pending-live', 'pending', future);
        const pendingExpired = await mk('pending-expired', 'pending', past);
        const suspendedLive = await mk('suspended-live', 'suspended', future);
        const suspendedExpired = await mk('suspended-expired', 'suspended', past);
        const revokedLive = await mk('revoked-live', 'revoked', future);
        const revokedExpired = await mk('revoked-expired', 'revoked', past);
        const orgStore = store.org(org.id);
        const list = async (status?: Agent['status'] | 'expired') =>
          ids((await orgStore.listAgents({ status }, { limit: 100 }, now)).items);

        expect(await list('active')).toEqual([activeLive.id]);
        expect(await list('pending')).toEqual([pendingLive.id]);
        expect(await list('suspended')).toEqual([suspendedLive.id]);
        expect(await list('expired')).toEqual(
          sorted([activeExpired.id, activeAtNow.id, pendingExpired.id, suspendedExpired.id]),
        );
        expect(await list('revoked')).toEqual(sorted([revokedLive.id, revokedExpired.id]));
        expect(await list(undefined)).toHaveLength(9);

        // `now` decides: before the expiry the same agents are listed under their stored status.
        const earlier = new Date('2030-04-01T00:00:00.000Z');
        expect(ids((await orgStore.listAgents({ status: 'active' }, { limit: 100 }, earlier)).items)).toEqual(
          sorted([activeLive.id, activeExpired.id, activeAtNow.id]),
        );
        expect((await orgStore.listAgents({ status: 'expired' }, { limit: 100 }, earlier)).items).toEqual([]);
      });

      test('ownerId, label and environment filters, alone and combined', async () => {
        const org = await seedOrg();
        const alice = await insertUser(makeUser(org.id));
        const bob = await insertUser(makeUser(org.id));
        const a1 = await insertAgent(
          makeAgent(org.id, alice.id, { labels: ['mail', 'beta'], environments: ['production', 'staging'] }),
        );
        const a2 = await insertAgent(
          makeAgent(org.id, alice.id, { labels: ['calendar'], environments: ['staging'] }),
        );
        const b1 = await insertAgent(
          makeAgent(org.id, bob.id, { labels: ['mail'], environments: ['production'] }),
        );
        const b2 = await insertAgent(makeAgent(org.id, bob.id, { labels: [], environments: [] }));
        const orgStore = store.org(org.id);
        const list = async (filter: Parameters<typeof orgStore.listAgents>[0]) =>
          ids((await orgStore.listAgents(filter, { limit: 100 }, now)).items);
        expect(await list({})).toEqual(sorted([a1.id, a2.id, b1.id, b2.id]));
        expect(await list({ ownerId: alice.id })).toEqual(sorted([a1.id, a2.id]));
        expect(await list({ ownerId: bob.id })).toEqual(sorted([b1.id, b2.id]));
        expect(await list({ ownerId: 'usr_nobody' })).toEqual([]);
        expect(await list({ label: 'mail' })).toEqual(sorted([a1.id, b1.id]));
        expect(await list({ label: 'beta' })).toEqual([a1.id]);
        expect(await list({ label: 'mai' })).toEqual([]);
        expect(await list({ environment: 'staging' })).toEqual(sorted([a1.id, a2.id]));
        expect(await list({ environment: 'production' })).toEqual(sorted([a1.id, b1.id]));
        expect(await list({ ownerId: bob.id, label: 'mail' })).toEqual([b1.id]);
        expect(await list({ label: 'mail', environment: 'staging' })).toEqual([a1.id]);
        expect(
          await list({ ownerId: alice.id, label: 'mail', environment: 'production', status: 'active' }),
        ).toEqual([a1.id]);

        // Filters follow updates of labels and environments.
        await orgStore.transact((tx) =>
          tx.updateAgent({ ...b2, labels: ['mail'], environments: ['staging'], version: 2 }, 1),
        );
        await orgStore.transact((tx) =>
          tx.updateAgent({ ...a1, labels: ['beta'], environments: [], version: 2 }, 1),
        );
        expect(await list({ label: 'mail' })).toEqual(sorted([b1.id, b2.id]));
        expect(await list({ environment: 'staging' })).toEqual(sorted([a2.id, b2.id]));
        expect(await list({ environment: 'production' })).toEqual([b1.id]);
      });

      test('namePrefix matches the start of the name, case-sensitively, with % and _ literal', async () => {
        const org = await seedOrg();
        const user = await insertUser(makeUser(org.id));
        const names = [
          'mail-triage',
          'mail-sender',
          'Mail-upper',
          'calendar-mail',
          '50%off',
          '50-off',
          '5000',
          'a_b',
          'axb',
          'a\\b',
          'a\\c',
          "it's",
        ];
        const byName = new Map<string, string>();
        for (const name of names)
          byName.set(name, (await insertAgent(makeAgent(org.id, user.id, { name }))).id);
        const orgStore = store.org(org.id);
        const list = async (namePrefix: string) =>
          ids((await orgStore.listAgents({ namePrefix }, { limit: 100 }, now)).items);
        const idsOf = (...n: string[]) => sorted(n.map((name) => byName.get(name) as string));
        expect(await list('mail')).toEqual(idsOf('mail-triage', 'mail-sender'));
        expect(await list('mail-t')).toEqual(idsOf('mail-triage'));
        expect(await list('Mail')).toEqual(idsOf('Mail-upper'));
        expect(await list('mail-triage')).toEqual(idsOf('mail-triage'));
        expect(await list('mail-triage-and-more')).toEqual([]);
        expect(await list('50%')).toEqual(idsOf('50%off'));
        expect(await list('%')).toEqual([]);
        expect(await list('5_')).toEqual([]);
        expect(await list('a_')).toEqual(idsOf('a_b'));
        expect(await list('_')).toEqual([]);
        expect(await list('a\\')).toEqual(idsOf('a\\b', 'a\\c'));
        expect(await list("it'")).toEqual(idsOf("it's"));
      });

      test('namePrefix matches names starting with characters outside the BMP', async () => {
        const org = await seedOrg();
        const user = await insertUser(makeUser(org.id));
        const robot = await insertAgent(makeAgent(org.id, user.id, { name: '🤖-bot' }));
        await insertAgent(makeAgent(org.id, user.id, { name: '🤖' }));
        await insertAgent(makeAgent(org.id, user.id, { name: 'plain' }));
        const orgStore = store.org(org.id);
        expect((await orgStore.listAgents({ namePrefix: '🤖' }, { limit: 100 }, now)).items).toHaveLength(2);
        expect(ids((await orgStore.listAgents({ namePrefix: '🤖-' }, { limit: 100 }, now)).items)).toEqual([
          robot.id,
        ]);
      });

      test('cursor pagination walks every agent once, in id order', async () => {
        const org = await seedOrg();
        const user = await insertUser(makeUser(org.id));
        const other = await seedOrg();
        const otherUser = await insertUser(makeUser(other.id));
        await insertAgent(makeAgent(other.id, otherUser.id));
        const agents: Agent[] = [];
        for (let i = 0; i < 8; i++) {
          agents.push(
            await insertAgent(makeAgent(org.id, user.id, { labels: i % 2 === 0 ? ['even'] : ['odd'] })),
          );
        }
        const orgStore = store.org(org.id);
        const pages = await walk((after) => orgStore.listAgents({}, { limit: 3, after }, now));
        expect(pages.map((p) => p.length)).toEqual([3, 3, 2]);
        expect(ids(pages.flat())).toEqual(sorted(ids(agents)));
        expect(pages.flat()).toEqual(sorted(ids(agents)).map((id) => agents.find((a) => a.id === id)));

        const even = await walk((after) => orgStore.listAgents({ label: 'even' }, { limit: 3, after }, now));
        expect(even.map((p) => p.length)).toEqual([3, 1]);
        expect(ids(even.flat())).toEqual(sorted(ids(agents.filter((_, i) => i % 2 === 0))));
      });
    });

    describe('users and API keys', () => {
      test('listUsers filters by status and kind and paginates in id order', async () => {
        const org = await seedOrg();
        const localActive = await insertUser(makeUser(org.id));
        const localOff = await insertUser(makeUser(org.id, { status: 'offboarded', offboardedAt: T0 }));
        const oidcActive = await insertUser(makeOidcUser(org.id, 'https://idp.example', 's1'));
        const oidcOff = await insertUser(
          makeOidcUser(org.id, 'https://idp.example', 's2', { status: 'offboarded', offboardedAt: T0 }),
        );
        const oidcActive2 = await insertUser(makeOidcUser(org.id, 'https://idp.example', 's3'));
        const orgStore = store.org(org.id);
        const list = async (filter: Parameters<typeof orgStore.listUsers>[0]) =>
          ids((await orgStore.listUsers(filter, { limit: 100 })).items);
        const all = [localActive, localOff, oidcActive, oidcOff, oidcActive2];
        expect(await list({})).toEqual(sorted(ids(all)));
        expect(await list({ status: 'active' })).toEqual(
          sorted([localActive.id, oidcActive.id, oidcActive2.id]),
        );
        expect(await list({ status: 'offboarded' })).toEqual(sorted([localOff.id, oidcOff.id]));
        expect(await list({ kind: 'local' })).toEqual(sorted([localActive.id, localOff.id]));
        expect(await list({ kind: 'oidc' })).toEqual(sorted([oidcActive.id, oidcOff.id, oidcActive2.id]));
        expect(await list({ kind: 'oidc', status: 'offboarded' })).toEqual([oidcOff.id]);

        const pages = await walk((after) => orgStore.listUsers({}, { limit: 2, after }));
        expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
        expect(ids(pages.flat())).toEqual(sorted(ids(all)));
        const active = await walk((after) => orgStore.listUsers({ status: 'active' }, { limit: 2, after }));
        expect(ids(active.flat())).toEqual(sorted([localActive.id, oidcActive.id, oidcActive2.id]));

        // The status filter follows updates.
        await orgStore.transact((tx) =>
          tx.updateUser({ ...localActive, status: 'offboarded', offboardedAt: T0, version: 2 }, 1),
        );
        expect(await list({ status: 'offboarded' })).toEqual(
          sorted([localActive.id, localOff.id, oidcOff.id]),
        );
      });

      test('countLiveAgentsOwnedBy counts the owner’s agents that are not revoked', async () => {
        const org = await seedOrg();
        const alice = await insertUser(makeUser(org.id));
        const bob = await insertUser(makeUser(org.id));
        for (const status of ['active', 'pending', 'suspended', 'revoked', 'revoked'] as const) {
          await insertAgent(makeAgent(org.id, alice.id, { status }));
        }
        const expired = await insertAgent(makeAgent(org.id, alice.id, { status: 'active', expiresAt: T0 }));
        await insertAgent(makeAgent(org.id, bob.id));
        const orgStore = store.org(org.id);
        expect(await orgStore.countLiveAgentsOwnedBy(alice.id)).toBe(4);
        expect(await orgStore.countLiveAgentsOwnedBy(bob.id)).toBe(1);
        expect(await orgStore.countLiveAgentsOwnedBy('usr_nobody')).toBe(0);
        await orgStore.transact((tx) => tx.updateAgent({ ...expired, status: 'revoked', version: 2 }, 1));
        expect(await orgStore.countLiveAgentsOwnedBy(alice.id)).toBe(3);
        // Transferring ownership moves the count.
        await orgStore.transact((tx) =>
          tx.updateAgent({ ...expired, ownerId: bob.id, status: 'active', version: 3 }, 2),
        );
        expect(await orgStore.countLiveAgentsOwnedBy(bob.id)).toBe(2);
      });

      test('listApiKeys paginates the org’s keys in id order', async () => {
        const org = await seedOrg();
        const other = await seedOrg();
        await insertApiKey(makeApiKey(other.id));
        const keys: ApiKey[] = [];
        for (let i = 0; i < 5; i++) keys.push(await insertApiKey(makeApiKey(org.id, { name: `k${i}` })));
        const orgStore = store.org(org.id);
        const pages = await walk((after) => orgStore.listApiKeys({ limit: 2, after }));
        expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
        expect(ids(pages.flat())).toEqual(sorted(ids(keys)));
        expect(pages.flat()).toEqual(sorted(ids(keys)).map((id) => keys.find((k) => k.id === id)));
        expect((await orgStore.listApiKeys({ limit: 5 })).nextCursor).toBeUndefined();
      });
    });

    describe('platform', () => {
      test('listOrgs paginates every org once, in id order', async () => {
        expect(await store.platform.listOrgs({ limit: 2 })).toEqual({ items: [] });
        const orgs: Org[] = [];
        for (let i = 0; i < 5; i++) orgs.push(await seedOrg(makeOrg({ name: `org ${i}` })));
        const pages = await walk((after) => store.platform.listOrgs({ limit: 2, after }));
        expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
        expect(ids(pages.flat())).toEqual(sorted(ids(orgs)));
        expect(pages.flat()).toEqual(sorted(ids(orgs)).map((id) => orgs.find((o) => o.id === id)));
      });

      test('settings: get, set and overwrite', async () => {
        expect(await store.platform.getSetting('default_org')).toBeUndefined();
        await store.platform.setSetting('default_org', 'org_1');
        await store.platform.setSetting('other', 'x');
        expect(await store.platform.getSetting('default_org')).toBe('org_1');
        await store.platform.setSetting('default_org', 'org_2');
        expect(await store.platform.getSetting('default_org')).toBe('org_2');
        expect(await store.platform.getSetting('other')).toBe('x');
        await store.platform.setSetting('empty', '');
        expect(await store.platform.getSetting('empty')).toBe('');
      });

      test('findApiKey finds a key in whichever org holds it', async () => {
        const a = await seedOrg();
        const b = await seedOrg();
        const keyA = await insertApiKey(makeApiKey(a.id));
        const keyB = await insertApiKey(makeApiKey(b.id));
        expect(await store.platform.findApiKey(keyA.id)).toEqual(keyA);
        expect(await store.platform.findApiKey(keyB.id)).toEqual(keyB);
        expect((await store.platform.findApiKey(keyB.id))?.orgId).toBe(b.id);
        expect(await store.platform.findApiKey('key_missing')).toBeUndefined();
      });

      test('platform keys: insert, get and count', async () => {
        expect(await store.platform.countPlatformKeys()).toBe(0);
        const first = makePlatformKey();
        const second = makePlatformKey({ name: 'second', revokedAt: LATER });
        await store.platform.insertPlatformKey(first);
        expect(await store.platform.countPlatformKeys()).toBe(1);
        await store.platform.insertPlatformKey(second);
        expect(await store.platform.countPlatformKeys()).toBe(2);
        expect(await store.platform.getPlatformKey(first.id)).toEqual(first);
        expect(await store.platform.getPlatformKey(second.id)).toEqual(second);
        expect(await store.platform.getPlatformKey('pk_missing')).toBeUndefined();
      });

      test('touchApiKey sets lastUsedAt, and a later updateApiKey does not erase it', async () => {
        const org = await seedOrg();
        const key = await insertApiKey(makeApiKey(org.id));
        const other = await insertApiKey(makeApiKey(org.id));
        const orgStore = store.org(org.id);
        expect((await orgStore.getApiKey(key.id))?.lastUsedAt).toBeUndefined();

        const used = '2030-02-02T00:00:00.000Z';
        await store.platform.touchApiKey(key.id, used);
        expect((await orgStore.getApiKey(key.id))?.lastUsedAt).toBe(used);
        expect((await store.platform.findApiKey(key.id))?.lastUsedAt).toBe(used);
        expect(
          (await orgStore.listApiKeys({ limit: 10 })).items.find((k) => k.id === key.id)?.lastUsedAt,
        ).toBe(used);
        expect((await orgStore.getApiKey(other.id))?.lastUsedAt).toBeUndefined();
        // Touching is not a change of authority: no version bump, no audit record.
        expect((await orgStore.getApiKey(key.id))?.version).toBe(1);
        expect(await orgStore.auditLogSize()).toBe(0);

        // Revoke it from the copy read before it was touched (no lastUsedAt in it).
        const revoked: ApiKey = {
          ...key,
          revokedAt: LATER,
          revokedBy: { kind: 'system', id: 'mandate' },
          version: 2,
        };
        await orgStore.transact((tx) => tx.updateApiKey(revoked, 1));
        const after = await orgStore.getApiKey(key.id);
        expect(after?.revokedAt).toBe(LATER);
        expect(after?.version).toBe(2);
        expect(after?.lastUsedAt).toBe(used);
        expect((await store.platform.findApiKey(key.id))?.lastUsedAt).toBe(used);

        const usedAgain = '2030-03-03T00:00:00.000Z';
        await store.platform.touchApiKey(key.id, usedAgain);
        expect((await orgStore.getApiKey(key.id))?.lastUsedAt).toBe(usedAgain);

        // Touching an unknown key is harmless.
        await expect(store.platform.touchApiKey('key_missing', usedAgain)).resolves.toBeUndefined();
      });
    });

    describe('delegations', () => {
      function delegation(orgId: string, overrides: Partial<Delegation> = {}): Delegation {
        const id = overrides.id ?? newId('delegation');
        return {
          id,
          orgId,
          rootUserId: 'usr_root',
          delegator: { kind: 'user', id: 'usr_root' },
          delegateAgentId: 'agt_a',
          purpose: 'test',
          scope: {
            actions: ['email.*'],
            resources: ['*'],
            dataClass: 'public',
            expiresAt: LATER,
            maxDepth: 2,
          },
          depth: 0,
          chain: [id],
          status: 'active',
          createdAt: T0,
          createdBy: { kind: 'system', id: 'mandate' },
          version: 1,
          ...overrides,
        };
      }
      async function chainOf(orgId: string) {
        const root = delegation(orgId);
        const childId = newId('delegation');
        const child = delegation(orgId, {
          id: childId,
          parentId: root.id,
          depth: 1,
          chain: [root.id, childId],
          delegateAgentId: 'agt_b',
        });
        const grandId = newId('delegation');
        const grand = delegation(orgId, {
          id: grandId,
          parentId: childId,
          depth: 2,
          chain: [root.id, childId, grandId],
          delegateAgentId: 'agt_c',
        });
        const other = delegation(orgId, { rootUserId: 'usr_other' });
        await store.org(orgId).transact(async (tx) => {
          for (const d of [root, child, grand, other]) await tx.insertDelegation(d);
        });
        return { root, child, grand, other };
      }

      test('delegations: read back, list by filters, and subtree in chain order', async () => {
        const org = await seedOrg();
        const { root, child, grand, other } = await chainOf(org.id);
        expect(await store.org(org.id).getDelegation(child.id)).toEqual(child);
        const byUser = await store.org(org.id).listDelegations({ rootUserId: 'usr_root' }, { limit: 10 });
        expect(byUser.items.map((d) => d.id).sort()).toEqual([root.id, child.id, grand.id].sort());
        const byAgent = await store.org(org.id).listDelegations({ delegateAgentId: 'agt_b' }, { limit: 10 });
        expect(byAgent.items.map((d) => d.id)).toEqual([child.id]);
        const byParent = await store.org(org.id).listDelegations({ parentId: root.id }, { limit: 10 });
        expect(byParent.items.map((d) => d.id)).toEqual([child.id]);
        expect((await store.org(org.id).listDelegationSubtree(root.id)).map((d) => d.id)).toEqual([
          root.id,
          child.id,
          grand.id,
        ]);
        expect((await store.org(org.id).listDelegationSubtree(child.id)).map((d) => d.id)).toEqual([
          child.id,
          grand.id,
        ]);
        expect(await store.org(org.id).listDelegationSubtree(other.id)).toHaveLength(1);
        expect(await store.org(org.id).listDelegationSubtree('dlg_missing')).toEqual([]);
      });

      test('delegations: are invisible and untouchable through another org', async () => {
        const a = await seedOrg();
        const b = await seedOrg();
        const { root } = await chainOf(a.id);
        expect(await store.org(b.id).getDelegation(root.id)).toBeUndefined();
        expect((await store.org(b.id).listDelegations({}, { limit: 10 })).items).toEqual([]);
        expect(await store.org(b.id).listDelegationSubtree(root.id)).toEqual([]);
        await expect(
          store.org(b.id).transact((tx) => tx.updateDelegation({ ...root, version: 2 }, 1)),
        ).rejects.toThrow();
        expect(await store.org(a.id).getDelegation(root.id)).toEqual(root);
      });

      test('delegations: a stale version is a ConflictError and changes nothing', async () => {
        const org = await seedOrg();
        const { root } = await chainOf(org.id);
        const revoked: Delegation = { ...root, status: 'revoked', version: 2 };
        await store.org(org.id).transact((tx) => tx.updateDelegation(revoked, 1));
        await expect(
          store
            .org(org.id)
            .transact((tx) => tx.updateDelegation({ ...root, purpose: 'stale', version: 2 }, 1)),
        ).rejects.toBeInstanceOf(ConflictError);
        expect(await store.org(org.id).getDelegation(root.id)).toEqual(revoked);
        expect(
          (await store.org(org.id).listDelegations({ status: 'revoked' }, { limit: 10 })).items,
        ).toHaveLength(1);
      });
    });

    describe('documents', () => {
      test('putDocument inserts and replaces by kind and id; getDocument reads it back', async () => {
        const org = await seedOrg();
        const o = store.org(org.id);
        await o.transact((tx) => tx.putDocument('lock', { id: 'lck_1', tag: 'active', doc: { n: 1 } }));
        expect(await o.getDocument('lock', 'lck_1')).toEqual({ id: 'lck_1', tag: 'active', doc: { n: 1 } });
        await o.transact((tx) => tx.putDocument('lock', { id: 'lck_1', tag: 'released', doc: { n: 2 } }));
        expect(await o.getDocument('lock', 'lck_1')).toEqual({ id: 'lck_1', tag: 'released', doc: { n: 2 } });
        // The same id under another kind is another document.
        expect(await o.getDocument('approval', 'lck_1')).toBeUndefined();
      });

      test('listDocuments filters by kind and tag, orders by id and pages', async () => {
        const org = await seedOrg();
        const o = store.org(org.id);
        await o.transact(async (tx) => {
          for (const id of ['c', 'a', 'd', 'b'])
            await tx.putDocument('lock', { id, tag: id === 'd' ? 'released' : 'active', doc: { id } });
          await tx.putDocument('usage', { id: 'a', tag: 'active', doc: {} });
        });
        const first = await o.listDocuments('lock', 'active', { limit: 2 });
        expect(first.items.map((d) => d.id)).toEqual(['a', 'b']);
        const second = await o.listDocuments('lock', 'active', { limit: 2, after: first.nextCursor });
        expect(second.items.map((d) => d.id)).toEqual(['c']);
        expect(second.nextCursor).toBeUndefined();
        expect((await o.listDocuments('lock', undefined, { limit: 10 })).items.map((d) => d.id)).toEqual([
          'a',
          'b',
          'c',
          'd',
        ]);
      });

      test('documents are scoped to their org, and a failed transaction keeps none', async () => {
        const [a, b] = [await seedOrg(), await seedOrg()];
        await store.org(a.id).transact((tx) => tx.putDocument('lock', { id: 'x', tag: 'active', doc: 'A' }));
        expect(await store.org(b.id).getDocument('lock', 'x')).toBeUndefined();
        expect((await store.org(b.id).listDocuments('lock', 'active', { limit: 10 })).items).toEqual([]);
        await expect(
          store.org(b.id).transact(async (tx) => {
            await tx.putDocument('lock', { id: 'y', tag: 'active', doc: 'B' });
            throw new Error('undo');
          }),
        ).rejects.toThrow('undo');
        expect(await store.org(b.id).getDocument('lock', 'y')).toBeUndefined();
      });
    });

    // Registered last, so it runs after every contract test above has been collected.
    it('knownBugs names only existing contract tests', () => {
      expect([...knownBugs].filter((title) => !seen.has(title))).toEqual([]);
    });
  });
}
