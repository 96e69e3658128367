/**
 * Risk, through HTTP: every decision carries a score with the factors that explain it (in the
 * answer and in the record); an agent's baseline learns from its allowed uses only; untrusted
 * input before an external action asks a human; an org's weights and thresholds (PUT
 * /v1/risk/settings, validated and audited) move outcomes exactly at the thresholds; Cedar sees
 * the score and the factor names as context.mandate.risk.
 *
 * The agents' DPoP proofs and client assertions carry real time, so the TestClock stays near
 * it whenever an agent talks to the server; an older agent is registered with the clock moved
 * back, before any proof is made.
 */
import { DEFAULT_RISK_SETTINGS } from '@mandate/engine';
import type { IssuedToken } from '@mandate/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../harness.js';
import { activeAgent, HOUR, startOAuthApp, type TestAgent } from '../oauth/helpers.js';

const DAY = 24 * HOUR;
const FACTORS = Object.keys(DEFAULT_RISK_SETTINGS.weights);

let t: TestApp;
let close: () => Promise<void>;
let aliceId: string;
let pep: string;
let auditorKey: string;

const BOUNDARIES = {
  actions: ['email.*', 'doc.*'],
  resources: ['mailbox:alice/*', 'doc:*'],
  maxDataClass: 'restricted',
  maxDelegationDepth: 2,
};

const read = (id = 'alice/inbox', extra: Record<string, unknown> = {}) => ({
  action: 'email.read',
  resource: { type: 'mailbox', id },
  dataClass: 'internal',
  ...extra,
});
const send = (extra: Record<string, unknown> = {}) => ({
  action: 'email.send',
  resource: { type: 'mailbox', id: 'alice/outbox' },
  dataClass: 'public',
  ...extra,
});

interface RiskView {
  score: number;
  factors: Array<{ name: string; contribution: number; detail: string }>;
}
interface Answer {
  decision: 'allow' | 'deny' | 'approval_required';
  reasons: Array<{ code: string; detail?: string }>;
  decisionId: string;
  risk: RiskView;
}

/** An active agent of Alice's; `ageDays` back-dates its registration (the clock returns after). */
async function newAgent(name: string, ageDays = 0): Promise<TestAgent> {
  t.clock.advance(-ageDays * DAY);
  try {
    return await activeAgent(t, aliceId, name, BOUNDARIES);
  } finally {
    t.clock.advance(ageDays * DAY);
  }
}

async function grant(agent: TestAgent) {
  const granted = await t.call('POST', '/v1/delegations', {
    key: t.adminKey,
    body: {
      delegateAgentId: agent.id,
      purpose: 'mail and documents',
      onBehalfOf: aliceId,
      scope: {
        actions: ['email.*', 'doc.*'],
        resources: ['mailbox:alice/*', 'doc:*'],
        dataClass: 'restricted',
        expiresAt: new Date(t.clock.now().getTime() + 2 * HOUR).toISOString(),
        maxDepth: 1,
      },
    },
  });
  expect(granted.status, granted.text).toBe(201);
  return granted.body.id as string;
}

/** An agent with a delegation and a token on it. */
async function setup(name: string, ageDays = 0) {
  const agent = await newAgent(name, ageDays);
  const dlg = await grant(agent);
  const token = await agent.creds.exchange({ delegation: dlg });
  return { agent, dlg, token };
}

const decide = async (agent: TestAgent, token: IssuedToken, request: Record<string, unknown>) =>
  (await agent.creds.decide(token, request as never)) as unknown as Answer;

const factorNames = (risk: RiskView) => risk.factors.map((f) => f.name);
const factor = (risk: RiskView, name: string) => risk.factors.find((f) => f.name === name);
const total = (risk: RiskView) => risk.factors.reduce((s, f) => s + f.contribution, 0);

async function putSettings(body: unknown, key = t.adminKey) {
  return t.call('PUT', '/v1/risk/settings', { key, body });
}
/** Only these factors count, with these weights (every other weight 0). */
const only = (weights: Record<string, number>) =>
  Object.fromEntries(FACTORS.map((name) => [name, weights[name] ?? 0]));

