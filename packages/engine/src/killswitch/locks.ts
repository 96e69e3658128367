import type { Actor, Agent, ReasonCode } from '@mandate/core';
import type { OrgReader } from '../ports/store.js';

/** What a kill-switch lock stops: the whole org, every agent of one owner, or one agent. */
export type LockScope = 'org' | 'owner' | 'agent';

export interface KillSwitchLock {
  id: string;
  scope: LockScope;
  /** The org id, the owner's user id, or the agent id. */
  targetId: string;
  reason: string;
  lockedBy: Actor;
  lockedAt: string;
  releasedAt?: string;
  releasedBy?: Actor;
  releaseReason?: string;
}

/** More active locks than this in one org is refused: the check reads them all on every decision. */
export const MAX_ACTIVE_LOCKS = 1000;

/** The org's locks in force (documents of kind `lock` tagged `active`). */
export async function activeLocks(org: OrgReader): Promise<KillSwitchLock[]> {
  const page = await org.listDocuments<KillSwitchLock>('lock', 'active', { limit: MAX_ACTIVE_LOCKS });
  // Fail closed: a lock this read could not see must not let anything through.
  if (page.nextCursor !== undefined) throw new Error('more active kill-switch locks than can be checked');
  return page.items.map((d) => d.doc);
}

export interface LockVerdict {
  reason: ReasonCode;
  detail: string;
  lockId: string;
}

/**
 * Does any lock stop this org or one of these agents (each agent of a chain, and each one's
 * owner)? An org lock is `org_locked`; a lock on an agent or its owner makes the agent count as
 * suspended (`agent_suspended`), whatever its stored status.
 */
export function lockVerdict(
  locks: readonly KillSwitchLock[],
  orgId: string,
  agents: readonly Pick<Agent, 'id' | 'ownerId'>[],
): LockVerdict | undefined {
  for (const lock of locks) {
    if (lock.scope === 'org' && lock.targetId === orgId)
      return { reason: 'org_locked', detail: `the org is locked: ${lock.reason}`, lockId: lock.id };
  }
  for (const agent of agents) {
    for (const lock of locks) {
      const hit =
        (lock.scope === 'agent' && lock.targetId === agent.id) ||
        (lock.scope === 'owner' && lock.targetId === agent.ownerId);
      if (hit)
        return {
          reason: 'agent_suspended',
          detail: `agent ${agent.id} is locked by the kill switch: ${lock.reason}`,
          lockId: lock.id,
        };
    }
  }
  return undefined;
}
