/**
 * The kill switch through its HTTP API (/v1/killswitch): lock, list, show and release, each
 * audited (`killswitch.locked` / `killswitch.released` in /v1/audit/events); what a lock request
 * must name (a known scope, a reason, a target of this org); locking what is already locked
 * answers the lock in force, also when requests race; a lock is released once; another org's
 * agents, users and locks are out of reach. What a lock stops is in
 * killswitch.security.test.ts.
 */
import { newId } from '@mandate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectOk } from '../api/helpers.js';
import { startTestApp, type TestApp } from '../harness.js';
import { activeAgent } from '../oauth/helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: audit records and API answers, checked field by field
type Json = any;

let t: TestApp;
let ownerId: string;
let agentId: string;

beforeAll(async () => {
  t = await startTestApp();
  ownerId = expectOk(
    await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Owner' } }),
    201,
  ).id;
  agentId = (await activeAgent(t, ownerId, 'locked-bot')).id;
});
afterAll(async () => t?.close());

const lock = (body: Record<string, unknown>, key = t.adminKey) =>
  t.call('POST', '/v1/killswitch', { key, body });
const release = (lockId: string, reason: string | null = 'all clear', key = t.adminKey) =>
  t.call('POST', `/v1/killswitch/${lockId}/release`, { key, body: reason === null ? {} : { reason } });

/** Every audit event of one type, in sequence order (all pages). */
async function auditEvents(type: string): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | undefined;
  do {
    const page = expectOk(
      await t.call(
        'GET',
        `/v1/audit/events?type=${encodeURIComponent(type)}&limit=200${cursor ? `&cursor=${cursor}` : ''}`,
        { key: t.adminKey },
      ),
    );
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

const lockIdsIn = (page: { items: Array<{ id: string }> }) => page.items.map((l) => l.id);

describe('lock, list, show, release (audited)', () => {
  it('locks an agent: 201 with the lock, listed and shown, and a killswitch.locked record', async () => {
    const body = expectOk(
      await lock({ scope: 'agent', targetId: agentId, reason: '  the agent misbehaves  ' }),
      201,
    );
    expect(body).toMatchObject({
      id: expect.stringMatching(/^lck_[0-9A-Z]{26}$/),
      scope: 'agent',
      targetId: agentId,
      reason: 'the agent misbehaves',
      lockedBy: { kind: expect.any(String) },
      lockedAt: t.clock.now().toISOString(),
    });
    expect(body).not.toHaveProperty('releasedAt');

    const listed = expectOk(await t.call('GET', '/v1/killswitch', { key: t.adminKey }));
    expect(lockIdsIn(listed)).toContain(body.id);
    expect(expectOk(await t.call('GET', `/v1/killswitch/${body.id}`, { key: t.adminKey }))).toEqual(body);

    const records = (await auditEvents('killswitch.locked')).filter((r) => r.target.id === body.id);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      type: 'killswitch.locked',
      actor: body.lockedBy,
      target: { type: 'lock', id: body.id },
      refs: { agentId },
      after: { scope: 'agent', targetId: agentId },
      reason: 'the agent misbehaves',
    });

    // Release: the lock leaves the list in force, stays in the full list, and is audited.
    const released = expectOk(await release(body.id, 'false alarm'));
    expect(released).toMatchObject({
      ...body,
      releasedAt: t.clock.now().toISOString(),
      releasedBy: body.lockedBy,
      releaseReason: 'false alarm',
    });
    expect(lockIdsIn(expectOk(await t.call('GET', '/v1/killswitch', { key: t.adminKey })))).not.toContain(
      body.id,
    );
    const all = expectOk(await t.call('GET', '/v1/killswitch?all=true', { key: t.adminKey }));
    expect(all.items.find((l: { id: string }) => l.id === body.id)).toEqual(released);
    expect(expectOk(await t.call('GET', `/v1/killswitch/${body.id}`, { key: t.adminKey }))).toEqual(released);

    const releases = (await auditEvents('killswitch.released')).filter((r) => r.target.id === body.id);
    expect(releases).toHaveLength(1);
    expect(releases[0]).toMatchObject({
      type: 'killswitch.released',
      actor: body.lockedBy,
      target: { type: 'lock', id: body.id },
      before: { scope: 'agent', targetId: agentId },
      reason: 'false alarm',
    });
    expect(releases[0].seq).toBeGreaterThan(records[0].seq);
  });

  it('locks an owner (refs.userId) and the org (no target needed, or the own org id)', async () => {
    const ownerLock = expectOk(await lock({ scope: 'owner', targetId: ownerId, reason: 'owner left' }), 201);
    expect(ownerLock).toMatchObject({ scope: 'owner', targetId: ownerId });
    const orgLock = expectOk(await lock({ scope: 'org', reason: 'incident' }), 201);
    expect(orgLock).toMatchObject({ scope: 'org', targetId: t.defaultOrgId });
    try {
      // Naming the own org is the same lock: the one in force, 200.
      const again = expectOk(await lock({ scope: 'org', targetId: t.defaultOrgId, reason: 'still' }), 200);
      expect(again).toEqual(orgLock);
      const listed = lockIdsIn(expectOk(await t.call('GET', '/v1/killswitch', { key: t.adminKey })));
      expect(listed).toEqual(expect.arrayContaining([ownerLock.id, orgLock.id]));
      const records = await auditEvents('killswitch.locked');
      expect(records.find((r) => r.target.id === ownerLock.id)).toMatchObject({
        refs: { userId: ownerId },
        after: { scope: 'owner', targetId: ownerId },
        reason: 'owner left',
      });
      expect(records.find((r) => r.target.id === orgLock.id)).toMatchObject({
        after: { scope: 'org', targetId: t.defaultOrgId },
        reason: 'incident',
      });
    } finally {
      expectOk(await release(orgLock.id));
      expectOk(await release(ownerLock.id));
    }
  });
});

