/**
 * What Mandate has seen an agent do (document `baseline`, id = the agent): the actions and
 * resources it was allowed before, its rate per minute as a moving average, and running mean and
 * variance (Welford) of each numeric argument per action. Updated when an allowed decision is
 * recorded, in the same transaction. Bounded: past the caps nothing new is remembered, so a
 * busy agent errs towards "novel" (more risk), never towards forgetting what it did.
 */
export interface AgentBaseline {
  actions: Record<string, 1>;
  resources: Record<string, 1>;
  /** The minute (epoch ms / 60,000) `minuteCount` counts, and how many minutes were folded in. */
  minute: number;
  minuteCount: number;
  /** Exponential moving average of uses per active minute. */
  perMinute: number;
  minutes: number;
  /** `action\u0000argument` → running statistics. */
  args: Record<string, { n: number; mean: number; m2: number }>;
}

export const EMPTY_BASELINE: AgentBaseline = {
  actions: {},
  resources: {},
  minute: 0,
  minuteCount: 0,
  perMinute: 0,
  minutes: 0,
  args: {},
};

const MAX_ACTIONS = 500;
const MAX_RESOURCES = 2000;
const MAX_ARGS = 200;
const ALPHA = 0.2;

export const minuteOf = (now: Date) => Math.floor(now.getTime() / 60_000);

/** Uses in the current minute (0 if the stored minute is over). */
export const usesThisMinute = (b: AgentBaseline, now: Date) =>
  b.minute === minuteOf(now) ? b.minuteCount : 0;

/** The baseline after one more allowed use. Pure. */
export function observe(
  b: AgentBaseline,
  use: { action: string; resource: string; args?: Record<string, unknown> },
  now: Date,
): AgentBaseline {
  const next: AgentBaseline = structuredClone(b);
  if (!next.actions[use.action] && Object.keys(next.actions).length < MAX_ACTIONS)
    next.actions[use.action] = 1;
  if (!next.resources[use.resource] && Object.keys(next.resources).length < MAX_RESOURCES)
    next.resources[use.resource] = 1;
  const minute = minuteOf(now);
  if (minute !== next.minute) {
    // The finished minute goes into the average (minutes without any use are not counted:
    // the average is of busy minutes, which is what a burst is compared with).
    if (next.minuteCount > 0) {
      next.perMinute =
        next.minutes === 0 ? next.minuteCount : ALPHA * next.minuteCount + (1 - ALPHA) * next.perMinute;
      next.minutes++;
    }
    next.minute = minute;
    next.minuteCount = 0;
  }
  next.minuteCount++;
  for (const [name, value] of Object.entries(use.args ?? {})) {
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    const key = `${use.action}\u0000${name}`;
    const stats = next.args[key];
    if (!stats && Object.keys(next.args).length >= MAX_ARGS) continue;
    const s = stats ?? { n: 0, mean: 0, m2: 0 };
    const n = s.n + 1;
    const delta = value - s.mean;
    const mean = s.mean + delta / n;
    next.args[key] = { n, mean, m2: s.m2 + delta * (value - mean) };
  }
  return next;
}
