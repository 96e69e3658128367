import {
  type Actor,
  type Agent,
  attenuate,
  type Delegation,
  type DelegationView,
  effectiveAgentStatus,
  newId,
  type RequestedScope,
  type Scope,
  scopeProblems,
} from '@mandate/core';
import { hasPermission, requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import { invalid, MandateError, notFound } from '../errors.js';
import type { DelegationFilter, OrgTransaction, Page, PageRequest } from '../ports/store.js';
import { chainLiveness, type Liveness } from './liveness.js';

export interface GrantInput {
  delegateAgentId: string;
  purpose: string;
  scope: RequestedScope & Pick<Scope, 'actions' | 'resources' | 'expiresAt'>;
  /** An admin records a grant for this user; a user granting in person leaves it out. */
  onBehalfOf?: string;
  /** A standing grant the agent acts on autonomously; only its owner may give one. */
  standing?: boolean;
  /** Who besides the root user may approve this chain's actions: `usr_…` ids and `role:<role>`. */
  approvers?: string[];
}

export interface RedelegateInput {
  delegateAgentId: string;
  purpose: string;
  scope: RequestedScope;
}

/** How the re-delegating agent proved itself: the scope its credential carries caps the grant. */
export interface RedelegateOptions {
  /** The effective scope of the access token the agent presented (within the parent). */
  credentialScope?: Scope;
}

export type { DelegationView };

/** The ceiling an agent's boundaries set, as a scope every grant to it must fit inside. */
export function boundaryScope(agent: Agent): Scope {
  const scope: Scope = {
    actions: agent.boundaries.actions,
    resources: agent.boundaries.resources,
    dataClass: agent.boundaries.maxDataClass,
    expiresAt: agent.expiresAt,
    maxDepth: agent.boundaries.maxDelegationDepth,
  };
  if (agent.environments.length > 0) scope.environments = agent.environments;
  return scope;
}

/**
 * Delegations: a human grants an agent part of their authority; an agent passes a narrower
 * part of its own delegation on. Every grant fits the delegate's boundaries and, for a
 * re-delegation, its parent (core `attenuate`); revoking one revokes its whole subtree.
 */
export class DelegationService {
  constructor(private readonly ctx: EngineContext) {}

  async grant(principal: OrgPrincipal, input: GrantInput): Promise<DelegationView> {
    const rootUserId = this.rootUserFor(principal, input.onBehalfOf);
    const now = this.ctx.clock.now();
    const delegation = await this.ctx.store.org(principal.orgId).transact(async (tx) => {
      const root = await tx.getUser(rootUserId);
      if (root?.status !== 'active') throw invalid('onBehalfOf', 'no active user with this id in the org');
      const agent = await this.activeAgent(tx, input.delegateAgentId, now);
      checkWindow(input.scope, now);
      if (input.standing && agent.ownerId !== rootUserId)
        throw invalid('standing', "only the agent's owner can give it a standing delegation");
      const fitted = attenuate(boundaryScope(agent), input.scope, { redelegation: false });
      if (!fitted.ok) throw widened(fitted.widenings, "the delegate's boundaries");
      const id = newId('delegation');
      const record: Delegation = {
        id,
        orgId: principal.orgId,
        rootUserId,
        delegator: { kind: 'user', id: rootUserId },
        delegateAgentId: agent.id,
        purpose: input.purpose,
        scope: fitted.scope,
        ...(input.standing ? { standing: true as const } : {}),
        ...(input.approvers?.length ? { approvers: [...new Set(input.approvers)] } : {}),
        depth: 0,
        chain: [id],
        status: 'active',
        createdAt: now.toISOString(),
        createdBy: principal.actor,
        version: 1,
      };
      await tx.insertDelegation(record);
      await this.record(tx, principal.actor, 'delegation.granted', record, undefined, record);
      return record;
    });
    return this.viewLive(orgIdOf(delegation), delegation);
  }

  /**
   * An agent passes part of its delegation to another agent. Called with the acting agent's
   * identity as established by its credential (the token endpoint wires this).
   */
  async redelegate(
    orgId: string,
    actingAgentId: string,
    parentId: string,
    input: RedelegateInput,
    options: RedelegateOptions = {},
  ): Promise<DelegationView> {
    const now = this.ctx.clock.now();
    const actor: Actor = { kind: 'agent', id: actingAgentId };
    if (typeof input.purpose !== 'string' || input.purpose.trim().length === 0)
      throw invalid('purpose', 'is required');
    const problems = scopeProblems(input.scope);
    if (problems.length > 0) throw new MandateError('invalid_request', problems.join('; '), 'scope');
    const delegation = await this.ctx.store.org(orgId).transact(async (tx) => {
      const parent = await tx.getDelegation(parentId);
      if (!parent || parent.delegateAgentId !== actingAgentId) throw notFound('delegation');
      const live = await chainLiveness(tx, parentId, now);
      if (!live.live)
        throw new MandateError('conflict', `the parent delegation is not usable: ${live.detail}`);
      if (input.delegateAgentId === actingAgentId)
        throw invalid('delegateAgentId', 'an agent cannot re-delegate to itself');
      const agent = await this.activeAgent(tx, input.delegateAgentId, now);
      checkWindow(input.scope, now);
      // Standing (autonomous) grants are not handed on: their chains have no human root to name.
      if (live.delegations[0]?.standing)
        throw new MandateError('conflict', 'a standing delegation cannot be re-delegated');
      // The ceiling is what the agent's credential carries, which is never more than the parent
      // (checked again here); without a credential, the parent itself.
      let ceiling = parent.scope;
      if (options.credentialScope) {
        if (!attenuate(parent.scope, options.credentialScope, { redelegation: false }).ok)
          throw new MandateError('forbidden', "the credential's scope is not within its delegation");
        ceiling = options.credentialScope;
      }
      const narrowed = attenuate(ceiling, input.scope, { redelegation: true });
      if (!narrowed.ok)
        throw widened(
          narrowed.widenings,
          options.credentialScope ? "the agent's credential" : 'the parent delegation',
        );
      const fitted = attenuate(boundaryScope(agent), narrowed.scope, { redelegation: false });
      if (!fitted.ok) throw widened(fitted.widenings, "the delegate's boundaries");
      const id = newId('delegation');
      const record: Delegation = {
        id,
        orgId,
        parentId,
        rootUserId: parent.rootUserId,
        delegator: { kind: 'agent', id: actingAgentId },
        delegateAgentId: agent.id,
        purpose: input.purpose,
        scope: fitted.scope,
        depth: parent.depth + 1,
        chain: [...parent.chain, id],
        status: 'active',
        createdAt: now.toISOString(),
        createdBy: actor,
        version: 1,
      };
      await tx.insertDelegation(record);
      await this.record(tx, actor, 'delegation.granted', record, undefined, record);
      return record;
    });
    return this.viewLive(orgIdOf(delegation), delegation);
  }

  async get(principal: OrgPrincipal, delegationId: string): Promise<DelegationView> {
    this.requireReader(principal);
    const org = this.ctx.store.org(principal.orgId);
    const delegation = await org.getDelegation(delegationId);
    if (!delegation || !this.mayRead(principal, delegation)) throw notFound('delegation');
    const live = await chainLiveness(org, delegationId, this.ctx.clock.now());
    return this.view(delegation, live.live, live.live ? undefined : `${live.reason}: ${live.detail}`);
  }

  async list(
    principal: OrgPrincipal,
    filter: DelegationFilter,
    page: PageRequest,
  ): Promise<Page<DelegationView>> {
    if (!hasPermission(principal, 'delegations.read')) {
      this.requireReader(principal);
      if (filter.rootUserId !== undefined && filter.rootUserId !== principal.userId) {
        throw new MandateError('forbidden', 'you may list only the delegations made in your name');
      }
      filter = { ...filter, rootUserId: principal.userId };
    }
    const org = this.ctx.store.org(principal.orgId);
    const result = await org.listDelegations(filter, page);
    const now = this.ctx.clock.now();
    const items: DelegationView[] = [];
    for (const d of result.items) {
      const live = await chainLiveness(org, d.id, now);
      items.push(this.view(d, live.live, live.live ? undefined : live.reason));
    }
    return { ...result, items };
  }

  /** The delegation and everything granted below it, parents first. */
  async tree(principal: OrgPrincipal, delegationId: string): Promise<DelegationView[]> {
    await this.get(principal, delegationId);
    const subtree = await this.ctx.store.org(principal.orgId).listDelegationSubtree(delegationId);
    const views: DelegationView[] = [];
    for (const d of subtree) views.push(await this.viewLive(principal.orgId, d));
    return views;
  }

  /** Revokes the delegation and its whole subtree: one audited event. */
  async revoke(principal: OrgPrincipal, delegationId: string, reason: string): Promise<DelegationView[]> {
    // Refuse before reading anything when the caller could never revoke (no oracle on ids).
    if (!hasPermission(principal, 'delegations.revoke') && !this.inPerson(principal)) {
      requirePermission(principal, 'delegations.revoke');
    }
    return this.ctx.store.org(principal.orgId).transact(async (tx) => {
      const target = await tx.getDelegation(delegationId);
      if (!target || !this.mayRead(principal, target)) throw notFound('delegation');
      const mayRevoke =
        hasPermission(principal, 'delegations.revoke') ||
        (this.inPerson(principal) && principal.userId === target.rootUserId);
      if (!mayRevoke)
        throw new MandateError('forbidden', 'only an admin or the root user may revoke a delegation');
      if (target.status === 'revoked')
        throw new MandateError('illegal_transition', 'the delegation is already revoked');
      const revoked = await revokeSubtree(tx, delegationId, principal.actor, reason, this.ctx.clock.now());
      await this.ctx.audit.append(tx, {
        type: 'delegation.revoked',
        actor: principal.actor,
        target: { type: 'delegation', id: delegationId },
        refs: { delegationId, agentId: target.delegateAgentId, userId: target.rootUserId },
        after: { revoked: revoked.map((d) => d.id) },
        reason,
      });
      return revoked.map((d) => this.view(d, false));
    });
  }

  private rootUserFor(principal: OrgPrincipal, onBehalfOf: string | undefined): string {
    if (this.inPerson(principal) && (onBehalfOf === undefined || onBehalfOf === principal.userId)) {
      return principal.userId as string;
    }
    requirePermission(principal, 'delegations.grantForUser');
    if (!onBehalfOf) throw invalid('onBehalfOf', 'an admin records a grant for a named user');
    return onBehalfOf;
  }

  /** Readers hold the permission, or are users in person (who see only their own). */
  private requireReader(principal: OrgPrincipal): void {
    if (!hasPermission(principal, 'delegations.read') && !this.inPerson(principal)) {
      requirePermission(principal, 'delegations.read');
    }
  }

  private async viewLive(orgId: string, delegation: Delegation): Promise<DelegationView> {
    const live = await chainLiveness(this.ctx.store.org(orgId), delegation.id, this.ctx.clock.now());
    return this.view(delegation, live.live, live.live ? undefined : `${live.reason}: ${live.detail}`);
  }

  private inPerson(principal: OrgPrincipal): boolean {
    return principal.actor.kind === 'user' && principal.userId !== undefined;
  }

  private mayRead(principal: OrgPrincipal, delegation: Delegation): boolean {
    return (
      hasPermission(principal, 'delegations.read') ||
      (this.inPerson(principal) && principal.userId === delegation.rootUserId)
    );
  }

  private async activeAgent(tx: OrgTransaction, agentId: string, now: Date): Promise<Agent> {
    const agent = await tx.getAgent(agentId);
    if (!agent) throw invalid('delegateAgentId', 'no agent with this id in the org');
    const status = effectiveAgentStatus(agent, now);
    if (status !== 'active')
      throw new MandateError('conflict', `the delegate agent is ${status}, not active`);
    return agent;
  }

  private async record(
    tx: OrgTransaction,
    actor: Actor,
    type: string,
    delegation: Delegation,
    before: Delegation | undefined,
    after: Delegation,
  ): Promise<void> {
    await this.ctx.audit.append(tx, {
      type,
      actor,
      target: { type: 'delegation', id: delegation.id },
      refs: {
        delegationId: delegation.id,
        agentId: delegation.delegateAgentId,
        userId: delegation.rootUserId,
      },
      before: before ? strip(before) : undefined,
      after: strip(after),
    });
  }

  private view(delegation: Delegation, live: boolean, liveness?: string): DelegationView {
    return { ...strip(delegation), live, ...(liveness ? { liveness } : {}) };
  }
}

const strip = (d: Delegation): Omit<Delegation, 'version'> => {
  const { version: _version, ...rest } = d;
  return rest;
};

const orgIdOf = (delegation: Delegation) => delegation.orgId;

/** A grant must end in the future and not start after it ends. */
function checkWindow(scope: RequestedScope, now: Date): void {
  if (scope.expiresAt !== undefined && !(Date.parse(scope.expiresAt) > now.getTime())) {
    throw invalid('scope.expiresAt', 'must be in the future');
  }
  const start = scope.notBefore === undefined ? undefined : Date.parse(scope.notBefore);
  if (start !== undefined && scope.expiresAt !== undefined && !(start < Date.parse(scope.expiresAt))) {
    throw invalid('scope.notBefore', 'must be before expiresAt');
  }
}

function widened(widenings: Array<{ dimension: string; detail: string }>, against: string): MandateError {
  const list = widenings.map((w) => `${w.dimension} (${w.detail})`).join('; ');
  return new MandateError('invalid_request', `scope: wider than ${against}: ${list}`, 'scope');
}

/** Revokes every active delegation in the subtree rooted at `delegationId`; returns them. */
export async function revokeSubtree(
  tx: OrgTransaction,
  delegationId: string,
  actor: Actor,
  reason: string,
  now: Date,
): Promise<Delegation[]> {
  const revoked: Delegation[] = [];
  for (const d of await tx.listDelegationSubtree(delegationId)) {
    if (d.status === 'revoked') continue;
    const next: Delegation = {
      ...d,
      status: 'revoked',
      revokedAt: now.toISOString(),
      revokedBy: actor,
      revokedReason: reason,
      version: d.version + 1,
    };
    await tx.updateDelegation(next, d.version);
    revoked.push(next);
  }
  return revoked;
}