async function publish(policies: string) {
  const published = await t.call('POST', '/v1/policies', { key: t.adminKey, body: { policies } });
  expect(published.status, published.text).toBe(201);
  return published.body;
}
async function backToBaselinePolicy() {
  const list = await t.call('GET', '/v1/policies', { key: t.adminKey });
  if (list.body.active !== 0)
    await t.call('POST', '/v1/policies/0/activate', { key: t.adminKey, body: { reason: 'reset' } });
}

beforeAll(async () => {
  ({ t, close } = await startOAuthApp());
  aliceId = (await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } })).body.id;
  pep = (await t.call('POST', '/v1/api-keys', { key: t.adminKey, body: { name: 'pep', roles: ['pep'] } }))
    .body.secret;
  auditorKey = (
    await t.call('POST', '/v1/api-keys', { key: t.adminKey, body: { name: 'auditor', roles: ['auditor'] } })
  ).body.secret;
});
afterAll(async () => close?.());
// Every test starts from the default settings and the baseline policy.
afterEach(async () => {
  const reset = await putSettings({});
  expect(reset.status, reset.text).toBe(200);
  await backToBaselinePolicy();
});

describe('GET /v1/risk/settings', () => {
  it('shows the defaults until the org sets its own (approval at 70, deny at 95, no working hours)', async () => {
    const got = await t.call('GET', '/v1/risk/settings', { key: t.adminKey });
    expect(got.status, got.text).toBe(200);
    expect(got.body).toEqual(DEFAULT_RISK_SETTINGS);
    expect(got.body).toMatchObject({
      approvalAt: 70,
      denyAt: 95,
      weights: { untrusted_external: 70, novelty_action: 15, agent_age: 10 },
    });
    expect(got.body).not.toHaveProperty('workingHours');
    // An auditor may read them.
    expect((await t.call('GET', '/v1/risk/settings', { key: auditorKey })).status).toBe(200);
  });
});

