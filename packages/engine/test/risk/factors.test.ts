/**
 * The risk score, as pure functions: assessRisk (each factor moves the score for its stated cause
 * and only then, by its weight), observe (what an allowed use adds to an agent's baseline, and
 * the caps), withinHours (working hours in the hours' own time zone) and resolveRiskSettings
 * (what an org may set).
 */
import {
  type AgentBaseline,
  assessRisk,
  DEFAULT_RISK_SETTINGS,
  EMPTY_BASELINE,
  MandateError,
  minuteOf,
  observe,
  RISK_FACTORS,
  type RiskAssessment,
  type RiskFactorName,
  type RiskInput,
  type RiskSettings,
  resolveRiskSettings,
  usesThisMinute,
  type WorkingHours,
  withinHours,
} from '@mandate/engine';
import { describe, expect, it } from 'vitest';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** A Wednesday, 12:00:30 UTC. */
const NOW = new Date('2026-03-04T12:00:30Z');
const ALL_DAYS = [0, 1, 2, 3, 4, 5, 6];
const W = DEFAULT_RISK_SETTINGS.weights;

interface World {
  input: RiskInput;
  settings: RiskSettings;
  baseline: AgentBaseline;
}

const ACTION = 'email.send';
const RESOURCE = 'mailbox:alice/outbox';
const ARG_KEY = `${ACTION}\u0000amount`;

/** The running statistics observe() keeps for these values (built through observe itself). */
function statsOf(values: number[], action = ACTION, name = 'amount') {
  let b: AgentBaseline = EMPTY_BASELINE;
  for (const value of values) b = observe(b, { action, resource: 'x:y', args: { [name]: value } }, NOW);
  return b.args[`${action}\u0000${name}`] as { n: number; mean: number; m2: number };
}

/**
 * A world where no factor counts: an old agent, a known action and resource, public data, a
 * root delegation, inside working hours, a usual amount, trusted input, and a busy minute just
 * under the velocity threshold (9 uses so far, usual 2 per minute over 5 minutes: the 10th use
 * is not above max(10, 3 × 2)).
 */
function quietWorld(): World {
  return {
    input: {
      action: ACTION,
      resource: RESOURCE,
      dataClass: 'public',
      depth: 0,
      args: { amount: 10 },
      untrustedInput: false,
      agentCreatedAt: new Date(NOW.getTime() - 30 * DAY).toISOString(),
      now: NOW,
    },
    settings: {
      ...DEFAULT_RISK_SETTINGS,
      workingHours: { timeZone: 'UTC', days: ALL_DAYS, start: '00:00', end: '23:59' },
    },
    baseline: {
      ...EMPTY_BASELINE,
      actions: { [ACTION]: 1, 'email.read': 1 },
      resources: { [RESOURCE]: 1, 'mailbox:alice/inbox': 1 },
      minute: minuteOf(NOW),
      minuteCount: 9,
      perMinute: 2,
      minutes: 5,
      args: { [ARG_KEY]: statsOf([10, 11, 9, 10, 10]) },
    },
  };
}

/** Each factor's cause, applied to a world (and nothing else changed), and what it must add. */
const CAUSES: Record<RiskFactorName, { cause: (w: World) => World; adds: number; detail: RegExp }> = {
  novelty_action: {
    cause: (w) => ({ ...w, baseline: { ...w.baseline, actions: { 'email.read': 1 } } }),
    adds: W.novelty_action,
    detail: /first email\.send/,
  },
  novelty_resource: {
    cause: (w) => ({ ...w, baseline: { ...w.baseline, resources: { 'mailbox:alice/inbox': 1 } } }),
    adds: W.novelty_resource,
    detail: /mailbox:alice\/outbox/,
  },
  velocity: {
    // One more use this minute: the 11th, above max(10, 3 × 2).
    cause: (w) => ({ ...w, baseline: { ...w.baseline, minuteCount: 10 } }),
    adds: W.velocity,
    detail: /11 uses this minute against a usual 2\.0/,
  },
  data_sensitivity: {
    cause: (w) => ({ ...w, input: { ...w.input, dataClass: 'restricted' } }),
    adds: W.data_sensitivity,
    detail: /restricted/,
  },
  chain_depth: {
    cause: (w) => ({ ...w, input: { ...w.input, depth: 3 } }),
    adds: W.chain_depth,
    detail: /3 re-delegation/,
  },
  off_hours: {
    // The same hours, but not on Wednesdays.
    cause: (w) => ({
      ...w,
      settings: {
        ...w.settings,
        workingHours: { ...(w.settings.workingHours as WorkingHours), days: [0, 1, 2, 4, 5, 6] },
      },
    }),
    adds: W.off_hours,
    detail: /outside working hours \(UTC\)/,
  },
  argument_outlier: {
    // Usual 10 ± 0.71: 13 is more than 3σ away.
    cause: (w) => ({ ...w, input: { ...w.input, args: { amount: 13 } } }),
    adds: W.argument_outlier,
    detail: /amount=13/,
  },
  untrusted_external: {
    cause: (w) => ({ ...w, input: { ...w.input, untrustedInput: true } }),
    adds: W.untrusted_external,
    detail: /untrusted content reached email\.send/,
  },
  agent_age: {
    cause: (w) => ({
      ...w,
      input: { ...w.input, agentCreatedAt: new Date(NOW.getTime() - HOUR).toISOString() },
    }),
    adds: W.agent_age,
    detail: /less than a day/,
  },
};

