import { type Agent, type Delegation, newId } from '@mandate/core';
import { chainLiveness, MemoryStore } from '@mandate/engine';
import { describe, expect, it } from 'vitest';
import { makeAgent, makeOrg, makeUser } from '../store/fixtures.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const LATER = '2026-06-02T00:00:00.000Z';

/** Liveness fails closed: only a whole chain of active links and agents is live. */
async function world(mutate: (d: Delegation, agent: Agent) => void = () => {}) {
  const store = new MemoryStore();
  const org = makeOrg();
  const user = makeUser(org.id);
  const agent = makeAgent(org.id, user.id, { status: 'active', expiresAt: LATER });
  const id = newId('delegation');
  const delegation: Delegation = {
    id,
    orgId: org.id,
    rootUserId: user.id,
    delegator: { kind: 'user', id: user.id },
    delegateAgentId: agent.id,
    purpose: 'test',
    scope: { actions: ['*'], resources: ['*'], dataClass: 'public', expiresAt: LATER, maxDepth: 0 },
    depth: 0,
    chain: [id],
    status: 'active',
    createdAt: NOW.toISOString(),
    createdBy: { kind: 'system', id: 'mandate' },
    version: 1,
  };
  mutate(delegation, agent);
  await store.org(org.id).transact(async (tx) => {
    await tx.insertOrg(org);
    await tx.insertUser(user);
    await tx.insertAgent(agent);
    await tx.insertDelegation(delegation);
  });
  return chainLiveness(store.org(org.id), id, NOW);
}

describe('chainLiveness fails closed', () => {
  it('a whole, active chain is live (control)', async () => {
    expect((await world()).live).toBe(true);
  });

  it('a revoked delegation with an empty chain is not live', async () => {
    const result = await world((d) => {
      d.status = 'revoked';
      d.chain = [];
    });
    expect(result).toMatchObject({ live: false, reason: 'chain_broken' });
  });

  it('a chain that does not end at the delegation, or is longer than its depth, is broken', async () => {
    expect(await world((d) => (d.chain = ['dlg_other']))).toMatchObject({
      live: false,
      reason: 'chain_broken',
    });
    expect(await world((d) => (d.chain = [d.id, d.id]))).toMatchObject({
      live: false,
      reason: 'chain_broken',
    });
  });

  it('a root link that claims a parent is broken', async () => {
    expect(await world((d) => (d.parentId = 'dlg_ghost'))).toMatchObject({
      live: false,
      reason: 'chain_broken',
    });
  });

  it('a delegation or agent in a status no one planned for is not live', async () => {
    expect((await world((d) => ((d as { status: string }).status = 'paused'))).live).toBe(false);
    expect((await world((_d, a) => ((a as { status: string }).status = 'retired'))).live).toBe(false);
  });

  it('an unreadable expiry is not live', async () => {
    expect(await world((d) => (d.scope.expiresAt = 'tomorrow'))).toMatchObject({
      live: false,
      reason: 'delegation_expired',
    });
  });
});
