import { type Actor, newId, type Role } from '@mandate/core';
import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import { revokeSubtree } from '../delegation/delegations.js';
import { MandateError, notFound } from '../errors.js';
import type { User } from '../ports/records.js';
import {
  DuplicateError,
  type OrgTransaction,
  type Page,
  type PageRequest,
  type UserFilter,
} from '../ports/store.js';
import { type UserView, userView } from './views.js';

export interface NewUser {
  displayName: string;
  email?: string;
  roles?: Role[];
  /** Both set: a user of a trusted OpenID Connect issuer; both absent: a local user. */
  issuer?: string;
  subject?: string;
}

export interface UserChanges {
  displayName?: string;
  email?: string;
  roles?: Role[];
}

export class UserService {
  constructor(private readonly ctx: EngineContext) {}

  async create(principal: OrgPrincipal, input: NewUser): Promise<UserView> {
    requirePermission(principal, 'users.write');
    return userView(await this.insert(principal.orgId, principal.actor, input));
  }

  /** The user an OIDC token names, created on first sight (audited as created by itself). */
  async resolveOidcUser(
    orgId: string,
    issuer: string,
    subject: string,
    claims: { name?: string; email?: string },
  ) {
    const orgStore = this.ctx.store.org(orgId);
    const existing = await orgStore.findUserBySubject(issuer, subject);
    if (existing) return existing;
    const id = newId('user');
    try {
      return await this.insert(
        orgId,
        { kind: 'user', id, issuer },
        { displayName: claims.name ?? claims.email ?? subject, email: claims.email, issuer, subject },
        id,
      );
    } catch (error) {
      // Two first requests raced; the other one created the user.
      const raced = error instanceof MandateError && error.code === 'duplicate';
      const user = raced ? await orgStore.findUserBySubject(issuer, subject) : undefined;
      if (user) return user;
      throw error;
    }
  }

  private async insert(orgId: string, actor: Actor, input: NewUser, id = newId('user')): Promise<User> {
    if ((input.issuer === undefined) !== (input.subject === undefined)) {
      throw new MandateError('invalid_request', 'issuer and subject must be given together', 'issuer');
    }
    const now = this.ctx.clock.now().toISOString();
    const user: User = {
      id,
      orgId,
      kind: input.issuer ? 'oidc' : 'local',
      issuer: input.issuer,
      subject: input.subject,
      email: input.email,
      displayName: input.displayName,
      roles: [...new Set(input.roles ?? [])],
      status: 'active',
      createdAt: now,
      createdBy: actor,
      updatedAt: now,
      version: 1,
    };
    try {
      await this.ctx.store.org(orgId).transact(async (tx) => {
        await tx.insertUser(user);
        await this.ctx.audit.append(tx, {
          type: 'user.created',
          actor,
          target: { type: 'user', id: user.id },
          refs: { userId: user.id },
          after: userView(user),
        });
      });
    } catch (error) {
      if (error instanceof DuplicateError) {
        throw new MandateError('duplicate', 'a user with this issuer and subject already exists');
      }
      throw error;
    }
    return user;
  }

  async get(principal: OrgPrincipal, userId: string): Promise<UserView> {
    requirePermission(principal, 'users.read');
    const user = await this.ctx.store.org(principal.orgId).getUser(userId);
    if (!user) throw notFound('user');
    return userView(user);
  }

  async list(principal: OrgPrincipal, filter: UserFilter, page: PageRequest): Promise<Page<UserView>> {
    requirePermission(principal, 'users.read');
    const result = await this.ctx.store.org(principal.orgId).listUsers(filter, page);
    return { ...result, items: result.items.map(userView) };
  }

  async update(principal: OrgPrincipal, userId: string, changes: UserChanges): Promise<UserView> {
    requirePermission(principal, 'users.write');
    return this.change(principal, userId, 'user.updated', (user) => {
      if (user.status === 'offboarded') throw new MandateError('conflict', 'the user has been offboarded');
      return {
        ...user,
        displayName: changes.displayName ?? user.displayName,
        email: changes.email ?? user.email,
        roles: changes.roles ? [...new Set(changes.roles)] : user.roles,
      };
    });
  }

  /**
   * The user leaves. Refused while they still own live agents: ownership must be transferred
   * first, so that no agent is ever left without an accountable owner.
   */
  async offboard(principal: OrgPrincipal, userId: string, reason: string): Promise<UserView> {
    requirePermission(principal, 'users.write');
    const owned = await this.ctx.store.org(principal.orgId).countLiveAgentsOwnedBy(userId);
    if (owned > 0) {
      throw new MandateError(
        'conflict',
        `the user still owns ${owned} agent(s); transfer or revoke them before offboarding`,
      );
    }
    return this.change(
      principal,
      userId,
      'user.offboarded',
      (user) => {
        if (user.status === 'offboarded')
          throw new MandateError('illegal_transition', 'the user is already offboarded');
        return { ...user, status: 'offboarded', offboardedAt: this.ctx.clock.now().toISOString() };
      },
      reason,
      // Everything the user delegated stops with them, in the same transaction.
      async (tx) => {
        const revoked: string[] = [];
        // Every active delegation rooted at the user, whatever order the pages come in.
        for (let pages = 0; pages < 10_000; pages++) {
          const page = await tx.listDelegations({ rootUserId: userId, status: 'active' }, { limit: 200 });
          if (page.items.length === 0) break;
          for (const d of page.items) {
            const gone = await revokeSubtree(
              tx,
              d.id,
              principal.actor,
              `root user offboarded: ${reason}`,
              this.ctx.clock.now(),
            );
            revoked.push(...gone.map((g) => g.id));
          }
        }
        return revoked.length > 0 ? { revokedDelegations: revoked } : {};
      },
    );
  }

  private async change(
    principal: OrgPrincipal,
    userId: string,
    type: string,
    apply: (user: User) => User,
    reason?: string,
    alongside?: (tx: OrgTransaction) => Promise<Record<string, unknown>>,
  ): Promise<UserView> {
    return this.ctx.store.org(principal.orgId).transact(async (tx) => {
      const before = await tx.getUser(userId);
      if (!before) throw notFound('user');
      const after: User = {
        ...apply(before),
        updatedAt: this.ctx.clock.now().toISOString(),
        version: before.version + 1,
      };
      if (after.status === 'offboarded' && (await tx.countLiveAgentsOwnedBy(userId)) > 0) {
        throw new MandateError('conflict', 'the user still owns agents; transfer them before offboarding');
      }
      await tx.updateUser(after, before.version);
      const consequences = alongside ? await alongside(tx) : {};
      await this.ctx.audit.append(tx, {
        type,
        actor: principal.actor,
        target: { type: 'user', id: userId },
        refs: { userId },
        before: userView(before),
        after: { ...userView(after), ...consequences },
        reason,
      });
      return userView(after);
    });
  }
}
