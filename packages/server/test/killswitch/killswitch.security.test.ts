/**
 * What a kill-switch lock stops, and when. For each kind of target (the org, the owner of the
 * presenting agent, the agent itself, a parent agent of a re-delegated chain, the owner of that
 * parent), an action POST /v1/decisions allowed is denied on the very next call with the reason
 * code of the design (`org_locked` for the org, `agent_suspended` for the rest), the agent's token
 * introspects as inactive, a new token exchange is refused; after the release, all three work
 * again. The same holds for an autonomous agent (standing delegation, client_credentials) under
 * an owner lock, and for an enforcement point asking over AuthZEN with the agent's credential; a
 * locked agent cannot re-delegate; an org lock is reported as `org_locked` even when the chain is
 * broken too. Locks are targeted: a lock on a sibling, a child, an unrelated owner or another org
 * leaves the agent alone.
 *
 * And exactly when: "from the moment lock returns, nothing under it is allowed". Under steady
 * concurrent decision traffic, every request started after lock returned is denied, and every
 * allow's audit record comes before the `killswitch.locked` record. A deterministic variant holds
 * the store's write queue so that a decision passes every step (the lock not yet committed) but
 * is recorded after the lock: it must be recorded, and answered, as a deny (the commit check in
 * decision/commit-checks.ts).
 *
 * How we know these checks can fail: each rule was removed in a scratch copy of the tree (never
 * here: others edit src concurrently) and this file run against it. lockVerdict ignoring org
 * locks, owner locks or agent locks, or looking only at the presenting agent of a chain; a lock on
 * any agent or any owner counting for every agent; liveness not consulting the locks; the org step
 * not consulting them; the pipeline without its commit check: each makes the matching tests below
 * fail (the commit check: the gated test every time, the parallel one in practically every run, at
 * four rounds per scope). Not detectable through the API, hence not tested: lockVerdict ignoring
 * an org lock's target id (locks are read from the org's own store, so another org's lock never
 * reaches it).
 */
import type { IssuedToken } from '@mandate/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '../api/helpers.js';
import { startTestApp, type TestApp } from '../harness.js';
import { activeAgent, HOUR, introspect, pepKey, type TestAgent } from '../oauth/helpers.js';
import { deferred, holdWriter } from '../support/write-gate.js';

// biome-ignore lint/suspicious/noExplicitAny: audit records and API answers, checked field by field
type Json = any;

let t: TestApp;
let pep: string;
let aliceId: string;

const read = {
  action: 'email.read',
  resource: { type: 'mailbox', id: 'alice/inbox' },
  dataClass: 'internal' as const,
};

const BOUNDARIES = {
  actions: ['email.*'],
  resources: ['mailbox:alice/*'],
  maxDataClass: 'restricted',
  maxDelegationDepth: 2,
};

async function newUser(name: string): Promise<string> {
  return expectOk(await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: name } }), 201)
    .id;
}

/** Alice delegates to `agent` (whoever owns it). */
async function grant(agent: TestAgent): Promise<string> {
  const granted = await t.call('POST', '/v1/delegations', {
    key: t.adminKey,
    body: {
      delegateAgentId: agent.id,
      purpose: 'read mail',
      onBehalfOf: aliceId,
      scope: {
        actions: ['email.*'],
        resources: ['mailbox:alice/*'],
        dataClass: 'restricted',
        expiresAt: new Date(t.clock.now().getTime() + 2 * HOUR).toISOString(),
        maxDepth: 1,
      },
    },
  });
  expect(granted.status, granted.text).toBe(201);
  return granted.body.id as string;
}

interface Hop {
  agent: TestAgent;
  ownerId: string;
  delegationId: string;
  token: IssuedToken;
  /** A new token for the same hop (what an agent does when its token runs out). */
  exchange(): Promise<IssuedToken>;
}

/**
 * A chain alice → parent → child: the parent (owned by its own user) holds alice's delegation,
 * and re-delegates part of it to the child (owned by another user). Each with a DPoP-bound token.
 */
