import { type DataClass, patternMatches } from '@mandate/core';
import { type AgentBaseline, usesThisMinute } from './baseline.js';
import type { RiskFactorName, RiskSettings, WorkingHours } from './settings.js';

/** One factor that counted: its name, what it added, and why (for the record and explain). */
export interface RiskFactor {
  name: RiskFactorName;
  contribution: number;
  detail: string;
}

export interface RiskAssessment {
  /** 0–100: the sum of the contributions, capped. */
  score: number;
  factors: RiskFactor[];
}

export interface RiskInput {
  action: string;
  /** `type:id`, as scope patterns name it. */
  resource: string;
  dataClass: DataClass;
  /** 0 for a root delegation; each re-delegation adds one. */
  depth: number;
  args?: Record<string, unknown>;
  /** The enforcement point says the agent has read untrusted content in this task. */
  untrustedInput: boolean;
  agentCreatedAt: string;
  rootUserId?: string;
  now: Date;
}

const SENSITIVITY: Record<DataClass, number> = { public: 0, internal: 0.2, confidential: 0.6, restricted: 1 };
/** A burst is this many times the agent's usual busy minute, and at least this many uses. */
const VELOCITY_FACTOR = 3;
const VELOCITY_FLOOR = 10;
/** Minutes of history before velocity is judged at all. */
const VELOCITY_HISTORY = 5;
/** Observations of an argument before outliers are judged, and how far out is an outlier. */
const OUTLIER_HISTORY = 5;
const OUTLIER_SIGMAS = 3;
const DAY_MS = 86_400_000;

/**
 * The risk of one action, deterministic and explainable: each factor that applies adds up to its
 * weight, with a detail saying why; the score is the sum, capped at 100. Pure: the same input,
 * settings and baseline always give the same assessment.
 */
export function assessRisk(
  input: RiskInput,
  settings: RiskSettings,
  baseline: AgentBaseline,
): RiskAssessment {
  const w = settings.weights;
  const factors: RiskFactor[] = [];
  const add = (name: RiskFactorName, share: number, detail: string) => {
    const contribution = Math.round(w[name] * Math.min(1, Math.max(0, share)));
    if (contribution > 0) factors.push({ name, contribution, detail });
  };

  if (!baseline.actions[input.action]) add('novelty_action', 1, `first ${input.action} by this agent`);
  if (!baseline.resources[input.resource])
    add('novelty_resource', 1, `first use of ${input.resource} by this agent`);

  const thisMinute = usesThisMinute(baseline, input.now) + 1;
  if (
    baseline.minutes >= VELOCITY_HISTORY &&
    thisMinute > Math.max(VELOCITY_FLOOR, VELOCITY_FACTOR * baseline.perMinute)
  )
    add('velocity', 1, `${thisMinute} uses this minute against a usual ${baseline.perMinute.toFixed(1)}`);

  add('data_sensitivity', SENSITIVITY[input.dataClass], `touches ${input.dataClass} data`);
  add('chain_depth', input.depth / 3, `${input.depth} re-delegation(s) from the root user`);

  const hours = (input.rootUserId && settings.userHours?.[input.rootUserId]) || settings.workingHours;
  if (hours && !withinHours(hours, input.now))
    add('off_hours', 1, `outside working hours (${hours.timeZone})`);

  for (const [name, value] of Object.entries(input.args ?? {})) {
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    const stats = baseline.args[`${input.action}\u0000${name}`];
    if (!stats || stats.n < OUTLIER_HISTORY) continue;
    const sigma = Math.sqrt(stats.m2 / (stats.n - 1));
    const far =
      sigma > 0
        ? Math.abs(value - stats.mean) > OUTLIER_SIGMAS * sigma
        : Math.abs(value - stats.mean) > Math.max(1, Math.abs(stats.mean));
    if (far) {
      add('argument_outlier', 1, `${name}=${value} is far from its usual ${stats.mean.toPrecision(4)}`);
      break;
    }
  }

  if (input.untrustedInput && settings.externalActions.some((p) => patternMatches(p, input.action)))
    add('untrusted_external', 1, `untrusted content reached ${input.action}, an action with external effect`);

  const age = input.now.getTime() - Date.parse(input.agentCreatedAt);
  if (age < DAY_MS) add('agent_age', 1, 'the agent is less than a day old');
  else if (age < 7 * DAY_MS) add('agent_age', 0.5, 'the agent is less than a week old');

  const score = Math.min(
    100,
    factors.reduce((sum, f) => sum + f.contribution, 0),
  );
  return { score, factors };
}

/** Is `now` within these working hours, in their time zone? */
export function withinHours(hours: WorkingHours, now: Date): boolean {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: hours.timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday'));
  const time = `${get('hour')}:${get('minute')}`;
  return hours.days.includes(day) && time >= hours.start && time < hours.end;
}