const assess = (w: World) => assessRisk(w.input, w.settings, w.baseline);
const names = (a: RiskAssessment) => a.factors.map((f) => f.name);
const without = (a: RiskAssessment, name: RiskFactorName) => a.factors.filter((f) => f.name !== name);
const sum = (a: RiskAssessment) => a.factors.reduce((s, f) => s + f.contribution, 0);

/** Each other factor's cause applied to the quiet world: every factor but `name` counts. */
function busyWorld(name: RiskFactorName): World {
  let w = quietWorld();
  for (const other of RISK_FACTORS) if (other !== name) w = CAUSES[other].cause(w);
  return w;
}

describe('assessRisk: each factor, for its cause and only then', () => {
  it('the quiet world has no factor at all (score 0)', () => {
    expect(assess(quietWorld())).toEqual({ score: 0, factors: [] });
  });

  it('covers every factor the settings know', () => {
    expect(Object.keys(CAUSES).sort()).toEqual([...RISK_FACTORS].sort());
  });

  for (const name of RISK_FACTORS) {
    describe(name, () => {
      it(`its cause alone adds exactly its weight (${W[name]}) and nothing else`, () => {
        const before = assess(quietWorld());
        const after = assess(CAUSES[name].cause(quietWorld()));
        expect(names(before)).not.toContain(name);
        expect(after.factors).toEqual([
          { name, contribution: CAUSES[name].adds, detail: expect.stringMatching(CAUSES[name].detail) },
        ]);
        expect(after.score).toBe(before.score + CAUSES[name].adds);
      });

      it('with every other factor counting, it still appears only with its cause, the others unchanged', () => {
        const before = assess(busyWorld(name));
        const after = assess(CAUSES[name].cause(busyWorld(name)));
        expect(names(before)).not.toContain(name);
        expect(names(after)).toContain(name);
        expect(after.factors.find((f) => f.name === name)?.contribution).toBe(CAUSES[name].adds);
        expect(without(after, name)).toEqual(before.factors);
        // Every other factor really is counting in this world.
        expect(names(before).sort()).toEqual(RISK_FACTORS.filter((n) => n !== name).sort());
      });

      it('weight 0 switches it off (its cause present, the other factors unchanged)', () => {
        const on = CAUSES[name].cause(busyWorld(name));
        const off = { ...on, settings: { ...on.settings, weights: { ...on.settings.weights, [name]: 0 } } };
        expect(names(assess(off))).not.toContain(name);
        expect(assess(off).factors).toEqual(without(assess(on), name));
      });

      it('its contribution is derived from its weight', () => {
        const w = CAUSES[name].cause(quietWorld());
        const heavier = { ...w, settings: { ...w.settings, weights: { ...w.settings.weights, [name]: 40 } } };
        expect(assess(heavier).factors.find((f) => f.name === name)?.contribution).toBe(
          (CAUSES[name].adds / W[name]) * 40,
        );
      });
    });
  }
});

describe('assessRisk: the score', () => {
  it('is the sum of the contributions when that is at most 100', () => {
    let w = quietWorld();
    for (const name of ['novelty_action', 'novelty_resource', 'data_sensitivity', 'agent_age'] as const)
      w = CAUSES[name].cause(w);
    const a = assess(w);
    expect(a.score).toBe(W.novelty_action + W.novelty_resource + W.data_sensitivity + W.agent_age);
    expect(a.score).toBe(sum(a));
  });

  it('is capped at 100 while the factors still say what they added', () => {
    let w = quietWorld();
    for (const name of RISK_FACTORS) w = CAUSES[name].cause(w);
    const a = assess(w);
    expect(names(a).sort()).toEqual([...RISK_FACTORS].sort());
    expect(sum(a)).toBe(Object.values(W).reduce((s, n) => s + n, 0));
    expect(sum(a)).toBeGreaterThan(100);
    expect(a.score).toBe(100);
  });

  it('is exactly 100 when the sum is exactly 100', () => {
    const w = CAUSES.untrusted_external.cause(CAUSES.data_sensitivity.cause(quietWorld()));
    const settings = { ...w.settings, weights: { ...w.settings.weights, data_sensitivity: 30 } };
    expect(assess({ ...w, settings }).score).toBe(100);
  });

  it('is deterministic and leaves the baseline and settings as they were', () => {
    const w = CAUSES.argument_outlier.cause(CAUSES.velocity.cause(quietWorld()));
    const frozen = structuredClone(w.baseline);
    const settings = structuredClone(w.settings);
    const first = assess(w);
    expect(assess(w)).toEqual(first);
    expect(w.baseline).toEqual(frozen);
    expect(w.settings).toEqual(settings);
  });
});

