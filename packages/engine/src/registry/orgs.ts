import { newId } from '@mandate/core';
import type { PlatformPrincipal } from '../auth/principal.js';
import { formatApiKey, formatPlatformKey, hashSecret, newSecret } from '../auth/secrets.js';
import type { EngineContext } from '../context.js';
import { notFound } from '../errors.js';
import type { ApiKey, Org } from '../ports/records.js';
import { DuplicateError, type Page, type PageRequest } from '../ports/store.js';
import { type ApiKeyView, apiKeyView, type OrgView, orgView } from './views.js';

export const DEFAULT_ORG_SETTING = 'default_org_id';

export interface CreatedOrg {
  org: OrgView;
  /** The org's first admin key, shown once (absent when not asked for). */
  adminKey?: { key: ApiKeyView; secret: string };
}

/** Orgs are created and listed from the platform API only; an org's own keys never reach here. */
export class OrgService {
  constructor(private readonly ctx: EngineContext) {}

  async create(
    principal: PlatformPrincipal | { kind: 'system' },
    name: string,
    options: { withAdminKey?: boolean; claimSetting?: string } = {},
  ): Promise<CreatedOrg> {
    const withAdminKey = options.withAdminKey ?? true;
    const now = this.ctx.clock.now().toISOString();
    const actor =
      principal.kind === 'platform' ? principal.actor : ({ kind: 'system', id: 'mandate' } as const);
    const org: Org = { id: newId('org'), name, status: 'active', createdAt: now, updatedAt: now, version: 1 };
    const secret = newSecret();
    const key: ApiKey = {
      id: newId('apiKey'),
      orgId: org.id,
      name: 'initial admin key',
      roles: ['admin'],
      secretHash: hashSecret(secret),
      createdAt: now,
      createdBy: actor,
      version: 1,
    };
    await this.ctx.store.org(org.id).transact(async (tx) => {
      // The default org records itself in the same transaction: a crash cannot leave a second one.
      if (options.claimSetting) await tx.claimSetting(options.claimSetting, org.id);
      await tx.insertOrg(org);
      await this.ctx.audit.append(tx, {
        type: 'org.created',
        actor,
        target: { type: 'org', id: org.id },
        after: org,
      });
      if (!withAdminKey) return;
      await tx.insertApiKey(key);
      await this.ctx.audit.append(tx, {
        type: 'api_key.created',
        actor,
        target: { type: 'api_key', id: key.id },
        after: apiKeyView(key),
      });
    });
    if (!withAdminKey) return { org: orgView(org) };
    return { org: orgView(org), adminKey: { key: apiKeyView(key), secret: formatApiKey(key.id, secret) } };
  }

  async rename(principal: PlatformPrincipal, orgId: string, name: string): Promise<OrgView> {
    const orgStore = this.ctx.store.org(orgId);
    return orgStore.transact(async (tx) => {
      const before = await tx.getOrg();
      if (!before) throw notFound('org');
      const after: Org = {
        ...before,
        name,
        updatedAt: this.ctx.clock.now().toISOString(),
        version: before.version + 1,
      };
      await tx.updateOrg(after, before.version);
      await this.ctx.audit.append(tx, {
        type: 'org.updated',
        actor: principal.actor,
        target: { type: 'org', id: orgId },
        before,
        after,
      });
      return orgView(after);
    });
  }

  async get(orgId: string): Promise<OrgView> {
    const org = await this.ctx.store.platform.getOrg(orgId);
    if (!org) throw notFound('org');
    return orgView(org);
  }

  async list(page: PageRequest): Promise<Page<OrgView>> {
    const result = await this.ctx.store.platform.listOrgs(page);
    return { ...result, items: result.items.map(orgView) };
  }

  /** The org that `MANDATE_ADMIN_KEY` and a fresh install use; created on first start. */
  async ensureDefaultOrg(
    options: { withAdminKey?: boolean } = {},
  ): Promise<{ org: OrgView; created?: CreatedOrg }> {
    const existing = await this.ctx.store.platform.getSetting(DEFAULT_ORG_SETTING);
    if (existing) return { org: await this.get(existing) };
    try {
      const created = await this.create({ kind: 'system' }, 'default', {
        ...options,
        claimSetting: DEFAULT_ORG_SETTING,
      });
      return { org: created.org, created };
    } catch (error) {
      // Another process created it first; use theirs.
      if (!(error instanceof DuplicateError)) throw error;
      const winner = await this.ctx.store.platform.getSetting(DEFAULT_ORG_SETTING);
      if (!winner) throw error;
      return { org: await this.get(winner) };
    }
  }

  /** Creates a platform key (for `/v1/orgs`), shown once. */
  async createPlatformKey(name: string): Promise<string> {
    const secret = newSecret();
    const id = newId('platformKey');
    await this.ctx.store.platform.insertPlatformKey({
      id,
      name,
      secretHash: hashSecret(secret),
      createdAt: this.ctx.clock.now().toISOString(),
    });
    return formatPlatformKey(id, secret);
  }
}
