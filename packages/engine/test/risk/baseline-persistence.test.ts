/**
 * An agent's risk baseline lives in the store: decisions through the real pipeline
 * (engine.decisions.decide) build it, and an engine started again on the same SQLite file judges
 * the next request with it — what the agent did is not novel, its usual amounts and its usual
 * pace still hold. A denied decision writes none.
 */
import type { AgentBaseline } from '@mandate/engine';
import { describe, expect, it } from 'vitest';
import {
  type Agent,
  DAY,
  exchange,
  grant,
  names,
  readMail,
  registerAgent,
  setupOrg,
  world,
} from './world.js';

describe('agent baselines survive a restart', () => {
  it('a new engine on the same file judges the next request with what the agent did before', async () => {
    const { clock, open } = world();
    let { store, engine } = open();
    const { orgId, admin, userId } = await setupOrg(engine);
    const used = await registerAgent(engine, admin, userId, 'regular');
    const unused = await registerAgent(engine, admin, userId, 'newcomer');
    // A week and a day later both are past agent_age; their delegations start now.
    clock.advance(8 * DAY);
    const regular: Agent = { ...used, delegationId: await grant(engine, clock, admin, userId, used.id) };
    const newcomer: Agent = { ...unused, delegationId: await grant(engine, clock, admin, userId, unused.id) };

    // Five busy minutes of reading mail, two reads a minute, always an amount of 10.
    const token = await exchange(engine, clock, regular);
    const first = await engine.decisions.decide(readMail(token));
    expect(first.decision).toBe('allow');
    expect(names(first)).toEqual(['novelty_action', 'novelty_resource', 'data_sensitivity']);
    expect((await engine.decisions.decide(readMail(token))).risk?.factors.map((f) => f.name)).toEqual([
      'data_sensitivity',
    ]);
    for (let minute = 1; minute < 5; minute++) {
      clock.nextMinute();
      for (let i = 0; i < 2; i++)
        expect((await engine.decisions.decide(readMail(token))).decision).toBe('allow');
    }

    // Restart: the store is closed, and a new store and engine open the same file.
    await store.close();
    clock.nextMinute();
    ({ store, engine } = open());
    const stored = await store.org(orgId).getDocument<AgentBaseline>('baseline', regular.id);
    expect(stored?.doc).toMatchObject({
      actions: { 'email.read': 1 },
      resources: { 'mailbox:alice/inbox': 1 },
      minutes: 4,
      minuteCount: 2,
      perMinute: 2,
      args: { 'email.read\u0000amount': { n: 10, mean: 10, m2: 0 } },
    });
    expect(await store.org(orgId).getDocument('baseline', newcomer.id)).toBeUndefined();

    const again = await exchange(engine, clock, regular);
    // Nothing new: the action and resource are known, the amount is the usual one.
    const known = await engine.decisions.decide(readMail(again));
    expect(known).toMatchObject({ decision: 'allow', risk: { score: 5 } });
    expect(names(known)).toEqual(['data_sensitivity']);
    // The usual amount held too: σ = 0 around 10, so 25 is far.
    const far = await engine.decisions.decide(readMail(again, 25));
    expect(names(far)).toEqual(['data_sensitivity', 'argument_outlier']);
    // And the usual pace: five busy minutes of history at 2 a minute, so the 11th read of
    // this minute is a burst (the first ten, including the two above, are not).
    for (let i = 2; i < 10; i++)
      expect(names(await engine.decisions.decide(readMail(again)))).toEqual(['data_sensitivity']);
    const burst = await engine.decisions.decide(readMail(again));
    expect(names(burst)).toEqual(['velocity', 'data_sensitivity']);

    // The same request by an agent of the same age that never acted: everything is new.
    const fresh = await engine.decisions.decide(readMail(await exchange(engine, clock, newcomer)));
    expect(names(fresh)).toEqual(['novelty_action', 'novelty_resource', 'data_sensitivity']);
  });

  it('a denied decision writes no baseline, before or after a restart', async () => {
    const { clock, open } = world();
    let { store, engine } = open();
    const { orgId, admin, userId } = await setupOrg(engine);
    const registered = await registerAgent(engine, admin, userId, 'forbidden');
    const agent: Agent = {
      ...registered,
      delegationId: await grant(engine, clock, admin, userId, registered.id),
    };
    await engine.policies.publish(admin, {
      policies:
        'permit (principal, action, resource) when { context.mandate.delegated == true };\n' +
        'forbid (principal, action == Action::"email.read", resource);',
    });
    const denied = await engine.decisions.decide(readMail(await exchange(engine, clock, agent)));
    expect(denied).toMatchObject({ decision: 'deny', reasons: [{ code: 'policy_denied' }] });
    expect(await store.org(orgId).getDocument('baseline', agent.id)).toBeUndefined();

    await store.close();
    ({ store, engine } = open());
    expect(await store.org(orgId).getDocument('baseline', agent.id)).toBeUndefined();
    await engine.policies.activate(admin, 0, 'allow reading again');
    const allowed = await engine.decisions.decide(readMail(await exchange(engine, clock, agent)));
    expect(allowed.decision).toBe('allow');
    expect(names(allowed)).toContain('novelty_action');
    expect(names(allowed)).toContain('novelty_resource');
    expect((await store.org(orgId).getDocument<AgentBaseline>('baseline', agent.id))?.doc.actions).toEqual({
      'email.read': 1,
    });
  });
});