describe('assessRisk: each factor in detail', () => {
  it('novelty: an empty baseline makes both the action and the resource new', () => {
    const a = assess({ ...quietWorld(), baseline: EMPTY_BASELINE });
    expect(names(a)).toEqual(['novelty_action', 'novelty_resource']);
  });

  it('data_sensitivity scales with the class: public 0, internal 5, confidential 15, restricted 25', () => {
    const of = (dataClass: RiskInput['dataClass']) =>
      assess({ ...quietWorld(), input: { ...quietWorld().input, dataClass } }).factors;
    expect(of('public')).toEqual([]);
    expect(of('internal')).toEqual([expect.objectContaining({ name: 'data_sensitivity', contribution: 5 })]);
    expect(of('confidential')).toEqual([
      expect.objectContaining({ name: 'data_sensitivity', contribution: 15 }),
    ]);
    expect(of('restricted')).toEqual([
      expect.objectContaining({ name: 'data_sensitivity', contribution: 25 }),
    ]);
  });

  it('chain_depth: a third of its weight per re-delegation, at most its weight', () => {
    const of = (depth: number) =>
      assess({ ...quietWorld(), input: { ...quietWorld().input, depth } }).factors.map((f) => f.contribution);
    expect(of(0)).toEqual([]);
    expect(of(1)).toEqual([5]);
    expect(of(2)).toEqual([10]);
    expect(of(3)).toEqual([15]);
    expect(of(6)).toEqual([15]);
  });

  it('agent_age: under a day the whole weight, under a week half, from a week on nothing (edges included)', () => {
    const of = (ageMs: number) =>
      assess({
        ...quietWorld(),
        input: { ...quietWorld().input, agentCreatedAt: new Date(NOW.getTime() - ageMs).toISOString() },
      }).factors.map((f) => f.contribution);
    expect(of(0)).toEqual([10]);
    expect(of(DAY - 1)).toEqual([10]);
    expect(of(DAY)).toEqual([5]);
    expect(of(7 * DAY - 1)).toEqual([5]);
    expect(of(7 * DAY)).toEqual([]);
  });

  describe('velocity', () => {
    const world = (b: Partial<AgentBaseline>): World => {
      const w = quietWorld();
      return { ...w, baseline: { ...w.baseline, ...b } };
    };
    const fires = (b: Partial<AgentBaseline>) => names(assess(world(b))).includes('velocity');

    it('needs 5 minutes of history: with 4, even a huge burst does not count', () => {
      expect(fires({ minutes: 4, perMinute: 1, minuteCount: 500 })).toBe(false);
      expect(fires({ minutes: 5, perMinute: 1, minuteCount: 500 })).toBe(true);
    });

    it('the floor: never below 11 uses in the minute, however quiet the agent usually is', () => {
      expect(fires({ perMinute: 0.5, minuteCount: 9 })).toBe(false); // the 10th use
      expect(fires({ perMinute: 0.5, minuteCount: 10 })).toBe(true); // the 11th
    });

    it('three times the usual busy minute, when that is above the floor', () => {
      // Usual 6: the threshold is 18, so the 18th use is fine and the 19th is a burst.
      expect(fires({ perMinute: 6, minuteCount: 17 })).toBe(false);
      expect(fires({ perMinute: 6, minuteCount: 18 })).toBe(true);
    });

    it('uses counted for an earlier minute are not this minute’s', () => {
      expect(fires({ perMinute: 1, minuteCount: 500, minute: minuteOf(NOW) - 1 })).toBe(false);
      expect(usesThisMinute({ ...EMPTY_BASELINE, minute: minuteOf(NOW) - 1, minuteCount: 500 }, NOW)).toBe(0);
      expect(usesThisMinute({ ...EMPTY_BASELINE, minute: minuteOf(NOW), minuteCount: 7 }, NOW)).toBe(7);
    });
  });

  describe('argument_outlier', () => {
    const world = (values: number[], amount: unknown, extra: Record<string, unknown> = {}): World => {
      const w = quietWorld();
      return {
        input: { ...w.input, args: { amount, ...extra } },
        settings: w.settings,
        baseline: { ...w.baseline, args: values.length ? { [ARG_KEY]: statsOf(values) } : {} },
      };
    };
    const fires = (values: number[], amount: unknown, extra?: Record<string, unknown>) =>
      names(assess(world(values, amount, extra))).includes('argument_outlier');

    it('needs 5 observations: with 4, nothing is an outlier', () => {
      expect(fires([10, 11, 9, 10], 1_000_000)).toBe(false);
      expect(fires([10, 11, 9, 10, 10], 1_000_000)).toBe(true);
      expect(fires([], 1_000_000)).toBe(false);
    });

    it('with σ > 0: more than 3σ from the mean, on either side', () => {
      // Mean 10, sample σ = √0.5 ≈ 0.707: 3σ ≈ 2.12.
      expect(fires([10, 11, 9, 10, 10], 12)).toBe(false);
      expect(fires([10, 11, 9, 10, 10], 12.2)).toBe(true);
      expect(fires([10, 11, 9, 10, 10], 7.9)).toBe(false);
      expect(fires([10, 11, 9, 10, 10], 7.8)).toBe(true);
    });

    it('with σ = 0: further from the mean than max(1, |mean|)', () => {
      expect(fires([10, 10, 10, 10, 10], 20)).toBe(false);
      expect(fires([10, 10, 10, 10, 10], 20.5)).toBe(true);
      expect(fires([10, 10, 10, 10, 10], 0)).toBe(false);
      expect(fires([10, 10, 10, 10, 10], -0.5)).toBe(true);
      // Mean 0: the distance allowed is 1, not 0.
      expect(fires([0, 0, 0, 0, 0], 1)).toBe(false);
      expect(fires([0, 0, 0, 0, 0], 1.5)).toBe(true);
      expect(fires([0, 0, 0, 0, 0], -1.5)).toBe(true);
    });

    it('only numbers count; the statistics are per action; one factor even for two outlying arguments', () => {
      expect(fires([10, 11, 9, 10, 10], '1000000')).toBe(false);
      // Another action's history of `amount` does not judge this one.
      const w = world([10, 11, 9, 10, 10], 1_000_000);
      const other = { ...w, input: { ...w.input, action: 'email.read' } };
      expect(names(assess(other))).not.toContain('argument_outlier');
      // Two arguments far out: the factor counts once, at its weight.
      const both = world([10, 11, 9, 10, 10], 1_000_000, { fee: 1_000_000 });
      both.baseline.args[`${ACTION}\u0000fee`] = statsOf([1, 1, 1, 1, 1], ACTION, 'fee');
      expect(assess(both).factors).toEqual([
        expect.objectContaining({ name: 'argument_outlier', contribution: W.argument_outlier }),
      ]);
    });
  });

  describe('untrusted_external', () => {
    const world = (action: string, untrustedInput: boolean, externalActions?: string[]): World => {
      const w = quietWorld();
      return {
        input: { ...w.input, action, untrustedInput },
        settings: { ...w.settings, ...(externalActions ? { externalActions } : {}) },
        baseline: { ...w.baseline, actions: { [action]: 1 } },
      };
    };
    const fires = (action: string, untrusted: boolean, external?: string[]) =>
      names(assess(world(action, untrusted, external))).includes('untrusted_external');

    it('needs both: untrusted content, and an action with external effect', () => {
      expect(fires('email.send', true)).toBe(true);
      expect(fires('pay.transfer', true)).toBe(true);
      expect(fires('http.post', true)).toBe(true);
      expect(fires('email.send', false)).toBe(false);
      expect(fires('email.read', true)).toBe(false);
      expect(fires('doc.write', true)).toBe(false);
    });

    it('the external actions are the org’s patterns', () => {
      expect(fires('doc.write', true, ['doc.*'])).toBe(true);
      expect(fires('email.send', true, ['doc.*'])).toBe(false);
      expect(fires('email.send', true, [])).toBe(false);
    });
  });

  describe('off_hours', () => {
    const hours = (h: Partial<WorkingHours>): WorkingHours => ({
      timeZone: 'UTC',
      days: ALL_DAYS,
      start: '09:00',
      end: '17:00',
      ...h,
    });
    const world = (settings: Partial<RiskSettings>, rootUserId?: string, now = NOW): World => {
      const w = quietWorld();
      const { workingHours: _drop, ...rest } = w.settings;
      return {
        ...w,
        input: { ...w.input, now, ...(rootUserId ? { rootUserId } : {}) },
        settings: { ...rest, ...settings },
      };
    };
    const fires = (settings: Partial<RiskSettings>, rootUserId?: string, now?: Date) =>
      names(assess(world(settings, rootUserId, now))).includes('off_hours');

    it('no working hours set: never off hours', () => {
      expect(fires({})).toBe(false);
      expect(fires({}, undefined, new Date('2026-03-08T03:00:00Z'))).toBe(false); // a Sunday night
    });

    it('the org’s hours, in their time zone', () => {
      // 12:00:30 UTC is 13:00 in Berlin and 07:00 in New York.
      expect(fires({ workingHours: hours({ timeZone: 'Europe/Berlin' }) })).toBe(false);
      expect(fires({ workingHours: hours({ timeZone: 'America/New_York' }) })).toBe(true);
    });

    it('a root user’s own hours win over the org’s, for that user only', () => {
      const settings = {
        workingHours: hours({ timeZone: 'Europe/Berlin' }),
        userHours: { usr_NIGHT: hours({ timeZone: 'America/New_York' }) },
      };
      expect(fires(settings, 'usr_NIGHT')).toBe(true);
      expect(fires(settings, 'usr_OTHER')).toBe(false);
      expect(fires(settings)).toBe(false);
      // And the other way round: the org is closed (07:00 in New York) but the user works now
      // (21:00 in Tokyo) — until their own hours end.
      const reversed = (end: string) => ({
        workingHours: hours({ timeZone: 'America/New_York' }),
        userHours: { usr_LATE: hours({ timeZone: 'Asia/Tokyo', start: '20:00', end }) },
      });
      expect(fires(reversed('23:00'), 'usr_LATE')).toBe(false);
      expect(fires(reversed('23:00'), 'usr_OTHER')).toBe(true);
      expect(fires(reversed('21:00'), 'usr_LATE')).toBe(true);
    });
  });
});

