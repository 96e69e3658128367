import { isId, newId } from '@mandate/core';
import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import { invalid, MandateError, notFound } from '../errors.js';
import type { Page, PageRequest } from '../ports/store.js';
import { activeLocks, type KillSwitchLock, type LockScope, MAX_ACTIVE_LOCKS } from './locks.js';

export interface LockInput {
  scope: LockScope;
  /** The owner's user id or the agent id; for `org`, absent or the caller's org. */
  targetId?: string;
  reason: string;
}

const MAX_REASON = 500;

/**
 * The emergency stop. A lock takes effect for every decision, token exchange and introspection
 * from the moment `lock` returns (decisions re-check the locks inside the transaction that
 * records them), and stays until someone releases it by its id. Both are audited.
 */
export class KillSwitchService {
  constructor(private readonly ctx: EngineContext) {}

  async lock(principal: OrgPrincipal, input: LockInput): Promise<{ lock: KillSwitchLock; created: boolean }> {
    requirePermission(principal, 'killswitch.lock');
    const reason = checkReason(input.reason);
    const targetId = await this.target(principal, input);
    const org = this.ctx.store.org(principal.orgId);
    return org.transact(async (tx) => {
      const active = await activeLocks(tx);
      // Locking what is already locked changes nothing: the caller gets the lock in force.
      const existing = active.find((l) => l.scope === input.scope && l.targetId === targetId);
      if (existing) return { lock: existing, created: false };
      if (active.length >= MAX_ACTIVE_LOCKS)
        throw new MandateError(
          'conflict',
          `at most ${MAX_ACTIVE_LOCKS} locks can be in force; lock the org instead`,
        );
      const lock: KillSwitchLock = {
        id: newId('lock', this.ctx.clock.now().getTime()),
        scope: input.scope,
        targetId,
        reason,
        lockedBy: principal.actor,
        lockedAt: this.ctx.clock.now().toISOString(),
      };
      await tx.putDocument('lock', { id: lock.id, tag: 'active', doc: lock });
      await this.ctx.audit.append(tx, {
        type: 'killswitch.locked',
        actor: principal.actor,
        target: { type: 'lock', id: lock.id },
        refs: {
          ...(lock.scope === 'agent' ? { agentId: targetId } : {}),
          ...(lock.scope === 'owner' ? { userId: targetId } : {}),
        },
        after: { scope: lock.scope, targetId },
        reason,
      });
      return { lock, created: true };
    });
  }

  async release(principal: OrgPrincipal, lockId: string, input: { reason: string }): Promise<KillSwitchLock> {
    requirePermission(principal, 'killswitch.release');
    const reason = checkReason(input.reason);
    if (!isId('lock', lockId)) throw notFound('lock');
    return this.ctx.store.org(principal.orgId).transact(async (tx) => {
      const stored = await tx.getDocument<KillSwitchLock>('lock', lockId);
      if (!stored) throw notFound('lock');
      if (stored.tag !== 'active')
        throw new MandateError('illegal_transition', 'the lock was already released');
      const released: KillSwitchLock = {
        ...stored.doc,
        releasedAt: this.ctx.clock.now().toISOString(),
        releasedBy: principal.actor,
        releaseReason: reason,
      };
      await tx.putDocument('lock', { id: lockId, tag: 'released', doc: released });
      await this.ctx.audit.append(tx, {
        type: 'killswitch.released',
        actor: principal.actor,
        target: { type: 'lock', id: lockId },
        before: { scope: stored.doc.scope, targetId: stored.doc.targetId },
        reason,
      });
      return released;
    });
  }

  /** Locks in force, or all locks (newest last) with `all`. */
  async list(
    principal: OrgPrincipal,
    options: { all?: boolean },
    page: PageRequest,
  ): Promise<Page<KillSwitchLock>> {
    requirePermission(principal, 'killswitch.read');
    const docs = await this.ctx.store
      .org(principal.orgId)
      .listDocuments<KillSwitchLock>('lock', options.all ? undefined : 'active', page);
    return {
      items: docs.items.map((d) => d.doc),
      ...(docs.nextCursor ? { nextCursor: docs.nextCursor } : {}),
    };
  }

  async get(principal: OrgPrincipal, lockId: string): Promise<KillSwitchLock> {
    requirePermission(principal, 'killswitch.read');
    if (!isId('lock', lockId)) throw notFound('lock');
    const stored = await this.ctx.store.org(principal.orgId).getDocument<KillSwitchLock>('lock', lockId);
    if (!stored) throw notFound('lock');
    return stored.doc;
  }

  /** The target must exist in the caller's org: a lock on nothing would stop nothing, silently. */
  private async target(principal: OrgPrincipal, input: LockInput): Promise<string> {
    const org = this.ctx.store.org(principal.orgId);
    switch (input.scope) {
      case 'org':
        if (input.targetId !== undefined && input.targetId !== principal.orgId)
          throw invalid('targetId', 'an org lock can only name the caller’s own org');
        return principal.orgId;
      case 'owner':
        if (!isId('user', input.targetId) || !(await org.getUser(input.targetId)))
          throw invalid('targetId', 'no such user in this org');
        return input.targetId;
      case 'agent':
        if (!isId('agent', input.targetId) || !(await org.getAgent(input.targetId)))
          throw invalid('targetId', 'no such agent in this org');
        return input.targetId;
      default:
        throw invalid('scope', 'must be org, owner or agent');
    }
  }
}

function checkReason(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim() === '') throw invalid('reason', 'a reason is required');
  if (reason.length > MAX_REASON) throw invalid('reason', `at most ${MAX_REASON} characters`);
  return reason.trim();
}