describe('the score and its explanation', () => {
  it('the answer and the record hold the factors, and their contributions sum to the score', async () => {
    const { agent, token } = await setup('explained');
    const answer = await decide(agent, token, read());
    expect(answer.decision).toBe('allow');
    // A new agent, a first action on a first resource, internal data.
    expect(answer.risk.factors).toEqual([
      { name: 'novelty_action', contribution: 15, detail: expect.stringContaining('email.read') },
      { name: 'novelty_resource', contribution: 10, detail: expect.stringContaining('mailbox:alice/inbox') },
      { name: 'data_sensitivity', contribution: 5, detail: expect.stringContaining('internal') },
      { name: 'agent_age', contribution: 10, detail: expect.any(String) },
    ]);
    expect(answer.risk.score).toBe(40);
    const record = await t.call('GET', `/v1/audit/events/${answer.decisionId}`, { key: t.adminKey });
    expect(record.body.after.risk).toEqual(answer.risk);
    expect(total(record.body.after.risk)).toBe(record.body.after.risk.score);
  });

  it('a denied decision is recorded with its risk too, and its reason names the factors', async () => {
    const { agent, token } = await setup('too-risky');
    // New agent, new action and resource, untrusted input before sending: 15+10+70+10 > 95.
    const answer = await decide(agent, token, send({ signals: { untrustedInput: true } }));
    expect(answer).toMatchObject({ decision: 'deny', reasons: [{ code: 'risk_too_high' }] });
    expect(answer.risk.score).toBe(100);
    expect(total(answer.risk)).toBe(105); // the score is capped, the factors are not
    for (const name of ['novelty_action', 'novelty_resource', 'untrusted_external', 'agent_age'])
      expect(answer.reasons[0]?.detail).toContain(name);
    const record = await t.call('GET', `/v1/audit/events/${answer.decisionId}`, { key: t.adminKey });
    expect(record.body.after).toMatchObject({ result: 'deny', risk: answer.risk });
  });

  it('agent_age: under a day counts fully, under a week half, older not at all', async () => {
    // One after the other: each moves the clock back and forth.
    const ages: Array<number | undefined> = [];
    for (const days of [0, 2, 8]) {
      const { agent, token } = await setup(`aged-${days}`, days);
      ages.push(factor((await decide(agent, token, read())).risk, 'agent_age')?.contribution);
    }
    expect(ages).toEqual([10, 5, undefined]);
  });

  it('chain_depth: a re-delegated agent carries a third of the weight per hop', async () => {
    const parent = await setup('chain-parent', 8);
    const child = await newAgent('chain-child', 8);
    const sub = await parent.agent.creds.redelegate(parent.token, parent.dlg, {
      delegateAgentId: child.id,
      purpose: 'help read',
      scope: { actions: ['email.read'] },
    });
    const childToken = await child.creds.exchange({
      subjectToken: parent.token.access_token,
      delegation: sub.id,
    });
    const parentRisk = (await decide(parent.agent, parent.token, read())).risk;
    const childRisk = (await decide(child, childToken, read())).risk;
    expect(factorNames(parentRisk)).not.toContain('chain_depth');
    expect(factor(childRisk, 'chain_depth')).toMatchObject({ contribution: 5 });
    // Otherwise the same: both new to the action and the resource, internal data.
    expect(childRisk.factors.filter((f) => f.name !== 'chain_depth')).toEqual(parentRisk.factors);
  });

  it('data_sensitivity follows the data class the request touches', async () => {
    const { agent, token } = await setup('classes', 8);
    await decide(agent, token, read()); // the action and resource are known from now on
    const of = async (dataClass: string) =>
      (await decide(agent, token, read('alice/inbox', { dataClass }))).risk;
    expect(await of('public')).toEqual({ score: 0, factors: [] });
    expect((await of('confidential')).factors).toEqual([
      expect.objectContaining({ name: 'data_sensitivity', contribution: 15 }),
    ]);
    expect((await of('restricted')).score).toBe(25);
  });

  it('argument_outlier: after 5 allowed uses, an amount far from the usual one', async () => {
    const { agent, token } = await setup('amounts', 8);
    const pay = (amount: number) => send({ arguments: { amount } });
    for (let i = 0; i < 4; i++) expect((await decide(agent, token, pay(10))).decision).toBe('allow');
    // Four observations: not enough to judge.
    expect(factorNames((await decide(agent, token, pay(1000))).risk)).not.toContain('argument_outlier');
    // Five (10, 10, 10, 10, 1000): mean 208, σ ≈ 443, so 1000 is within 3σ.
    expect(factorNames((await decide(agent, token, pay(1000))).risk)).not.toContain('argument_outlier');
    // Six (… 1000, 1000): mean 340, σ ≈ 511, so 5000 is more than 3σ away.
    const far = await decide(agent, token, pay(5000));
    expect(factor(far.risk, 'argument_outlier')).toMatchObject({
      contribution: 20,
      detail: expect.stringContaining('amount=5000'),
    });
    expect(far.risk.factors.map((f) => f.name)).toEqual(['argument_outlier']);
  });
});