describe('idempotent lock', () => {
  it('locking a locked target again answers 200 with the lock in force, and records nothing', async () => {
    const first = expectOk(await lock({ scope: 'agent', targetId: agentId, reason: 'first' }), 201);
    const recordsBefore = (await auditEvents('killswitch.locked')).length;
    const second = await lock({ scope: 'agent', targetId: agentId, reason: 'second' });
    expect(expectOk(second, 200)).toEqual(first);
    expect(second.body.reason).toBe('first');
    expect((await auditEvents('killswitch.locked')).length).toBe(recordsBefore);
    const inForce = expectOk(await t.call('GET', '/v1/killswitch', { key: t.adminKey })).items.filter(
      (l: { targetId: string }) => l.targetId === agentId,
    );
    expect(inForce).toHaveLength(1);

    // Once released, the same target can be locked again: a new lock.
    expectOk(await release(first.id));
    const third = expectOk(await lock({ scope: 'agent', targetId: agentId, reason: 'third' }), 201);
    expect(third.id).not.toBe(first.id);
    expectOk(await release(third.id));
  });
});

describe('concurrent requests', () => {
  it('five simultaneous locks of one target make one lock (one 201, four 200 with its id, one record)', async () => {
    const recordsBefore = (await auditEvents('killswitch.locked')).length;
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => lock({ scope: 'agent', targetId: agentId, reason: `race ${i}` })),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses, answers.map((a) => a.text).join('\n')).toEqual([200, 200, 200, 200, 201]);
    const ids = new Set(answers.map((a) => a.body.id));
    expect(ids.size).toBe(1);
    expect((await auditEvents('killswitch.locked')).length).toBe(recordsBefore + 1);

    // Two simultaneous releases: one 200, one 409, one record.
    const [id] = [...ids] as [string];
    const releases = await Promise.all([release(id, 'one'), release(id, 'two')]);
    expect(releases.map((r) => r.status).sort()).toEqual([200, 409]);
    expect((await auditEvents('killswitch.released')).filter((r) => r.target.id === id)).toHaveLength(1);
  });
});