async function chainWorld(name: string): Promise<{ parent: Hop; child: Hop }> {
  const parentOwner = await newUser(`${name} parent owner`);
  const childOwner = await newUser(`${name} child owner`);
  const parentAgent = await activeAgent(t, parentOwner, `${name}-parent`, BOUNDARIES);
  const childAgent = await activeAgent(t, childOwner, `${name}-child`, {
    ...BOUNDARIES,
    maxDelegationDepth: 1,
  });
  const parentDlg = await grant(parentAgent);
  const parentExchange = () => parentAgent.creds.exchange({ delegation: parentDlg });
  const parentToken = await parentExchange();
  const child = await parentAgent.creds.redelegate(parentToken, parentDlg, {
    delegateAgentId: childAgent.id,
    purpose: 'help read',
    scope: { actions: ['email.read'] },
  });
  const childExchange = () =>
    childAgent.creds.exchange({ subjectToken: parentToken.access_token, delegation: child.id });
  return {
    parent: {
      agent: parentAgent,
      ownerId: parentOwner,
      delegationId: parentDlg,
      token: parentToken,
      exchange: parentExchange,
    },
    child: {
      agent: childAgent,
      ownerId: childOwner,
      delegationId: child.id,
      token: await childExchange(),
      exchange: childExchange,
    },
  };
}

const decide = (hop: Hop, token: IssuedToken = hop.token) => hop.agent.creds.decide(token, read);

async function lock(body: Record<string, unknown>, key = t.adminKey): Promise<{ id: string }> {
  const response = await t.call('POST', '/v1/killswitch', { key, body: { reason: 'test', ...body } });
  expect(response.status, response.text).toBe(201);
  return response.body;
}

async function release(lockId: string, key = t.adminKey): Promise<void> {
  const response = await t.call('POST', `/v1/killswitch/${lockId}/release`, {
    key,
    body: { reason: 'all clear' },
  });
  expect(response.status, response.text).toBe(200);
}