describe('the baseline learns from allowed uses only', () => {
  it('novelty drops after the first allowed use', async () => {
    const { agent, token } = await setup('learner', 8);
    const first = await decide(agent, token, read());
    expect(first.decision).toBe('allow');
    expect(factorNames(first.risk)).toEqual(['novelty_action', 'novelty_resource', 'data_sensitivity']);
    const second = await decide(agent, token, read());
    expect(factorNames(second.risk)).toEqual(['data_sensitivity']);
    expect(second.risk.score).toBe(first.risk.score - 25);
    // The same action on another resource: only the resource is new.
    const other = await decide(agent, token, read('alice/archive'));
    expect(factorNames(other.risk)).toEqual(['novelty_resource', 'data_sensitivity']);
  });

  it('a decision denied by policy teaches nothing', async () => {
    const { agent, token } = await setup('policy-denied', 8);
    await publish(
      'permit (principal, action, resource) when { context.mandate.delegated == true };\n' +
        'forbid (principal, action == Action::"doc.delete", resource);',
    );
    const del = { action: 'doc.delete', resource: { type: 'doc', id: 'plan' }, dataClass: 'public' };
    const denied = await decide(agent, token, del);
    expect(denied).toMatchObject({ decision: 'deny', reasons: [{ code: 'policy_denied' }] });
    expect(factorNames(denied.risk)).toEqual(['novelty_action', 'novelty_resource']);
    expect(factorNames((await decide(agent, token, del)).risk)).toEqual([
      'novelty_action',
      'novelty_resource',
    ]);
    await backToBaselinePolicy();
    // Still new when it is first allowed; known only after that.
    const allowed = await decide(agent, token, del);
    expect(allowed.decision).toBe('allow');
    expect(factorNames(allowed.risk)).toEqual(['novelty_action', 'novelty_resource']);
    expect((await decide(agent, token, del)).risk).toEqual({ score: 0, factors: [] });
  });

  it('decisions denied for risk, or waiting for approval, teach nothing', async () => {
    const { agent, token } = await setup('risk-denied', 8);
    const doc = (action: string) => ({ action, resource: { type: 'doc', id: 'a' }, dataClass: 'public' });
    const settings = async (novelty: number, approvalAt: number, denyAt: number) =>
      expect(
        (await putSettings({ weights: only({ novelty_action: novelty }), approvalAt, denyAt })).status,
      ).toBe(200);
    // A new action scores 60: denied.
    await settings(60, 50, 60);
    expect(await decide(agent, token, doc('doc.read'))).toMatchObject({
      decision: 'deny',
      reasons: [{ code: 'risk_too_high' }],
      risk: { score: 60 },
    });
    expect((await decide(agent, token, doc('doc.read'))).risk.score).toBe(60);
    // A new action scores 50: a human is asked.
    await settings(50, 50, 60);
    expect(await decide(agent, token, doc('doc.write'))).toMatchObject({
      decision: 'approval_required',
      risk: { score: 50 },
    });
    // With nothing asked or denied any more, both are still new at their first allowed use…
    await settings(50, 101, 101);
    for (const action of ['doc.read', 'doc.write']) {
      const allowed = await decide(agent, token, doc(action));
      expect(allowed).toMatchObject({ decision: 'allow', risk: { score: 50 } });
      expect(factorNames(allowed.risk)).toEqual(['novelty_action']);
      // …and known after it.
      expect((await decide(agent, token, doc(action))).risk).toEqual({ score: 0, factors: [] });
    }
  });
});

