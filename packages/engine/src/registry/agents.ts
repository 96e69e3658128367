import {
  type Agent,
  type AgentBoundaries,
  type AgentKey,
  type AgentMetadata,
  type AgentView,
  effectiveAgentStatus,
  type LifecycleCommand,
  newId,
  planTransition,
  wouldRetireLastKey,
} from '@mandate/core';
import { hasPermission, PERMISSIONS, type Permission, requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import { invalid, MandateError, notFound } from '../errors.js';
import {
  type AgentFilter,
  DuplicateError,
  type OrgTransaction,
  type Page,
  type PageRequest,
} from '../ports/store.js';
import { acceptPublicJwk } from './jwk.js';

const DAY_MS = 86_400_000;
export const DEFAULT_AGENT_LIFETIME_DAYS = 90;
export const MAX_AGENT_LIFETIME_DAYS = 365;
export const MAX_ACTIVE_KEYS = 10;

export interface NewAgent {
  name: string;
  ownerId: string;
  description?: string;
  labels?: string[];
  metadata?: AgentMetadata;
  environments?: string[];
  boundaries: AgentBoundaries;
  expiresAt?: string;
  keys: unknown[];
}

export interface AgentChanges {
  name?: string;
  description?: string;
  labels?: string[];
  metadata?: AgentMetadata;
  environments?: string[];
  boundaries?: AgentBoundaries;
}

/** An agent as the API shows it: the stored record plus its status as of now. */
export type { AgentView };

/**
 * The agent registry: identity, ownership, lifecycle and keys. Every change is one
 * transaction holding the change and its audit record.
 */
export class AgentService {
  constructor(private readonly ctx: EngineContext) {}

  view(agent: Agent): AgentView {
    const { version: _version, ...rest } = agent;
    return { ...rest, status: effectiveAgentStatus(agent, this.ctx.clock.now()) };
  }

  async register(principal: OrgPrincipal, input: NewAgent): Promise<AgentView> {
    requirePermission(principal, 'agents.write');
    const orgStore = this.ctx.store.org(principal.orgId);
    const now = this.ctx.clock.now();
    const expiresAt = this.checkExpiry(input.expiresAt, now, 'expiresAt');
    if (input.keys.length === 0) throw invalid('keys', 'at least one public key is required');
    const keys: AgentKey[] = [];
    for (const [i, candidate] of input.keys.entries()) {
      const { kid, jwk } = await acceptPublicJwk(candidate, `keys[${i}]`);
      if (keys.some((key) => key.kid === kid)) throw invalid(`keys[${i}]`, 'the same key is listed twice');
      keys.push({ kid, jwk, status: 'active', addedAt: now.toISOString() });
    }
    // Registered by its owner: active at once. By anyone else: pending until the owner or an admin activates it.
    const byOwner = principal.userId === input.ownerId;
    const status = byOwner ? 'active' : 'pending';
    const agent: Agent = {
      id: newId('agent'),
      orgId: principal.orgId,
      name: input.name,
      description: input.description ?? '',
      ownerId: input.ownerId,
      status,
      labels: [...new Set(input.labels ?? [])],
      metadata: input.metadata ?? {},
      environments: [...new Set(input.environments ?? [])],
      boundaries: input.boundaries,
      expiresAt,
      keys,
      createdAt: now.toISOString(),
      createdBy: principal.actor,
      updatedAt: now.toISOString(),
      lastStatusChange: {
        status,
        at: now.toISOString(),
        by: principal.actor,
        reason: byOwner ? 'registered by its owner' : 'registered by someone other than its owner',
      },
      version: 1,
    };
    await this.write(
      orgStore.transact(async (tx) => {
        // Checked in the transaction, so the owner cannot be offboarded in between.
        await this.requireActiveUser(tx, input.ownerId);
        await tx.insertAgent(agent);
        await this.record(tx, principal, 'agent.registered', agent.id, undefined, agent);
      }),
    );
    return this.view(agent);
  }

  async get(principal: OrgPrincipal, agentId: string): Promise<AgentView> {
    if (hasPermission(principal, 'agents.read')) return this.view(await this.load(principal.orgId, agentId));
    // A user in person sees their own agents whatever their roles.
    if (!isUserInPerson(principal)) requirePermission(principal, 'agents.read');
    const agent = await this.load(principal.orgId, agentId);
    if (agent.ownerId !== principal.userId) throw notFound('agent');
    return this.view(agent);
  }

  async list(principal: OrgPrincipal, filter: AgentFilter, page: PageRequest): Promise<Page<AgentView>> {
    if (!hasPermission(principal, 'agents.read')) {
      if (!isUserInPerson(principal)) requirePermission(principal, 'agents.read');
      filter = { ...filter, ownerId: principal.userId };
    }
    const result = await this.ctx.store.org(principal.orgId).listAgents(filter, page, this.ctx.clock.now());
    return { ...result, items: result.items.map((agent) => this.view(agent)) };
  }

  async update(principal: OrgPrincipal, agentId: string, changes: AgentChanges): Promise<AgentView> {
    requirePermission(principal, 'agents.write');
    if (changes.boundaries) requirePermission(principal, 'agents.boundaries');
    return this.change(principal, agentId, 'agent.updated', (agent) => {
      if (agent.status === 'revoked')
        throw new MandateError('illegal_transition', 'a revoked agent cannot be changed');
      const next = { ...agent, ...definedOnly(changes) };
      return { ...next, labels: [...new Set(next.labels)], environments: [...new Set(next.environments)] };
    });
  }

  /**
   * activate | suspend | resume | revoke | renew. Who may: operators and admins suspend, resume
   * and renew; activation and revocation need an admin or the agent's owner.
   */
  async transition(
    principal: OrgPrincipal,
    agentId: string,
    command: LifecycleCommand,
    options: { reason?: string; expiresAt?: string } = {},
  ): Promise<AgentView> {
    const rule = WHO_MAY[command];
    this.requireUpfront(principal, rule);
    const type = `agent.${PAST_TENSE[command]}`;
    return this.change(
      principal,
      agentId,
      type,
      (agent, now) => {
        this.requireForAgent(principal, rule, agent, command);
        const plan = planTransition(agent, command, now);
        if (!plan.ok) {
          throw new MandateError(
            'illegal_transition',
            `cannot ${command} an agent that is ${plan.from} (allowed from: ${plan.allowedFrom.join(', ')})`,
          );
        }
        const next: Agent = { ...agent, status: plan.to };
        if (command === 'renew') next.expiresAt = this.checkExpiry(options.expiresAt, now, 'expiresAt');
        if (plan.to !== agent.status || command === 'renew') {
          next.lastStatusChange = {
            status: plan.to,
            at: now.toISOString(),
            by: principal.actor,
            reason: options.reason,
          };
        }
        return next;
      },
      options.reason,
    );
  }

  async addKey(principal: OrgPrincipal, agentId: string, jwk: unknown): Promise<AgentView> {
    // A new key is a new way to act as the agent: only an admin or its owner may add one.
    const rule = { permission: 'agents.addKey', owner: true } as const;
    this.requireUpfront(principal, rule);
    const { kid, jwk: publicJwk } = await acceptPublicJwk(jwk, 'jwk');
    return this.change(principal, agentId, 'agent.key_added', (agent, now) => {
      this.requireForAgent(principal, rule, agent, 'add a key to');
      if (agent.status === 'revoked')
        throw new MandateError('illegal_transition', 'a revoked agent cannot get keys');
      if (agent.keys.some((key) => key.kid === kid))
        throw new MandateError('duplicate', 'the agent already has this key');
      if (agent.keys.filter((key) => key.status === 'active').length >= MAX_ACTIVE_KEYS) {
        throw new MandateError(
          'conflict',
          `an agent holds at most ${MAX_ACTIVE_KEYS} active keys; retire one first`,
        );
      }
      return {
        ...agent,
        keys: [...agent.keys, { kid, jwk: publicJwk, status: 'active', addedAt: now.toISOString() }],
      };
    });
  }

  async retireKey(
    principal: OrgPrincipal,
    agentId: string,
    kid: string,
    reason?: string,
  ): Promise<AgentView> {
    requirePermission(principal, 'agents.write');
    return this.change(
      principal,
      agentId,
      'agent.key_retired',
      (agent, now) => {
        const key = agent.keys.find((candidate) => candidate.kid === kid);
        if (!key) throw notFound('key');
        if (key.status === 'retired')
          throw new MandateError('illegal_transition', 'the key is already retired');
        if (wouldRetireLastKey(agent.keys, kid)) {
          throw new MandateError(
            'last_active_key',
            'an agent must keep at least one active key; add another first',
          );
        }
        return {
          ...agent,
          keys: agent.keys.map((k) =>
            k.kid === kid ? { ...k, status: 'retired', retiredAt: now.toISOString() } : k,
          ),
        };
      },
      reason,
    );
  }

  async transfer(
    principal: OrgPrincipal,
    agentId: string,
    newOwnerId: string,
    reason: string,
  ): Promise<AgentView> {
    requirePermission(principal, 'agents.transfer');
    return this.change(
      principal,
      agentId,
      'agent.owner_transferred',
      async (agent, _now, tx) => {
        await this.requireActiveUser(tx, newOwnerId);
        if (agent.status === 'revoked')
          throw new MandateError('illegal_transition', 'a revoked agent cannot be transferred');
        if (agent.ownerId === newOwnerId)
          throw new MandateError('conflict', 'the user already owns this agent');
        return { ...agent, ownerId: newOwnerId };
      },
      reason,
    );
  }

  /**
   * Records the `expired` transition of agents whose expiry has passed (their status is
   * already `expired` on every read; this puts the moment in the audit log, once).
   */
  async recordExpiries(orgId: string): Promise<number> {
    const orgStore = this.ctx.store.org(orgId);
    const now = this.ctx.clock.now();
    let recorded = 0;
    let after: string | undefined;
    for (let pages = 0; pages < 1000; pages++) {
      const page = await orgStore.listAgents({ status: 'expired' }, { limit: 200, after }, now);
      for (const agent of page.items) {
        if (agent.lastStatusChange.reason === EXPIRY_REASON && agent.lastStatusChange.at >= agent.expiresAt)
          continue;
        await orgStore.transact(async (tx) => {
          const current = await tx.getAgent(agent.id);
          if (!current || current.version !== agent.version) return; // changed meanwhile; next sweep
          const next: Agent = {
            ...current,
            lastStatusChange: {
              status: current.status,
              at: now.toISOString(),
              by: SYSTEM,
              reason: EXPIRY_REASON,
            },
            version: current.version + 1,
          };
          await tx.updateAgent(next, current.version);
          await this.ctx.audit.append(tx, {
            type: 'agent.expired',
            actor: SYSTEM,
            target: { type: 'agent', id: agent.id },
            refs: { agentId: agent.id },
            before: { status: effectiveAgentStatus(current, new Date(Date.parse(current.expiresAt) - 1)) },
            after: { status: 'expired', expiresAt: current.expiresAt },
            reason: EXPIRY_REASON,
          });
          recorded++;
        });
      }
      if (!page.nextCursor) break;
      after = page.nextCursor;
    }
    return recorded;
  }

  /** Refuses before any read when the caller could neither hold the permission nor be an owner. */
  private requireUpfront(principal: OrgPrincipal, rule: { permission: Permission; owner: boolean }): void {
    if (hasPermission(principal, rule.permission)) return;
    if (rule.owner && mayActAsOwner(principal)) return;
    requirePermission(principal, rule.permission);
  }

  private requireForAgent(
    principal: OrgPrincipal,
    rule: { permission: Permission; owner: boolean },
    agent: Agent,
    verb: string,
  ): void {
    if (hasPermission(principal, rule.permission)) return;
    if (rule.owner && mayActAsOwner(principal) && principal.userId === agent.ownerId) return;
    throw new MandateError('forbidden', `only ${describeRule(rule)} may ${verb} this agent`);
  }

  private async requireActiveUser(tx: OrgTransaction, userId: string): Promise<void> {
    const user = await tx.getUser(userId);
    if (user?.status !== 'active') throw invalid('ownerId', 'no active user with this id in the org');
  }

  private checkExpiry(requested: string | undefined, now: Date, field: string): string {
    if (requested === undefined)
      return new Date(now.getTime() + DEFAULT_AGENT_LIFETIME_DAYS * DAY_MS).toISOString();
    const at = Date.parse(requested);
    if (Number.isNaN(at)) throw invalid(field, 'must be an ISO-8601 date-time');
    if (at <= now.getTime()) throw invalid(field, 'must be in the future');
    if (at > now.getTime() + MAX_AGENT_LIFETIME_DAYS * DAY_MS) {
      throw invalid(field, `must be within ${MAX_AGENT_LIFETIME_DAYS} days; renew the agent to extend it`);
    }
    return new Date(at).toISOString();
  }

  private async load(orgId: string, agentId: string): Promise<Agent> {
    const agent = await this.ctx.store.org(orgId).getAgent(agentId);
    if (!agent) throw notFound('agent');
    return agent;
  }

  private async change(
    principal: OrgPrincipal,
    agentId: string,
    type: string,
    apply: (agent: Agent, now: Date, tx: OrgTransaction) => Agent | Promise<Agent>,
    reason?: string,
  ): Promise<AgentView> {
    const orgStore = this.ctx.store.org(principal.orgId);
    const after = await this.write(
      orgStore.transact(async (tx) => {
        const before = await tx.getAgent(agentId);
        if (!before) throw notFound('agent');
        const now = this.ctx.clock.now();
        const next: Agent = {
          ...(await apply(before, now, tx)),
          updatedAt: now.toISOString(),
          version: before.version + 1,
        };
        await tx.updateAgent(next, before.version);
        await this.record(tx, principal, type, agentId, before, next, reason);
        return next;
      }),
    );
    return this.view(after);
  }

  private async record(
    tx: OrgTransaction,
    principal: OrgPrincipal,
    type: string,
    agentId: string,
    before: Agent | undefined,
    after: Agent,
    reason?: string,
  ): Promise<void> {
    await this.ctx.audit.append(tx, {
      type,
      actor: principal.actor,
      target: { type: 'agent', id: agentId },
      refs: { agentId, userId: after.ownerId },
      before: before ? this.view(before) : undefined,
      after: this.view(after),
      reason,
    });
  }

  /** Maps store uniqueness failures to the API's error. */
  private async write<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (error instanceof DuplicateError)
        throw new MandateError('duplicate', 'this public key is registered on another agent');
      throw error;
    }
  }
}

