import type { Actor } from '../agent/agent.js';

/**
 * One record of an org's append-only audit log. `seq` numbers records per org from 0 with no
 * gaps; the canonical (RFC 8785) form of the whole record, `seq` included, is the Merkle leaf
 * the audit log hashes, so reordering or renumbering records is as detectable as editing them.
 */
export interface AuditRecord {
  seq: number;
  orgId: string;
  time: string;
  type: string;
  actor: Actor;
  /** The object the event is about. */
  target: { type: string; id: string };
  /** Ids worth filtering on (agent, user, delegation, decision). */
  refs?: { agentId?: string; userId?: string; delegationId?: string; decisionId?: string };
  before?: unknown;
  after?: unknown;
  reason?: string;
}

/** What a caller appends; the log assigns `seq`, `orgId` and `time`. */
export type AuditEventInput = Omit<AuditRecord, 'seq' | 'orgId' | 'time'>;