describe('untrusted input before an external action', () => {
  it('asks a human with the default settings; the same action without the signal is allowed', async () => {
    const { agent, token } = await setup('reader-of-web', 8);
    // A week-old agent that has sent mail before.
    expect((await decide(agent, token, send())).decision).toBe('allow');
    const plain = await decide(agent, token, send());
    expect(plain).toMatchObject({ decision: 'allow', risk: { score: 0, factors: [] } });
    const tainted = await decide(agent, token, send({ signals: { untrustedInput: true } }));
    expect(tainted).toMatchObject({
      decision: 'approval_required',
      reasons: [{ code: 'approval_required', detail: expect.stringContaining('risk 70') }],
      risk: { score: 70, factors: [{ name: 'untrusted_external', contribution: 70 }] },
    });
    expect((await decide(agent, token, send({ signals: { untrustedInput: false } }))).decision).toBe('allow');
    // Reading mail is not an external action: the signal alone adds nothing.
    await decide(agent, token, read());
    const reading = await decide(agent, token, read('alice/inbox', { signals: { untrustedInput: true } }));
    expect(factorNames(reading.risk)).not.toContain('untrusted_external');
    expect(reading.decision).toBe('allow');
  });

  it('a new agent is asked too (80, 90); an action without external effect is not', async () => {
    const { agent, token } = await setup('new-on-web');
    await decide(agent, token, send());
    // Known action and resource: untrusted 70 + age 10.
    const known = await decide(agent, token, send({ signals: { untrustedInput: true } }));
    expect(known).toMatchObject({ decision: 'approval_required', risk: { score: 80 } });
    // A new resource adds 10: still below the deny threshold.
    const newResource = await decide(agent, token, {
      ...send({ signals: { untrustedInput: true } }),
      resource: { type: 'mailbox', id: 'alice/drafts' },
    });
    expect(newResource).toMatchObject({ decision: 'approval_required', risk: { score: 90 } });
    // email.forward is not external by default: novelty and age only.
    const forward = await decide(agent, token, {
      ...send({ signals: { untrustedInput: true } }),
      action: 'email.forward',
      resource: { type: 'mailbox', id: 'alice/fwd' },
    });
    expect(forward).toMatchObject({ decision: 'allow', risk: { score: 35 } });
  });

  it('AuthZEN: context.untrusted_input with the agent credential counts the same', async () => {
    const { agent, token } = await setup('authzen-web', 8);
    await decide(agent, token, send());
    const TOOL = 'https://tools.example/email/send';
    const ask = async (context: Record<string, unknown>) =>
      t.call('POST', '/access/v1/evaluation', {
        key: pep,
        body: {
          subject: { type: 'Agent', id: agent.id },
          action: { name: 'email.send' },
          resource: { type: 'mailbox', id: 'alice/outbox' },
          context: {
            agent_credential: {
              token: token.access_token,
              dpop: await agent.creds.dpopProof('POST', TOOL, token.access_token),
              method: 'POST',
              url: TOOL,
            },
            ...context,
          },
        },
      });
    const plain = await ask({});
    expect(plain.body, plain.text).toMatchObject({ decision: true });
    const tainted = await ask({ untrusted_input: true });
    expect(tainted.body, tainted.text).toMatchObject({
      decision: false,
      context: { reason: 'approval_required' },
    });
    const record = await t.call('GET', `/v1/audit/events/${tainted.body.context.decision_id}`, {
      key: t.adminKey,
    });
    expect(record.body.after.risk).toEqual({
      score: 70,
      factors: [expect.objectContaining({ name: 'untrusted_external' })],
    });
    // Only `true` is the signal.
    expect((await ask({ untrusted_input: 'yes' })).body).toMatchObject({ decision: true });
  });
});