describe('validation', () => {
  it('an unknown scope is 400', async () => {
    expectError(await lock({ scope: 'tenant', targetId: agentId, reason: 'x' }), 400, 'invalid_request');
    expectError(await lock({ targetId: agentId, reason: 'x' }), 400, 'invalid_request');
  });

  it('a missing or blank reason is 400 (lock and release)', async () => {
    expectError(await lock({ scope: 'agent', targetId: agentId }), 400, 'invalid_request');
    expectError(await lock({ scope: 'agent', targetId: agentId, reason: '   ' }), 400, 'invalid_request');
    // The service keeps at most 500 characters (the route schema allows more: still a 400).
    expectError(
      await lock({ scope: 'agent', targetId: agentId, reason: 'x'.repeat(501) }),
      400,
      'invalid_request',
      'reason',
    );
    const held = expectOk(await lock({ scope: 'agent', targetId: agentId, reason: 'held' }), 201);
    try {
      expectError(await release(held.id, null), 400, 'invalid_request');
      expectError(await release(held.id, ''), 400, 'invalid_request');
      // Still in force: a refused release changes nothing.
      expect(expectOk(await t.call('GET', `/v1/killswitch/${held.id}`, { key: t.adminKey }))).toEqual(held);
    } finally {
      expectOk(await release(held.id));
    }
  });

  it('an unknown agent or user, or a target of the wrong kind, is 400 naming targetId', async () => {
    expectError(
      await lock({ scope: 'agent', targetId: newId('agent'), reason: 'x' }),
      400,
      'invalid_request',
      'targetId',
    );
    expectError(
      await lock({ scope: 'owner', targetId: newId('user'), reason: 'x' }),
      400,
      'invalid_request',
      'targetId',
    );
    // An agent id given as an owner, an owner given as an agent, or no target at all.
    expectError(
      await lock({ scope: 'owner', targetId: agentId, reason: 'x' }),
      400,
      'invalid_request',
      'targetId',
    );
    expectError(
      await lock({ scope: 'agent', targetId: ownerId, reason: 'x' }),
      400,
      'invalid_request',
      'targetId',
    );
    expectError(await lock({ scope: 'agent', reason: 'x' }), 400, 'invalid_request', 'targetId');
    expectError(await lock({ scope: 'owner', reason: 'x' }), 400, 'invalid_request', 'targetId');
  });

  it('an agent or user of another org is 400, as if unknown (nothing is locked in either org)', async () => {
    const other = expectOk(
      await t.call('POST', '/v1/orgs', { key: t.platformKey, body: { name: 'Far org' } }),
      201,
    );
    const theirKey = other.adminKey.secret as string;
    const theirUser = expectOk(
      await t.call('POST', '/v1/users', { key: theirKey, body: { displayName: 'Theirs' } }),
      201,
    ).id;
    const theirAgent = (await activeAgent({ ...t, adminKey: theirKey }, theirUser, 'their-bot')).id;
    expectError(
      await lock({ scope: 'agent', targetId: theirAgent, reason: 'x' }),
      400,
      'invalid_request',
      'targetId',
    );
    expectError(
      await lock({ scope: 'owner', targetId: theirUser, reason: 'x' }),
      400,
      'invalid_request',
      'targetId',
    );
    expect(expectOk(await t.call('GET', '/v1/killswitch?all=true', { key: theirKey })).items).toEqual([]);
    const ours = expectOk(await t.call('GET', '/v1/killswitch?all=true', { key: t.adminKey })).items;
    expect(ours.filter((l: { targetId: string }) => [theirAgent, theirUser].includes(l.targetId))).toEqual(
      [],
    );
  });

  it('an org lock naming another org (existing or not) is 400', async () => {
    const other = expectOk(
      await t.call('POST', '/v1/orgs', { key: t.platformKey, body: { name: 'Other org' } }),
      201,
    );
    for (const targetId of [other.org.id, newId('org')]) {
      expectError(await lock({ scope: 'org', targetId, reason: 'x' }), 400, 'invalid_request', 'targetId');
    }
    // Nothing was locked, in either org.
    const ours = expectOk(await t.call('GET', '/v1/killswitch?all=true', { key: t.adminKey })).items;
    expect(ours.filter((l: { scope: string }) => l.scope === 'org')).toEqual(
      ours.filter((l: { targetId: string }) => l.targetId === t.defaultOrgId),
    );
    expect(
      expectOk(await t.call('GET', '/v1/killswitch?all=true', { key: other.adminKey.secret })).items,
    ).toEqual([]);
  });

  it('releasing twice is 409, and records one release', async () => {
    const held = expectOk(await lock({ scope: 'agent', targetId: agentId, reason: 'twice' }), 201);
    const first = expectOk(await release(held.id, 'first release'));
    expectError(await release(held.id, 'second release'), 409, 'illegal_transition');
    // The first release stands.
    expect(expectOk(await t.call('GET', `/v1/killswitch/${held.id}`, { key: t.adminKey }))).toEqual(first);
    expect((await auditEvents('killswitch.released')).filter((r) => r.target.id === held.id)).toHaveLength(1);
  });

  it('an unknown lock id is 404 (show and release); a malformed one is 400', async () => {
    const unknown = newId('lock');
    expectError(await t.call('GET', `/v1/killswitch/${unknown}`, { key: t.adminKey }), 404, 'not_found');
    expectError(await release(unknown), 404, 'not_found');
    expectError(await t.call('GET', '/v1/killswitch/lck_nope', { key: t.adminKey }), 400, 'invalid_request');
    expectError(await release('not-a-lock'), 400, 'invalid_request');
  });

  it("another org's lock is 404 here (show and release), and stays in force", async () => {
    const other = expectOk(
      await t.call('POST', '/v1/orgs', { key: t.platformKey, body: { name: 'Neighbour' } }),
      201,
    );
    const theirs = expectOk(
      await lock({ scope: 'org', reason: 'their incident' }, other.adminKey.secret),
      201,
    );
    expectError(await t.call('GET', `/v1/killswitch/${theirs.id}`, { key: t.adminKey }), 404, 'not_found');
    expectError(await release(theirs.id), 404, 'not_found');
    expect(lockIdsIn(expectOk(await t.call('GET', '/v1/killswitch', { key: t.adminKey })))).not.toContain(
      theirs.id,
    );
    expect(
      expectOk(await t.call('GET', `/v1/killswitch/${theirs.id}`, { key: other.adminKey.secret })),
    ).toEqual(theirs);
  });

  it('unknown body fields and query values are 400', async () => {
    expectError(
      await lock({ scope: 'agent', targetId: agentId, reason: 'x', force: true }),
      400,
      'invalid_request',
    );
    expectError(await t.call('GET', '/v1/killswitch?all=yes', { key: t.adminKey }), 400, 'invalid_request');
  });
});