const SYSTEM = { kind: 'system', id: 'mandate' } as const;

/**
 * Who may run each lifecycle command: holders of `permission`, and, where `owner` is set, the
 * agent's owner (see mayActAsOwner). Suspending is the safe direction, so an owner may always
 * stop their agent; resuming or renewing needs an operator, so an owner cannot undo a suspension
 * an operator made.
 */
const WHO_MAY: Record<LifecycleCommand, { permission: Permission; owner: boolean }> = {
  activate: { permission: 'agents.activate', owner: true },
  suspend: { permission: 'agents.write', owner: true },
  resume: { permission: 'agents.write', owner: false },
  revoke: { permission: 'agents.revoke', owner: true },
  renew: { permission: 'agents.write', owner: false },
};

/** An OIDC user acting for themself (not a key acting for them). */
function isUserInPerson(principal: OrgPrincipal): boolean {
  return principal.actor.kind === 'user' && principal.userId !== undefined;
}

/**
 * Owner powers belong to the owner in person, or to a key bound to the owner that may write
 * agents; a key restricted to, say, `pep` or `auditor` does not gain them by being bound.
 */
function mayActAsOwner(principal: OrgPrincipal): boolean {
  return (
    isUserInPerson(principal) || (principal.userId !== undefined && hasPermission(principal, 'agents.write'))
  );
}

function describeRule(rule: { permission: Permission; owner: boolean }): string {
  const roles = PERMISSIONS[rule.permission].join(' or ');
  return rule.owner ? `${roles}, or the agent's owner,` : roles;
}
const EXPIRY_REASON = 'expiry passed';
const PAST_TENSE: Record<LifecycleCommand, string> = {
  activate: 'activated',
  suspend: 'suspended',
  resume: 'resumed',
  revoke: 'revoked',
  renew: 'renewed',
};

function definedOnly<T extends object>(changes: T): Partial<T> {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) as Partial<T>;
}
