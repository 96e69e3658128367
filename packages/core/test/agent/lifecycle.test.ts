import {
  AGENT_STATUSES,
  type AgentStatus,
  effectiveAgentStatus,
  LIFECYCLE_COMMANDS,
  type LifecycleCommand,
  planTransition,
  type StoredAgentStatus,
} from '@mandate/core';
import { describe, expect, it } from 'vitest';

const NOW = new Date('2030-06-15T12:00:00.000Z');
const FUTURE = '2031-01-01T00:00:00.000Z';
const PAST = '2030-01-01T00:00:00.000Z';

/**
 * The legal transitions, written out independently of src/agent/lifecycle.ts: for each command, the
 * effective statuses it is legal from and the stored status it leads to ('keep': the stored status stays).
 */
const EXPECTED: Record<LifecycleCommand, Partial<Record<AgentStatus, StoredAgentStatus | 'keep'>>> = {
  activate: { pending: 'active' },
  suspend: { active: 'suspended' },
  resume: { suspended: 'active' },
  revoke: { pending: 'revoked', active: 'revoked', suspended: 'revoked', expired: 'revoked' },
  renew: { pending: 'keep', active: 'keep', suspended: 'keep', expired: 'keep' },
};

/** Agents covering every effective status; an expired agent can have any unrevoked stored status. */
const AGENTS: { effective: AgentStatus; status: StoredAgentStatus; expiresAt: string }[] = [
  { effective: 'pending', status: 'pending', expiresAt: FUTURE },
  { effective: 'active', status: 'active', expiresAt: FUTURE },
  { effective: 'suspended', status: 'suspended', expiresAt: FUTURE },
  { effective: 'revoked', status: 'revoked', expiresAt: FUTURE },
  { effective: 'revoked', status: 'revoked', expiresAt: PAST },
  { effective: 'expired', status: 'pending', expiresAt: PAST },
  { effective: 'expired', status: 'active', expiresAt: PAST },
  { effective: 'expired', status: 'suspended', expiresAt: PAST },
];

const CASES = LIFECYCLE_COMMANDS.flatMap((command) =>
  AGENTS.map((agent) => ({ command, ...agent, outcome: EXPECTED[command][agent.effective] })),
);

describe('planTransition', () => {
  it('covers every command and every status', () => {
    expect([...LIFECYCLE_COMMANDS].sort()).toEqual(Object.keys(EXPECTED).sort());
    expect([...AGENT_STATUSES].sort()).toEqual(['active', 'expired', 'pending', 'revoked', 'suspended']);
    expect(new Set(AGENTS.map((a) => a.effective))).toEqual(new Set(AGENT_STATUSES));
  });

  it.each(CASES.filter((c) => c.outcome !== undefined))(
    '$command is legal from $effective (stored $status, expires $expiresAt)',
    ({ command, effective, status, expiresAt, outcome }) => {
      const result = planTransition({ status, expiresAt }, command, NOW);
      expect(result).toEqual({ ok: true, from: effective, to: outcome === 'keep' ? status : outcome });
    },
  );

  it.each(CASES.filter((c) => c.outcome === undefined))(
    '$command is refused from $effective (stored $status, expires $expiresAt)',
    ({ command, effective, status, expiresAt }) => {
      const result = planTransition({ status, expiresAt }, command, NOW);
      const legalFrom = Object.keys(EXPECTED[command]).sort();
      expect(result.ok).toBe(false);
      expect(result.from).toBe(effective);
      expect(result.ok === false && [...result.allowedFrom].sort()).toEqual(legalFrom);
    },
  );

  it('treats an agent whose expiry is exactly now as expired', () => {
    const agent = { status: 'suspended' as const, expiresAt: NOW.toISOString() };
    expect(planTransition(agent, 'resume', NOW)).toMatchObject({ ok: false, from: 'expired' });
    expect(planTransition(agent, 'renew', NOW)).toEqual({ ok: true, from: 'expired', to: 'suspended' });
  });

  it('does not modify the agent it is given', () => {
    const agent = Object.freeze({ status: 'active' as const, expiresAt: FUTURE });
    planTransition(agent, 'suspend', NOW);
    expect(agent).toEqual({ status: 'active', expiresAt: FUTURE });
  });
});

describe('effectiveAgentStatus', () => {
  it.each(['pending', 'active', 'suspended', 'revoked'] as const)(
    'is the stored status %s before expiry',
    (status) => {
      expect(effectiveAgentStatus({ status, expiresAt: FUTURE }, NOW)).toBe(status);
    },
  );

  it.each(['pending', 'active', 'suspended'] as const)(
    'is expired for a %s agent past its expiry',
    (status) => {
      expect(effectiveAgentStatus({ status, expiresAt: PAST }, NOW)).toBe('expired');
    },
  );

  it('keeps revoked when the agent has also expired', () => {
    expect(effectiveAgentStatus({ status: 'revoked', expiresAt: PAST }, NOW)).toBe('revoked');
    expect(effectiveAgentStatus({ status: 'revoked', expiresAt: NOW.toISOString() }, NOW)).toBe('revoked');
  });

  it('counts an expiry exactly at now as expired, and one millisecond later as not', () => {
    const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
    expect(effectiveAgentStatus({ status: 'active', expiresAt: at(0) }, NOW)).toBe('expired');
    expect(effectiveAgentStatus({ status: 'active', expiresAt: at(-1) }, NOW)).toBe('expired');
    expect(effectiveAgentStatus({ status: 'active', expiresAt: at(1) }, NOW)).toBe('active');
  });

  it('compares instants, not strings, when the expiry has a time-zone offset', () => {
    // 13:30+02:00 is 11:30Z, before NOW (12:00Z), although it reads as later.
    expect(effectiveAgentStatus({ status: 'active', expiresAt: '2030-06-15T13:30:00+02:00' }, NOW)).toBe(
      'expired',
    );
    // 11:30-02:00 is 13:30Z, after NOW.
    expect(effectiveAgentStatus({ status: 'active', expiresAt: '2030-06-15T11:30:00-02:00' }, NOW)).toBe(
      'active',
    );
  });
});

describe('effectiveAgentStatus: an unreadable expiry', () => {
  it('counts as passed (fail closed)', () => {
    expect(effectiveAgentStatus({ status: 'active', expiresAt: 'not a date' }, new Date())).toBe('expired');
  });
});
