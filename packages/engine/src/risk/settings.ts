import { isActionPattern } from '@mandate/core';
import { invalid } from '../errors.js';

export const RISK_FACTORS = [
  'novelty_action',
  'novelty_resource',
  'velocity',
  'data_sensitivity',
  'chain_depth',
  'off_hours',
  'argument_outlier',
  'untrusted_external',
  'agent_age',
] as const;
export type RiskFactorName = (typeof RISK_FACTORS)[number];

/** When someone works: days 0 (Sunday) – 6, `HH:MM` start and end, an IANA time zone. */
export interface WorkingHours {
  timeZone: string;
  days: number[];
  start: string;
  end: string;
}

/** An org's risk settings (document `settings`/`risk`); absent fields take the defaults. */
export interface RiskSettings {
  /** The most each factor can add to the score (0 switches a factor off). */
  weights: Record<RiskFactorName, number>;
  /** A score at or above this needs a human's approval. */
  approvalAt: number;
  /** A score at or above this is denied (`risk_too_high`); 101 never denies. */
  denyAt: number;
  /** The org's working hours; absent: no off-hours factor. */
  workingHours?: WorkingHours;
  /** A root user's own working hours, by user id (over the org's). */
  userHours?: Record<string, WorkingHours>;
  /** Action patterns with an external effect (sending, paying, publishing). */
  externalActions: string[];
}

export const DEFAULT_RISK_SETTINGS: RiskSettings = {
  weights: {
    novelty_action: 15,
    novelty_resource: 10,
    velocity: 20,
    data_sensitivity: 25,
    chain_depth: 15,
    off_hours: 15,
    argument_outlier: 20,
    untrusted_external: 70,
    agent_age: 10,
  },
  approvalAt: 70,
  denyAt: 95,
  externalActions: ['email.send', 'http.*', 'pay.*', 'publish.*', 'message.*'],
};

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
/** An end may be 24:00: working until midnight. */
const END = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

function checkHours(field: string, value: WorkingHours): WorkingHours {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value.timeZone });
  } catch {
    throw invalid(`${field}.timeZone`, 'not an IANA time zone');
  }
  if (
    !Array.isArray(value.days) ||
    value.days.length === 0 ||
    value.days.some((d) => !Number.isInteger(d) || d < 0 || d > 6)
  )
    throw invalid(`${field}.days`, 'one or more days, 0 (Sunday) to 6');
  if (!HHMM.test(value.start) || !END.test(value.end) || value.start >= value.end)
    throw invalid(field, 'start and end are HH:MM (end may be 24:00) with start before end');
  return {
    timeZone: value.timeZone,
    days: [...new Set(value.days)].sort(),
    start: value.start,
    end: value.end,
  };
}

/** Checks a settings update (shape already checked by the route) and fills the defaults in. */
export function resolveRiskSettings(input: Partial<RiskSettings>): RiskSettings {
  const weights = { ...DEFAULT_RISK_SETTINGS.weights, ...(input.weights ?? {}) };
  for (const [name, weight] of Object.entries(weights)) {
    if (!(RISK_FACTORS as readonly string[]).includes(name))
      throw invalid(`weights.${name}`, 'unknown factor');
    if (!Number.isInteger(weight) || weight < 0 || weight > 100)
      throw invalid(`weights.${name}`, 'an integer from 0 to 100');
  }
  const approvalAt = input.approvalAt ?? DEFAULT_RISK_SETTINGS.approvalAt;
  const denyAt = input.denyAt ?? DEFAULT_RISK_SETTINGS.denyAt;
  if (!Number.isInteger(approvalAt) || approvalAt < 1 || approvalAt > 101)
    throw invalid('approvalAt', 'an integer from 1 to 101');
  if (!Number.isInteger(denyAt) || denyAt < 1 || denyAt > 101)
    throw invalid('denyAt', 'an integer from 1 to 101');
  if (approvalAt > denyAt) throw invalid('approvalAt', 'must not be above denyAt');
  const externalActions = input.externalActions ?? DEFAULT_RISK_SETTINGS.externalActions;
  for (const pattern of externalActions)
    if (!isActionPattern(pattern)) throw invalid('externalActions', `not an action pattern: ${pattern}`);
  return {
    weights,
    approvalAt,
    denyAt,
    externalActions: [...externalActions],
    ...(input.workingHours ? { workingHours: checkHours('workingHours', input.workingHours) } : {}),
    ...(input.userHours
      ? {
          userHours: Object.fromEntries(
            Object.entries(input.userHours).map(([user, hours]) => [
              user,
              checkHours(`userHours.${user}`, hours),
            ]),
          ),
        }
      : {}),
  };
}
