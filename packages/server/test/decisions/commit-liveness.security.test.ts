/**
 * "Once a suspension or revocation has returned, no later record is an allow." The decision's
 * steps read the chain before the record is written; a suspend, revoke or token revocation that
 * commits in between must still stop the decision. The recording transaction reads the chain
 * again (commit-checks.ts `liveAtCommit`); without it, every gated test below records an allow
 * after the change (checked by taking `liveAtCommit` out of the pipeline's commit checks: each
 * gated test fails, and the parallel one in practically every run).
 */
import type { IssuedToken } from '@mandate/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '../api/helpers.js';
import { startTestApp, type TestApp } from '../harness.js';
import { activeAgent, HOUR, type TestAgent } from '../oauth/helpers.js';
import { deferred, holdWriter } from '../support/write-gate.js';

// biome-ignore lint/suspicious/noExplicitAny: audit records, checked field by field
type Json = any;

let t: TestApp;
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

beforeAll(async () => {
  t = await startTestApp();
  aliceId = expectOk(
    await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } }),
    201,
  ).id;
});
afterAll(async () => t?.close());

interface World {
  parent: TestAgent;
  parentDelegation: string;
  parentToken: IssuedToken;
  child: TestAgent;
  childDelegation: string;
  childToken: IssuedToken;
}

/** alice → parent → child, each holding a DPoP-bound token. */
async function world(name: string): Promise<World> {
  const owner = expectOk(
    await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: `${name} owner` } }),
    201,
  ).id;
  const parent = await activeAgent(t, owner, `${name}-parent`, BOUNDARIES);
  const child = await activeAgent(t, owner, `${name}-child`, { ...BOUNDARIES, maxDelegationDepth: 1 });
  const granted = expectOk(
    await t.call('POST', '/v1/delegations', {
      key: t.adminKey,
      body: {
        delegateAgentId: parent.id,
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
    }),
    201,
  );
  const parentToken = await parent.creds.exchange({ delegation: granted.id });
  const redelegated = await parent.creds.redelegate(parentToken, granted.id, {
    delegateAgentId: child.id,
    purpose: 'help read',
    scope: { actions: ['email.read'] },
  });
  const childToken = await child.creds.exchange({
    subjectToken: parentToken.access_token,
    delegation: redelegated.id,
  });
  return {
    parent,
    parentDelegation: granted.id,
    parentToken,
    child,
    childDelegation: redelegated.id,
    childToken,
  };
}

async function call(method: 'POST', url: string, body: Record<string, unknown>): Promise<void> {
  const response = await t.call(method, url, { key: t.adminKey, body });
  expect(response.status, response.text).toBe(200);
}

/** The seq of the one audit record of this type about this target. */
async function seqOf(type: string, targetId: string): Promise<number> {
  const page = expectOk(await t.call('GET', `/v1/audit/events?type=${type}&limit=200`, { key: t.adminKey }));
  const hits = page.items.filter((r: Json) => r.target.id === targetId);
  expect(hits).toHaveLength(1);
  return hits[0].seq;
}

interface Stop {
  name: string;
  /** Who presents, and which token. */
  presenter(w: World): { agent: TestAgent; token: IssuedToken };
  /** The change that must stop the presenter's next record. */
  change(w: World): Promise<void>;
  /** Its audit record's seq. */
  changeSeq(w: World): Promise<number>;
  code: string;
}