describe('thresholds and weights set through PUT /v1/risk/settings', () => {
  /** A week-old agent whose only counting factor is data_sensitivity (restricted: the whole weight). */
  async function scored() {
    const { agent, token } = await setup(`scored-${Math.random().toString(36).slice(2, 8)}`, 8);
    const ask = async (score: number) => {
      expect(
        (await putSettings({ weights: only({ data_sensitivity: score }), approvalAt: 50, denyAt: 60 }))
          .status,
      ).toBe(200);
      const answer = await decide(
        agent,
        token,
        read('alice/inbox', { dataClass: 'restricted', arguments: { n: score } }),
      );
      expect(answer.risk.score).toBe(score);
      return answer;
    };
    return ask;
  }

  it('allow below approvalAt, approval_required from approvalAt, risk_too_high from denyAt (exactly at each)', async () => {
    const ask = await scored();
    expect((await ask(0)).decision).toBe('allow');
    expect((await ask(49)).decision).toBe('allow');
    expect(await ask(50)).toMatchObject({
      decision: 'approval_required',
      reasons: [{ code: 'approval_required' }],
    });
    expect((await ask(59)).decision).toBe('approval_required');
    expect(await ask(60)).toMatchObject({
      decision: 'deny',
      reasons: [{ code: 'risk_too_high', detail: expect.stringContaining('60 ≥ 60') }],
    });
    expect((await ask(100)).reasons[0]?.code).toBe('risk_too_high');
  });

  it('the same request changes outcome when only the thresholds move', async () => {
    const { agent, token } = await setup('thresholds', 8);
    const request = read('alice/inbox', { dataClass: 'restricted' });
    await decide(agent, token, request); // known from now on: restricted data (25) is all that counts
    const at = async (approvalAt: number, denyAt: number) => {
      expect((await putSettings({ approvalAt, denyAt })).status).toBe(200);
      return decide(agent, token, request);
    };
    expect(await at(26, 95)).toMatchObject({ decision: 'allow', risk: { score: 25 } });
    expect((await at(25, 95)).decision).toBe('approval_required');
    expect((await at(20, 26)).decision).toBe('approval_required');
    expect((await at(20, 25)).reasons[0]?.code).toBe('risk_too_high');
    // Equal thresholds: deny wins (the risk step runs before the approval step).
    expect((await at(25, 25)).reasons[0]?.code).toBe('risk_too_high');
    // 101 never denies nor asks, even at 100.
    expect(
      (await putSettings({ weights: { data_sensitivity: 100 }, approvalAt: 101, denyAt: 101 })).status,
    ).toBe(200);
    const max = await decide(agent, token, request);
    expect(max).toMatchObject({ decision: 'allow', risk: { score: 100 } });
  });

  it('weight 0 switches a factor off in decisions', async () => {
    const { agent, token } = await setup('switched-off');
    expect((await putSettings({ weights: { novelty_action: 0, agent_age: 0 } })).status).toBe(200);
    const answer = await decide(agent, token, read());
    expect(factorNames(answer.risk)).toEqual(['novelty_resource', 'data_sensitivity']);
    expect(answer.risk.score).toBe(15);
  });

  it('external actions are the org’s list', async () => {
    const { agent, token } = await setup('external-list', 8);
    await decide(agent, token, read());
    const tainted = read('alice/inbox', { signals: { untrustedInput: true } });
    expect((await decide(agent, token, tainted)).decision).toBe('allow');
    expect((await putSettings({ externalActions: ['email.read'] })).status).toBe(200);
    expect(await decide(agent, token, tainted)).toMatchObject({
      decision: 'approval_required',
      risk: { score: 75 },
    });
  });

  it('off_hours: working hours that contain the current time do not count; ones that do not, do', async () => {
    const { agent, token } = await setup('night-owl', 8);
    await decide(agent, token, read());
    // A zone where it is between 02:00 and 21:59 now, so whole-day and early-morning windows are safe.
    const localHour = (timeZone: string) =>
      Number(
        new Intl.DateTimeFormat('en-US', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(
          t.clock.now(),
        ),
      );
    const timeZone = ['UTC', 'Asia/Tokyo'].find((z) => localHour(z) >= 2 && localHour(z) <= 21) as string;
    const weekday = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short' }).format(t.clock.now());
    const today = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(weekday);
    const allWeek = [0, 1, 2, 3, 4, 5, 6];
    const inside = { timeZone, days: allWeek, start: '00:00', end: '23:59' };
    const early = { timeZone, days: allWeek, start: '00:00', end: '01:00' };
    const otherDays = { ...inside, days: allWeek.filter((d) => d !== today) };

    const withHours = async (settings: Record<string, unknown>) => {
      expect((await putSettings(settings)).status).toBe(200);
      return (await decide(agent, token, read())).risk;
    };
    const open = await withHours({ workingHours: inside });
    expect(factorNames(open)).toEqual(['data_sensitivity']);
    const closed = await withHours({ workingHours: early });
    expect(factor(closed, 'off_hours')).toMatchObject({
      contribution: 15,
      detail: expect.stringContaining(timeZone),
    });
    expect(closed.factors.filter((f) => f.name !== 'off_hours')).toEqual(open.factors);
    expect(factorNames(await withHours({ workingHours: otherDays }))).toContain('off_hours');
    // Alice's own hours win over the org's.
    expect(
      factorNames(await withHours({ workingHours: early, userHours: { [aliceId]: inside } })),
    ).not.toContain('off_hours');
    expect(factorNames(await withHours({ workingHours: inside, userHours: { [aliceId]: early } }))).toContain(
      'off_hours',
    );
  });
});

describe('Cedar sees context.mandate.risk', () => {
  it('a forbid on the score denies from that score on', async () => {
    const { agent, token } = await setup('cedar-score', 8);
    await publish(
      'permit (principal, action, resource) when { context.mandate.delegated == true };\n' +
        'forbid (principal, action, resource) when { context.mandate.risk.score >= 30 };',
    );
    const at = async (score: number) => {
      expect((await putSettings({ weights: only({ data_sensitivity: score }) })).status).toBe(200);
      return decide(agent, token, read('alice/inbox', { dataClass: 'restricted' }));
    };
    expect(await at(29)).toMatchObject({ decision: 'allow', risk: { score: 29 } });
    expect(await at(30)).toMatchObject({
      decision: 'deny',
      reasons: [{ code: 'policy_denied' }],
      risk: { score: 30 },
    });
    expect((await at(45)).reasons[0]?.code).toBe('policy_denied');
  });

  it('a policy can read the factor names', async () => {
    const { agent, token } = await setup('cedar-factors', 8);
    await decide(agent, token, send());
    // Risk thresholds out of the way: only the policy decides.
    expect((await putSettings({ approvalAt: 101, denyAt: 101 })).status).toBe(200);
    await publish(
      'permit (principal, action, resource) when { context.mandate.delegated == true };\n' +
        'forbid (principal, action, resource) when { context.mandate.risk.factors.contains("untrusted_external") };',
    );
    expect((await decide(agent, token, send())).decision).toBe('allow');
    expect(await decide(agent, token, send({ signals: { untrustedInput: true } }))).toMatchObject({
      decision: 'deny',
      reasons: [{ code: 'policy_denied' }],
    });
  });

  it('a caller cannot set context.mandate.risk itself', async () => {
    const { agent, token } = await setup('cedar-spoof', 8);
    await expect(
      agent.creds.decide(token, {
        ...read(),
        context: { mandate: { risk: { score: 0, factors: [] } } },
      } as never),
    ).rejects.toMatchObject({ status: 400 });
  });

  // Was a bug (packages/engine/src/decision/replay.ts, replayOne, now fixed): publishing replayed recent allowed
  // decisions with a `context.mandate` that has no `risk`, although each record holds
  // `after.risk`. A policy that reads context.mandate.risk then errors on every replayed
  // request; an erroring forbid counts as a deny, so a set that forbids only at a score no
  // request can reach (score > 100) is reported as denying all of them (a false warning, with
  // replay.nowDenied = every replayed decision and deniesAllRecent = true), and a permit
  // that reads the score would be reported the same way. The replay should pass the recorded
  // `{ score, factors: names }` as context.mandate.risk.
  it('publishing a policy on the score replays recent decisions with their recorded risk', async () => {
    const { agent, token } = await setup('cedar-replay', 8);
    for (let i = 0; i < 3; i++) expect((await decide(agent, token, read())).decision).toBe('allow');
    const published = await publish(
      'permit (principal, action, resource) when { context.mandate.delegated == true };\n' +
        'forbid (principal, action, resource) when { context.mandate.risk.score > 100 };',
    );
    // No score is above 100: this forbid can deny none of the recent allowed decisions.
    expect(published.replay).toMatchObject({ nowDenied: 0, deniesAllRecent: false });
  });
});

describe('PUT /v1/risk/settings', () => {
  it('replaces the settings (fields left out take the defaults), GET shows them, and the change is audited', async () => {
    const first = await putSettings({ weights: { velocity: 5 }, approvalAt: 60 });
    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual({
      ...DEFAULT_RISK_SETTINGS,
      weights: { ...DEFAULT_RISK_SETTINGS.weights, velocity: 5 },
      approvalAt: 60,
    });
    expect((await t.call('GET', '/v1/risk/settings', { key: t.adminKey })).body).toEqual(first.body);
    const hours = { timeZone: 'Europe/Berlin', days: [5, 1], start: '08:00', end: '18:00' };
    const second = await putSettings({ workingHours: hours, externalActions: ['pay.*'] });
    expect(second.status, second.text).toBe(200);
    // approvalAt and the velocity weight went back to their defaults: a PUT replaces.
    expect(second.body).toEqual({
      ...DEFAULT_RISK_SETTINGS,
      workingHours: { ...hours, days: [1, 5] },
      externalActions: ['pay.*'],
    });
    const events = await t.call('GET', '/v1/audit/events?type=risk.settings.updated&limit=200', {
      key: t.adminKey,
    });
    expect(events.status, events.text).toBe(200);
    const latest = [...events.body.items].sort((a, b) => b.seq - a.seq);
    expect(latest[0]).toMatchObject({
      type: 'risk.settings.updated',
      actor: { kind: 'api_key' },
      target: { type: 'settings', id: 'risk' },
      before: first.body,
      after: second.body,
    });
    expect(latest[1]).toMatchObject({ after: first.body });
  });

  it('refuses what is not valid with 400 and the field, and keeps the settings in force', async () => {
    expect((await putSettings({ denyAt: 90 })).status).toBe(200);
    const before = (await t.call('GET', '/v1/risk/settings', { key: t.adminKey })).body;
    const count = async () =>
      (await t.call('GET', '/v1/audit/events?type=risk.settings.updated&limit=200', { key: t.adminKey })).body
        .items.length;
    const audited = await count();
    const hours = { timeZone: 'Europe/Berlin', days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' };
    const cases: Array<[unknown, string | undefined]> = [
      [{ weights: { novelty: 10 } }, 'weights.novelty'],
      [{ weights: { velocity: 101 } }, undefined],
      [{ weights: { velocity: 2.5 } }, undefined],
      [{ approvalAt: 80, denyAt: 70 }, 'approvalAt'],
      [{ approvalAt: 96 }, 'approvalAt'],
      [{ denyAt: 0 }, undefined],
      [{ workingHours: { ...hours, timeZone: 'Mars/Olympus_Mons' } }, 'workingHours.timeZone'],
      [{ workingHours: { ...hours, start: '9:00' } }, 'workingHours'],
      [{ workingHours: { ...hours, end: '24:01' } }, 'workingHours'],
      [{ workingHours: { ...hours, start: '18:00' } }, 'workingHours'],
      [{ workingHours: { ...hours, days: [7] } }, undefined],
      [{ userHours: { [aliceId]: { ...hours, timeZone: 'Nowhere/Town' } } }, `userHours.${aliceId}.timeZone`],
      [{ userHours: { alice: hours } }, undefined],
      [{ externalActions: ['email..send'] }, 'externalActions'],
      [{ externalActions: ['mailbox:alice/*'] }, 'externalActions'],
      [{ somethingElse: true }, undefined],
    ];
    for (const [body, field] of cases) {
      const refused = await putSettings(body);
      expect(refused.status, `${JSON.stringify(body)}: ${refused.text}`).toBe(400);
      expect(refused.body.error.code).toBe('invalid_request');
      if (field) expect(refused.body.error.field, JSON.stringify(body)).toBe(field);
    }
    expect((await t.call('GET', '/v1/risk/settings', { key: t.adminKey })).body).toEqual(before);
    expect(await count()).toBe(audited);
  });

  it('only an admin may change them', async () => {
    const refused = await putSettings({ denyAt: 50, approvalAt: 40 }, auditorKey);
    expect(refused.status, refused.text).toBe(403);
    expect((await t.call('GET', '/v1/risk/settings', { key: t.adminKey })).body).toEqual(
      DEFAULT_RISK_SETTINGS,
    );
  });
});