describe('withinHours', () => {
  const office: Omit<WorkingHours, 'timeZone'> = { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' };
  const berlin: WorkingHours = { ...office, timeZone: 'Europe/Berlin' };
  const newYork: WorkingHours = { ...office, timeZone: 'America/New_York' };
  const at = (iso: string) => new Date(iso);

  it('the same instant is inside in one zone and outside in another', () => {
    // Wednesday 16:30 UTC: 17:30 in Berlin (closed), 11:30 in New York (open).
    expect(withinHours(berlin, at('2026-03-04T16:30:00Z'))).toBe(false);
    expect(withinHours(newYork, at('2026-03-04T16:30:00Z'))).toBe(true);
    // Wednesday 08:30 UTC: 09:30 in Berlin (open), 03:30 in New York (closed).
    expect(withinHours(berlin, at('2026-03-04T08:30:00Z'))).toBe(true);
    expect(withinHours(newYork, at('2026-03-04T08:30:00Z'))).toBe(false);
  });

  it('start is inside, end is not (Berlin, UTC+1 in winter)', () => {
    expect(withinHours(berlin, at('2026-03-04T07:59:59Z'))).toBe(false); // 08:59
    expect(withinHours(berlin, at('2026-03-04T08:00:00Z'))).toBe(true); // 09:00
    expect(withinHours(berlin, at('2026-03-04T15:59:59Z'))).toBe(true); // 16:59
    expect(withinHours(berlin, at('2026-03-04T16:00:00Z'))).toBe(false); // 17:00
  });

  it('follows daylight saving time (New York is UTC−4 from 8 March 2026, Berlin still UTC+1)', () => {
    // 13:00 UTC on Tuesday 10 March is 09:00 in New York (it would be 08:00 a week earlier).
    expect(withinHours(newYork, at('2026-03-10T13:00:00Z'))).toBe(true);
    expect(withinHours(newYork, at('2026-03-03T13:00:00Z'))).toBe(false);
    expect(withinHours(newYork, at('2026-03-10T12:59:00Z'))).toBe(false);
    // Berlin moves on 29 March: 16:00 UTC is 17:00 before and 18:00 after, closed both times;
    // 15:30 UTC is 16:30 before (open) and 17:30 after (closed).
    expect(withinHours(berlin, at('2026-03-27T15:30:00Z'))).toBe(true);
    expect(withinHours(berlin, at('2026-03-30T15:30:00Z'))).toBe(false);
  });

  it('the day is the day in the hours’ zone', () => {
    const allDay = { days: [1, 2, 3, 4, 5], start: '00:00', end: '23:59' };
    // Saturday 7 March 04:30 UTC is still Friday 23:30 in New York and already Saturday in Berlin.
    const instant = at('2026-03-07T04:30:00Z');
    expect(withinHours({ ...allDay, timeZone: 'America/New_York' }, instant)).toBe(true);
    expect(withinHours({ ...allDay, timeZone: 'Europe/Berlin' }, instant)).toBe(false);
    // Sunday 8 March 23:30 UTC is Monday 00:30 in Berlin.
    expect(withinHours({ ...allDay, timeZone: 'Europe/Berlin' }, at('2026-03-08T23:30:00Z'))).toBe(true);
    expect(withinHours({ ...allDay, timeZone: 'UTC' }, at('2026-03-08T23:30:00Z'))).toBe(false);
  });

  it('midnight is 00:00 (not 24:00) and days count from Sunday = 0', () => {
    const justAfterMidnight = { timeZone: 'Europe/Berlin', days: [4], start: '00:00', end: '01:00' };
    // Wednesday 23:00 UTC is Thursday (4) 00:00 in Berlin.
    expect(withinHours(justAfterMidnight, at('2026-03-04T23:00:00Z'))).toBe(true);
    expect(withinHours({ ...justAfterMidnight, days: [3] }, at('2026-03-04T23:00:00Z'))).toBe(false);
    expect(
      withinHours({ timeZone: 'UTC', days: [0], start: '00:00', end: '23:59' }, at('2026-03-08T10:00:00Z')),
    ).toBe(true);
    expect(
      withinHours({ timeZone: 'UTC', days: [6], start: '00:00', end: '23:59' }, at('2026-03-08T10:00:00Z')),
    ).toBe(false);
  });
});

describe('observe: what an allowed use adds to the baseline', () => {
  const use = (action = 'email.read', resource = 'mailbox:alice/inbox', args?: Record<string, unknown>) => ({
    action,
    resource,
    ...(args ? { args } : {}),
  });

  it('remembers the action and the resource, and does not change the baseline it was given', () => {
    const before = structuredClone(EMPTY_BASELINE);
    const after = observe(EMPTY_BASELINE, use(), NOW);
    expect(after.actions).toEqual({ 'email.read': 1 });
    expect(after.resources).toEqual({ 'mailbox:alice/inbox': 1 });
    expect(EMPTY_BASELINE).toEqual(before);
    const again = observe(after, use('email.send', 'mailbox:alice/outbox'), NOW);
    expect(Object.keys(again.actions).sort()).toEqual(['email.read', 'email.send']);
    expect(Object.keys(after.actions)).toEqual(['email.read']);
    // What was observed is no longer novel.
    const w = quietWorld();
    const input = { ...w.input, action: 'email.read', resource: 'mailbox:alice/inbox' };
    expect(names(assessRisk(input, w.settings, EMPTY_BASELINE))).toEqual([
      'novelty_action',
      'novelty_resource',
    ]);
    expect(names(assessRisk(input, w.settings, after))).toEqual([]);
  });

  it('counts uses per minute and folds a finished busy minute into the average (α = 0.2)', () => {
    const t0 = new Date(Math.floor(NOW.getTime() / MINUTE) * MINUTE);
    let b: AgentBaseline = EMPTY_BASELINE;
    for (let i = 0; i < 4; i++) b = observe(b, use(), new Date(t0.getTime() + i * 1000));
    expect(b).toMatchObject({ minute: minuteOf(t0), minuteCount: 4, minutes: 0, perMinute: 0 });
    expect(usesThisMinute(b, t0)).toBe(4);
    // Next minute: the first busy minute becomes the average as it is.
    b = observe(b, use(), new Date(t0.getTime() + MINUTE));
    expect(b).toMatchObject({ minute: minuteOf(t0) + 1, minuteCount: 1, minutes: 1, perMinute: 4 });
    // Ten quiet minutes later: the one-use minute is folded in; the empty minutes are not counted.
    b = observe(b, use(), new Date(t0.getTime() + 11 * MINUTE));
    expect(b.minutes).toBe(2);
    expect(b.perMinute).toBeCloseTo(0.2 * 1 + 0.8 * 4, 10);
    expect(b.minuteCount).toBe(1);
  });

  it('after 5 busy minutes of history, a burst in the current minute is velocity', () => {
    const t0 = Math.floor(NOW.getTime() / MINUTE) * MINUTE;
    let b: AgentBaseline = EMPTY_BASELINE;
    for (let m = 0; m < 5; m++)
      for (let i = 0; i < 2; i++) b = observe(b, use(), new Date(t0 + m * MINUTE + i * 1000));
    // Minute 5 opens: the 5th minute is folded in now.
    const now = new Date(t0 + 5 * MINUTE);
    for (let i = 0; i < 10; i++) b = observe(b, use(), now);
    expect(b.minutes).toBe(5);
    const w = quietWorld();
    const input = { ...w.input, action: 'email.read', resource: 'mailbox:alice/inbox', args: {}, now };
    // The 11th use this minute against a usual 2: a burst; one fewer use is not.
    expect(names(assessRisk(input, w.settings, b))).toEqual(['velocity']);
    const fewer = { ...b, minuteCount: 9 };
    expect(names(assessRisk(input, w.settings, fewer))).toEqual([]);
  });

  it('keeps a running mean and sample variance of each numeric argument, per action', () => {
    const values = [3, 8, 1, 12, 6.5, 4];
    let b: AgentBaseline = EMPTY_BASELINE;
    for (const amount of values) b = observe(b, use('pay.send', 'account:acme', { amount, note: 'x' }), NOW);
    const stats = b.args['pay.send\u0000amount'];
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1);
    expect(stats?.n).toBe(values.length);
    expect(stats?.mean).toBeCloseTo(mean, 10);
    expect((stats?.m2 ?? 0) / (values.length - 1)).toBeCloseTo(variance, 10);
    // Strings, NaN and infinities are not numbers to learn from.
    b = observe(b, use('pay.send', 'account:acme', { amount: Number.NaN }), NOW);
    b = observe(b, use('pay.send', 'account:acme', { amount: Number.POSITIVE_INFINITY }), NOW);
    b = observe(b, use('pay.send', 'account:acme', { amount: '7' }), NOW);
    expect(b.args['pay.send\u0000amount']?.n).toBe(values.length);
    expect(Object.keys(b.args)).toEqual(['pay.send\u0000amount']);
  });

  describe('caps: past them nothing new is remembered (errs towards novel)', () => {
    const filled = (kind: 'actions' | 'resources', count: number): AgentBaseline => ({
      ...EMPTY_BASELINE,
      [kind]: Object.fromEntries(Array.from({ length: count }, (_, i) => [`${kind}-${i}`, 1])),
    });

    it('500 actions', () => {
      const almost = observe(filled('actions', 499), use('new.one'), NOW);
      expect(almost.actions['new.one']).toBe(1);
      expect(Object.keys(almost.actions)).toHaveLength(500);
      const full = observe(almost, use('one.more'), NOW);
      expect(full.actions['one.more']).toBeUndefined();
      expect(Object.keys(full.actions)).toHaveLength(500);
      // Still novel the next time; what it knew it still knows.
      const w = quietWorld();
      const input = { ...w.input, action: 'one.more', resource: 'mailbox:alice/inbox' };
      expect(names(assessRisk(input, w.settings, full))).toContain('novelty_action');
      expect(names(assessRisk({ ...input, action: 'new.one' }, w.settings, full))).not.toContain(
        'novelty_action',
      );
    });

    it('2000 resources', () => {
      const almost = observe(filled('resources', 1999), use('a.b', 'doc:last'), NOW);
      expect(almost.resources['doc:last']).toBe(1);
      const full = observe(almost, use('a.b', 'doc:more'), NOW);
      expect(full.resources['doc:more']).toBeUndefined();
      expect(Object.keys(full.resources)).toHaveLength(2000);
    });

    it('200 argument statistics; ones already kept go on learning', () => {
      const args = Object.fromEntries(
        Array.from({ length: 200 }, (_, i) => [`a\u0000arg${i}`, { n: 1, mean: 1, m2: 0 }]),
      );
      const full: AgentBaseline = { ...EMPTY_BASELINE, args };
      const next = observe(full, use('a', 'x:y', { arg0: 3, fresh: 5 }), NOW);
      expect(next.args['a\u0000fresh']).toBeUndefined();
      expect(Object.keys(next.args)).toHaveLength(200);
      expect(next.args['a\u0000arg0']).toEqual({ n: 2, mean: 2, m2: 2 });
      const roomy = observe(
        { ...EMPTY_BASELINE, args: { 'a\u0000arg0': { n: 1, mean: 1, m2: 0 } } },
        use('a', 'x:y', { fresh: 5 }),
        NOW,
      );
      expect(roomy.args['a\u0000fresh']).toEqual({ n: 1, mean: 5, m2: 0 });
    });
  });
});