const STOPS: Stop[] = [
  {
    name: 'the presenting agent is suspended',
    presenter: (w) => ({ agent: w.parent, token: w.parentToken }),
    change: (w) => call('POST', `/v1/agents/${w.parent.id}/suspend`, { reason: 'investigating' }),
    changeSeq: (w) => seqOf('agent.suspended', w.parent.id),
    code: 'agent_suspended',
  },
  {
    name: 'the presenting agent is revoked',
    presenter: (w) => ({ agent: w.parent, token: w.parentToken }),
    change: (w) => call('POST', `/v1/agents/${w.parent.id}/revoke`, { reason: 'compromised' }),
    changeSeq: (w) => seqOf('agent.revoked', w.parent.id),
    code: 'agent_revoked',
  },
  {
    name: "the presenting agent's delegation is revoked",
    presenter: (w) => ({ agent: w.parent, token: w.parentToken }),
    change: (w) => call('POST', `/v1/delegations/${w.parentDelegation}/revoke`, { reason: 'task done' }),
    changeSeq: (w) => seqOf('delegation.revoked', w.parentDelegation),
    code: 'delegation_revoked',
  },
  {
    name: 'the parent agent of a re-delegated chain is suspended',
    presenter: (w) => ({ agent: w.child, token: w.childToken }),
    change: (w) => call('POST', `/v1/agents/${w.parent.id}/suspend`, { reason: 'investigating' }),
    changeSeq: (w) => seqOf('agent.suspended', w.parent.id),
    code: 'agent_suspended',
  },
];

describe('a change committed between the steps and the record stops the decision', () => {
  for (const stop of STOPS) {
    it(stop.name, async () => {
      const w = await world(`gated-${STOPS.indexOf(stop)}`);
      const { agent, token } = stop.presenter(w);
      expect((await agent.creds.decide(token, read)).decision).toBe('allow');

      const writer = await holdWriter(t);
      let answer: Json;
      try {
        // 1. The change is queued behind the held writer (not committed yet).
        const changing = stop.change(w);
        await writer.queuedAtLeast(1);
        // 2. The decision's steps read the committed state (the change is not in it) and pass;
        //    its record is queued behind the change.
        const deciding = agent.creds.decide(token, read);
        await writer.queuedAtLeast(2);
        expect(writer.queued).toBe(2);
        await writer.release();
        await changing;
        answer = await deciding;
      } finally {
        await writer.release();
      }
      expect(Number(answer.decisionId)).toBeGreaterThan(await stop.changeSeq(w));
      expect(answer).toMatchObject({ decision: 'deny', reasons: [{ code: stop.code }] });
      const record = expectOk(
        await t.call('GET', `/v1/audit/events/${answer.decisionId}`, { key: t.adminKey }),
      );
      expect(record.after).toMatchObject({ result: 'deny', reasons: [{ code: stop.code }] });
    });
  }
});

describe('under parallel traffic, no record after a suspension is an allow', () => {
  const LOOPS = 8;
  const ROUNDS = 3;
  const BEFORE = 24;
  const MAX_PER_ROUND = 120;

  it(`${LOOPS} concurrent loops, the agent suspended mid-stream (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const w = await world(`parallel-${round}`);
      const answers: Array<{ decision: string; id: string; startedAfter: boolean }> = [];
      let suspended = false;
      let started = 0;
      const enough = deferred();
      const loop = async () => {
        let after = 0;
        while (after < 3 && started < MAX_PER_ROUND) {
          started++;
          const startedAfter = suspended;
          const answer = await w.parent.creds.decide(w.parentToken, read);
          answers.push({ decision: answer.decision, id: answer.decisionId, startedAfter });
          if (startedAfter) after++;
          if (answers.length >= BEFORE) enough.resolve();
        }
        enough.resolve();
      };
      const loops = Array.from({ length: LOOPS }, loop);
      await enough.promise;
      await call('POST', `/v1/agents/${w.parent.id}/suspend`, { reason: 'stop' });
      suspended = true;
      await Promise.all(loops);

      const suspendSeq = await seqOf('agent.suspended', w.parent.id);
      expect(answers.filter((a) => a.decision === 'allow').length).toBeGreaterThanOrEqual(BEFORE);
      for (const a of answers.filter((x) => x.startedAfter)) expect(a.decision).toBe('deny');
      for (const a of answers.filter((x) => x.decision === 'allow'))
        expect(Number(a.id), `allow ${a.id}, suspended at ${suspendSeq}`).toBeLessThan(suspendSeq);
      const page = expectOk(
        await t.call('GET', `/v1/audit/events?type=decision&agent=${w.parent.id}&limit=200`, {
          key: t.adminKey,
        }),
      );
      for (const record of page.items.filter((r: Json) => r.seq > suspendSeq))
        expect(record.after.result, `decision ${record.seq}`).toBe('deny');
    }
  });
});
