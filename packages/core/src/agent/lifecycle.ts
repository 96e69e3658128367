import { type Agent, type AgentStatus, effectiveAgentStatus, type StoredAgentStatus } from './agent.js';

/**
 * The agent lifecycle as a table: which command is legal from which (effective) status,
 * and what it leads to. `renew` keeps the stored status: renewing an expired agent makes it
 * active again only if it was active; a suspension or a pending activation survives renewal.
 *
 *   pending ──activate──▶ active ⇄ (suspend / resume) ⇄ suspended
 *   any but revoked ──revoke──▶ revoked (final)
 *   past expiresAt ──▶ expired (derived) ──renew──▶ previous status
 */
export const LIFECYCLE_COMMANDS = ['activate', 'suspend', 'resume', 'revoke', 'renew'] as const;
export type LifecycleCommand = (typeof LIFECYCLE_COMMANDS)[number];

const TRANSITIONS: Record<
  LifecycleCommand,
  { from: readonly AgentStatus[]; to: StoredAgentStatus | 'unchanged' }
> = {
  activate: { from: ['pending'], to: 'active' },
  suspend: { from: ['active'], to: 'suspended' },
  resume: { from: ['suspended'], to: 'active' },
  revoke: { from: ['pending', 'active', 'suspended', 'expired'], to: 'revoked' },
  renew: { from: ['pending', 'active', 'suspended', 'expired'], to: 'unchanged' },
};

export type TransitionResult =
  | { ok: true; from: AgentStatus; to: StoredAgentStatus }
  | { ok: false; from: AgentStatus; allowedFrom: readonly AgentStatus[] };

export function planTransition(
  agent: Pick<Agent, 'status' | 'expiresAt'>,
  command: LifecycleCommand,
  now: Date,
): TransitionResult {
  const rule = TRANSITIONS[command];
  const from = effectiveAgentStatus(agent, now);
  if (!rule.from.includes(from)) return { ok: false, from, allowedFrom: rule.from };
  return { ok: true, from, to: rule.to === 'unchanged' ? agent.status : rule.to };
}