describe('resolveRiskSettings', () => {
  const refuses = (input: Partial<RiskSettings>, field: string) => {
    let error: unknown;
    try {
      resolveRiskSettings(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MandateError);
    expect(error).toMatchObject({ code: 'invalid_request', field });
  };
  const hours = (h: Partial<WorkingHours> = {}): WorkingHours => ({
    timeZone: 'Europe/Berlin',
    days: [1, 2, 3, 4, 5],
    start: '09:00',
    end: '17:00',
    ...h,
  });

  it('nothing set: the defaults (approval at 70, deny at 95, no working hours)', () => {
    const resolved = resolveRiskSettings({});
    expect(resolved).toEqual(DEFAULT_RISK_SETTINGS);
    expect(resolved.approvalAt).toBe(70);
    expect(resolved.denyAt).toBe(95);
    expect(resolved).not.toHaveProperty('workingHours');
    expect(resolved.externalActions).not.toBe(DEFAULT_RISK_SETTINGS.externalActions);
  });

  it('weights left out keep their default', () => {
    const resolved = resolveRiskSettings({ weights: { velocity: 0, agent_age: 100 } as never });
    expect(resolved.weights).toEqual({ ...DEFAULT_RISK_SETTINGS.weights, velocity: 0, agent_age: 100 });
  });

  it('refuses an unknown factor, and a weight that is not an integer from 0 to 100', () => {
    refuses({ weights: { novelty: 10 } as never }, 'weights.novelty');
    refuses({ weights: { velocity: 101 } as never }, 'weights.velocity');
    refuses({ weights: { velocity: -1 } as never }, 'weights.velocity');
    refuses({ weights: { velocity: 2.5 } as never }, 'weights.velocity');
    expect(resolveRiskSettings({ weights: { velocity: 0 } as never }).weights.velocity).toBe(0);
    expect(resolveRiskSettings({ weights: { velocity: 100 } as never }).weights.velocity).toBe(100);
  });

  it('thresholds: integers 1–101, approval not above deny (equal is fine; 101 never denies)', () => {
    refuses({ approvalAt: 90, denyAt: 80 }, 'approvalAt');
    refuses({ approvalAt: 96 }, 'approvalAt'); // above the default deny threshold
    refuses({ approvalAt: 0 }, 'approvalAt');
    refuses({ denyAt: 102 }, 'denyAt');
    refuses({ denyAt: 50.5 }, 'denyAt');
    expect(resolveRiskSettings({ approvalAt: 80, denyAt: 80 })).toMatchObject({ approvalAt: 80, denyAt: 80 });
    expect(resolveRiskSettings({ approvalAt: 101, denyAt: 101 })).toMatchObject({
      approvalAt: 101,
      denyAt: 101,
    });
    expect(resolveRiskSettings({ denyAt: 101 })).toMatchObject({ approvalAt: 70, denyAt: 101 });
  });

  it('working hours: an IANA time zone, days 0–6, HH:MM with start before end', () => {
    refuses({ workingHours: hours({ timeZone: 'Mars/Olympus_Mons' }) }, 'workingHours.timeZone');
    refuses({ workingHours: hours({ days: [1, 7] }) }, 'workingHours.days');
    refuses({ workingHours: hours({ days: [-1] }) }, 'workingHours.days');
    refuses({ workingHours: hours({ days: [1.5] }) }, 'workingHours.days');
    // No days at all would make every moment off-hours.
    refuses({ workingHours: hours({ days: [] }) }, 'workingHours.days');
    for (const [start, end] of [
      ['9:00', '17:00'],
      ['24:00', '24:00'],
      ['09:00', '24:01'],
      ['09:60', '17:00'],
      ['09:00', '17'],
      ['17:00', '09:00'],
      ['09:00', '09:00'],
    ])
      refuses({ workingHours: hours({ start, end }) }, 'workingHours');
    // Working until midnight: the end may be 24:00 (exclusive, so 23:59 is inside).
    const late = resolveRiskSettings({ workingHours: hours({ start: '18:00', end: '24:00' }) });
    expect(late.workingHours?.end).toBe('24:00');
    expect(withinHours(late.workingHours as never, new Date('2026-03-02T22:59:00Z'))).toBe(true);
    const ok = resolveRiskSettings({
      workingHours: hours({ days: [5, 1, 3, 1], timeZone: 'America/New_York' }),
    });
    expect(ok.workingHours).toEqual({
      timeZone: 'America/New_York',
      days: [1, 3, 5],
      start: '09:00',
      end: '17:00',
    });
  });

  it('a user’s hours are checked the same way, named by the user', () => {
    refuses({ userHours: { usr_A: hours({ timeZone: 'Nowhere/Town' }) } }, 'userHours.usr_A.timeZone');
    refuses({ userHours: { usr_A: hours({ start: '18:00' }) } }, 'userHours.usr_A');
    expect(resolveRiskSettings({ userHours: { usr_A: hours() } }).userHours).toEqual({ usr_A: hours() });
  });

  it('external actions must be action patterns', () => {
    for (const bad of ['email..send', 'em*ail', 'email.*.send', 'mailbox:alice/*', ''])
      refuses({ externalActions: [bad] }, 'externalActions');
    expect(resolveRiskSettings({ externalActions: ['doc.*', 'ftp.put', '*'] }).externalActions).toEqual([
      'doc.*',
      'ftp.put',
      '*',
    ]);
    expect(resolveRiskSettings({ externalActions: [] }).externalActions).toEqual([]);
  });
});