/** Every audit record matching a query, in sequence order (all pages). */
async function auditEvents(query: string): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | undefined;
  do {
    const page = expectOk(
      await t.call('GET', `/v1/audit/events?${query}&limit=200${cursor ? `&cursor=${cursor}` : ''}`, {
        key: t.adminKey,
      }),
    );
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

/** The `killswitch.locked` record of a lock. */
async function lockRecord(lockId: string): Promise<Json> {
  const records = (await auditEvents('type=killswitch.locked')).filter((r) => r.target.id === lockId);
  expect(records).toHaveLength(1);
  return records[0];
}

/** The presenting hop works: its decision is an allow, its token active, a new token issued. */
async function expectUsable(hop: Hop): Promise<void> {
  expect(await decide(hop)).toMatchObject({ decision: 'allow', reasons: [] });
  expect((await introspect(t, pep, hop.token.access_token)).body).toMatchObject({
    active: true,
    client_id: hop.agent.id,
  });
  const fresh = await hop.exchange();
  expect(fresh.token_type).toBe('DPoP');
  expect((await decide(hop, fresh)).decision).toBe('allow');
}

/** The presenting hop is stopped by a lock, with this reason code. */
async function expectStopped(hop: Hop, code: 'org_locked' | 'agent_suspended'): Promise<void> {
  const answer = await decide(hop);
  expect(answer).toMatchObject({ decision: 'deny', reasons: [{ code }] });
  // Recorded as such, durably, before the answer.
  const record = expectOk(await t.call('GET', `/v1/audit/events/${answer.decisionId}`, { key: t.adminKey }));
  expect(record).toMatchObject({
    type: 'decision',
    refs: { agentId: hop.agent.id },
    after: { result: 'deny', reasons: [{ code }] },
  });
  expect(await introspect(t, pep, hop.token.access_token)).toEqual({ status: 200, body: { active: false } });
  await expect(hop.exchange()).rejects.toMatchObject({
    status: 400,
    code: 'invalid_grant',
    message: expect.stringContaining(code),
  });
}

beforeAll(async () => {
  t = await startTestApp();
  pep = await pepKey(t);
  aliceId = await newUser('Alice');
});
afterAll(async () => t?.close());

type Presenter = 'parent' | 'child';
interface Case {
  name: string;
  presenter: Presenter;
  code: 'org_locked' | 'agent_suspended';
  target: (w: { parent: Hop; child: Hop }) => Record<string, unknown>;
}

const CASES: Case[] = [
  { name: 'the org', presenter: 'parent', code: 'org_locked', target: () => ({ scope: 'org' }) },
  {
    name: 'the owner of the agent',
    presenter: 'parent',
    code: 'agent_suspended',
    target: (w) => ({ scope: 'owner', targetId: w.parent.ownerId }),
  },
  {
    name: 'the agent itself',
    presenter: 'parent',
    code: 'agent_suspended',
    target: (w) => ({ scope: 'agent', targetId: w.parent.agent.id }),
  },
  {
    name: 'a parent agent of a re-delegated chain',
    presenter: 'child',
    code: 'agent_suspended',
    target: (w) => ({ scope: 'agent', targetId: w.parent.agent.id }),
  },
  {
    name: 'the owner of a parent agent (not of the presenting agent)',
    presenter: 'child',
    code: 'agent_suspended',
    target: (w) => ({ scope: 'owner', targetId: w.parent.ownerId }),
  },
  {
    name: 'the org, for an agent of a re-delegated chain',
    presenter: 'child',
    code: 'org_locked',
    target: () => ({ scope: 'org' }),
  },
];

describe('a lock stops what it names on the next call; a release restores it', () => {
  for (const c of CASES) {
    it(`a lock on ${c.name}: ${c.code}`, async () => {
      const world = await chainWorld(c.name.replace(/\W+/g, '-'));
      const hop = world[c.presenter];
      await expectUsable(hop);

      const held = await lock(c.target(world));
      let released = false;
      try {
        await expectStopped(hop, c.code);
        await release(held.id);
        released = true;
      } finally {
        if (!released) await release(held.id);
      }
      await expectUsable(hop);
    });
  }

  it('an autonomous agent (standing delegation, client_credentials): an owner lock stops it too', async () => {
    const ownerId = await newUser('autonomous owner');
    const agent = await activeAgent(t, ownerId, 'autonomous', BOUNDARIES);
    const standing = await t.call('POST', '/v1/delegations', {
      key: t.adminKey,
      body: {
        delegateAgentId: agent.id,
        purpose: 'nightly digest',
        onBehalfOf: ownerId,
        standing: true,
        scope: {
          actions: ['email.read'],
          resources: ['mailbox:alice/*'],
          dataClass: 'internal',
          expiresAt: new Date(t.clock.now().getTime() + HOUR).toISOString(),
        },
      },
    });
    expect(standing.status, standing.text).toBe(201);
    const hop: Hop = {
      agent,
      ownerId,
      delegationId: standing.body.id,
      token: await agent.creds.clientCredentials(),
      exchange: () => agent.creds.clientCredentials(),
    };
    await expectUsable(hop);
    const held = await lock({ scope: 'owner', targetId: ownerId });
    try {
      await expectStopped(hop, 'agent_suspended');
    } finally {
      await release(held.id);
    }
    await expectUsable(hop);
  });

  it('an enforcement point asking over AuthZEN with the agent credential gets the same answer', async () => {
    const world = await chainWorld('authzen');
    const hop = world.child;
    const tool = 'https://tools.example/email/read';
    const ask = async () => {
      const answer = await t.call('POST', '/access/v1/evaluation', {
        key: pep,
        body: {
          subject: { type: 'Agent', id: hop.agent.id },
          action: { name: 'email.read' },
          resource: { type: 'mailbox', id: 'alice/inbox' },
          context: {
            agent_credential: {
              token: hop.token.access_token,
              dpop: await hop.agent.creds.dpopProof('POST', tool, hop.token.access_token),
              method: 'POST',
              url: tool,
            },
            data_class: 'internal',
          },
        },
      });
      expect(answer.status, answer.text).toBe(200);
      return answer.body;
    };
    expect(await ask()).toMatchObject({ decision: true });
    const held = await lock({ scope: 'agent', targetId: world.parent.agent.id });
    try {
      expect(await ask()).toMatchObject({ decision: false, context: { reason: 'agent_suspended' } });
    } finally {
      await release(held.id);
    }
    expect(await ask()).toMatchObject({ decision: true });
  });

  it('an org lock is named as such even when the chain is also broken (the org step comes before the chain)', async () => {
    const world = await chainWorld('org-first');
    const revoked = await t.call('POST', `/v1/delegations/${world.parent.delegationId}/revoke`, {
      key: t.adminKey,
      body: { reason: 'revoked as well' },
    });
    expect(revoked.status, revoked.text).toBe(200);
    expect(await decide(world.parent)).toMatchObject({ reasons: [{ code: 'delegation_revoked' }] });
    const held = await lock({ scope: 'org' });
    try {
      expect(await decide(world.parent)).toMatchObject({
        decision: 'deny',
        reasons: [{ code: 'org_locked' }],
      });
    } finally {
      await release(held.id);
    }
    expect(await decide(world.parent)).toMatchObject({ reasons: [{ code: 'delegation_revoked' }] });
  });

  it('a locked agent cannot re-delegate (401 naming the reason); after the release it can', async () => {
    const world = await chainWorld('redelegate');
    const other = await activeAgent(t, await newUser('other owner'), 'redelegate-other', BOUNDARIES);
    const held = await lock({ scope: 'agent', targetId: world.parent.agent.id });
    try {
      await expect(
        world.parent.agent.creds.redelegate(world.parent.token, world.parent.delegationId, {
          delegateAgentId: other.id,
          purpose: 'while locked',
          scope: { actions: ['email.read'] },
        }),
      ).rejects.toMatchObject({ status: 401, message: expect.stringContaining('agent_suspended') });
    } finally {
      await release(held.id);
    }
    const after = await world.parent.agent.creds.redelegate(world.parent.token, world.parent.delegationId, {
      delegateAgentId: other.id,
      purpose: 'after the release',
      scope: { actions: ['email.read'] },
    });
    expect(after.delegateAgentId).toBe(other.id);
    // Nothing was granted while the lock held: one delegation to `other`, the one made after.
    const granted = expectOk(await t.call('GET', `/v1/delegations?agent=${other.id}`, { key: t.adminKey }));
    expect(granted.items.map((d: { id: string }) => d.id)).toEqual([after.id]);
  });
});

describe('locks are targeted', () => {
  it('a lock on a sibling agent, on the child, on an unrelated owner, or on another org leaves the agent usable', async () => {
    const world = await chainWorld('targeted');
    // A sibling: another agent of the same owner, with its own delegation.
    const sibling = await activeAgent(t, world.parent.ownerId, 'targeted-sibling', BOUNDARIES);
    await grant(sibling);
    const unrelatedOwner = await newUser('unrelated owner');
    await activeAgent(t, unrelatedOwner, 'targeted-unrelated', BOUNDARIES);
    const otherOrg = expectOk(
      await t.call('POST', '/v1/orgs', { key: t.platformKey, body: { name: 'Other org' } }),
      201,
    );
    const otherKey = otherOrg.adminKey.secret as string;

    const locks = [
      await lock({ scope: 'agent', targetId: sibling.id }),
      await lock({ scope: 'agent', targetId: world.child.agent.id }),
      await lock({ scope: 'owner', targetId: unrelatedOwner }),
      await lock({ scope: 'owner', targetId: world.child.ownerId }),
    ];
    const otherOrgLock = await lock({ scope: 'org' }, otherKey);
    try {
      // The parent is in none of these: not the sibling, not below it, not its owner, not its org.
      await expectUsable(world.parent);
      // The child is (its own lock and its owner's): the locks did take effect.
      await expectStopped(world.child, 'agent_suspended');
    } finally {
      for (const held of locks) await release(held.id);
      await release(otherOrgLock.id, otherKey);
    }
    await expectUsable(world.child);
  });
});

describe('exactly when: nothing recorded after the lock is an allow', () => {
  const LOOPS = 8;
  /** Rounds of stream, lock mid-stream, check, release: each is one more chance to hit a race. */
  const ROUNDS = 4;
  /** Decisions answered in a round before its lock is set. */
  const BEFORE_LOCK = 24;
  /** Each loop ends its round once this many of its requests started after lock returned. */
  const AFTER_LOCK_PER_LOOP = 4;
  /** Hard bound on one round (so on the test: ROUNDS × this). */
  const MAX_PER_ROUND = 100;

  interface Result {
    startedAfterLock: boolean;
    decision: string;
    code?: string;
    id: string;
  }

  /** One round: the stream, a lock once BEFORE_LOCK answers are in, until every loop saw the lock. */
  async function round(hop: Hop, target: Record<string, unknown>) {
    const results: Result[] = [];
    let lockReturned = false;
    let started = 0;
    const enoughBefore = deferred();
    const loop = async () => {
      let afterLock = 0;
      while (afterLock < AFTER_LOCK_PER_LOOP && started < MAX_PER_ROUND) {
        started++;
        // Read before the request is made (its DPoP proof is signed inside decide): a request
        // that sees `true` here started after lock() returned.
        const startedAfterLock = lockReturned;
        const answer = await hop.agent.creds.decide(hop.token, read);
        results.push({
          startedAfterLock,
          decision: answer.decision,
          code: answer.reasons[0]?.code,
          id: answer.decisionId,
        });
        if (startedAfterLock) afterLock++;
        if (results.length >= BEFORE_LOCK) enoughBefore.resolve();
      }
      enoughBefore.resolve(); // never leave the round waiting if the bound comes first
    };
    const loops = Array.from({ length: LOOPS }, loop);
    await enoughBefore.promise;
    const held = await lock(target);
    lockReturned = true;
    await Promise.all(loops);
    return { results, held, started };
  }

  for (const scope of ['agent', 'org'] as const) {
    it(`${LOOPS} concurrent loops of decisions, a ${scope} lock set mid-stream (${ROUNDS} rounds)`, async () => {
      const world = await chainWorld(`parallel-${scope}`);
      const hop = world.parent;
      const code = scope === 'org' ? 'org_locked' : 'agent_suspended';
      for (let i = 0; i < ROUNDS; i++) {
        const { results, held, started } = await round(
          hop,
          scope === 'org' ? { scope } : { scope, targetId: hop.agent.id },
        );
        try {
          // The stream really ran on both sides of the lock.
          expect(started).toBeLessThanOrEqual(MAX_PER_ROUND);
          expect(results.filter((r) => r.decision === 'allow').length).toBeGreaterThanOrEqual(BEFORE_LOCK);
          const after = results.filter((r) => r.startedAfterLock);
          expect(after.length).toBe(LOOPS * AFTER_LOCK_PER_LOOP);
          // (a) every request started after lock returned is denied, by the lock.
          for (const r of after) expect(r, `decision ${r.id}`).toMatchObject({ decision: 'deny', code });
          // Every answer is an allow or a deny by the lock: nothing else was in play.
          for (const r of results)
            expect(r.decision === 'allow' || r.code === code, JSON.stringify(r)).toBe(true);

          // (b) every allow is recorded before the lock, and the log says what the answers said.
          const lockSeq = (await lockRecord(held.id)).seq as number;
          const records = await auditEvents(`type=decision&agent=${hop.agent.id}`);
          const bySeq = new Map(records.map((r) => [String(r.seq), r]));
          for (const r of results) {
            const record = bySeq.get(r.id);
            expect(record, `the record of decision ${r.id}`).toBeDefined();
            expect(record.after.result).toBe(r.decision);
          }
          // Read before the release: every decision the log holds after the lock is a deny.
          for (const record of records.filter((x) => x.seq > lockSeq))
            expect(record.after.result, `decision ${record.seq}, lock at ${lockSeq}`).toBe('deny');
          for (const r of results.filter((x) => x.decision === 'allow'))
            expect(Number(r.id), `allow ${r.id}, lock at ${lockSeq}`).toBeLessThan(lockSeq);
        } finally {
          await release(held.id);
        }
      }
      // Every allow of every round has a record before that round's lock (checked above), and
      // after the last release the agent is usable again.
      expect((await decide(hop)).decision).toBe('allow');
    });
  }

  it('a decision that passed every step before the lock committed, but is recorded after it, is a deny', async () => {
    const world = await chainWorld('gated');
    const hop = world.parent;
    expect((await decide(hop)).decision).toBe('allow');

    const writer = await holdWriter(t);
    try {
      // 1. The lock: its transaction is queued (it cannot commit while the writer is held).
      const locking = lock({ scope: 'agent', targetId: hop.agent.id });
      await writer.queuedAtLeast(1);
      // 2. The decision: its steps read the committed state (no lock yet) and pass; its record
      //    is queued behind the lock.
      const deciding = decide(hop);
      await writer.queuedAtLeast(2);
      expect(writer.queued).toBe(2);
      await writer.release();

      const held = await locking;
      try {
        const answer = await deciding;
        const lockSeq = (await lockRecord(held.id)).seq as number;
        expect(Number(answer.decisionId)).toBeGreaterThan(lockSeq);
        expect(answer).toMatchObject({ decision: 'deny', reasons: [{ code: 'agent_suspended' }] });
        const record = expectOk(
          await t.call('GET', `/v1/audit/events/${answer.decisionId}`, { key: t.adminKey }),
        );
        expect(record.after).toMatchObject({ result: 'deny', reasons: [{ code: 'agent_suspended' }] });
      } finally {
        await release(held.id);
      }
    } finally {
      await writer.release();
    }
    expect((await decide(hop)).decision).toBe('allow');
  });
});
