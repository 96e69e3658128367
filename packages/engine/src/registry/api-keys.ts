import { newId, type Role } from '@mandate/core';
import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import { formatApiKey, hashSecret, newSecret } from '../auth/secrets.js';
import type { EngineContext } from '../context.js';
import { invalid, MandateError, notFound } from '../errors.js';
import type { ApiKey } from '../ports/records.js';
import type { Page, PageRequest } from '../ports/store.js';
import { type ApiKeyView, apiKeyView } from './views.js';

export interface NewApiKey {
  name: string;
  roles: Role[];
  /** Bind the key to a user of the org: it then acts for that user. */
  userId?: string;
  expiresAt?: string;
}

export class ApiKeyService {
  constructor(private readonly ctx: EngineContext) {}

  /** Creates a key; the secret is in the answer and nowhere else, ever. */
  async create(principal: OrgPrincipal, input: NewApiKey): Promise<{ key: ApiKeyView; secret: string }> {
    requirePermission(principal, 'apiKeys.manage');
    const orgStore = this.ctx.store.org(principal.orgId);

    const now = this.ctx.clock.now();
    if (input.expiresAt && Date.parse(input.expiresAt) <= now.getTime()) {
      throw invalid('expiresAt', 'must be in the future');
    }
    const secret = newSecret();
    const key: ApiKey = {
      id: newId('apiKey'),
      orgId: principal.orgId,
      name: input.name,
      roles: [...new Set(input.roles)],
      userId: input.userId,
      secretHash: hashSecret(secret),
      createdAt: now.toISOString(),
      createdBy: principal.actor,
      expiresAt: input.expiresAt ? new Date(input.expiresAt).toISOString() : undefined,
      version: 1,
    };
    await orgStore.transact(async (tx) => {
      // Checked in the transaction, so the user cannot be offboarded in between.
      if (input.userId && (await tx.getUser(input.userId))?.status !== 'active') {
        throw invalid('userId', 'no active user with this id in the org');
      }
      await tx.insertApiKey(key);
      await this.ctx.audit.append(tx, {
        type: 'api_key.created',
        actor: principal.actor,
        target: { type: 'api_key', id: key.id },
        refs: input.userId ? { userId: input.userId } : undefined,
        after: apiKeyView(key),
      });
    });
    return { key: apiKeyView(key), secret: formatApiKey(key.id, secret) };
  }

  async get(principal: OrgPrincipal, keyId: string): Promise<ApiKeyView> {
    requirePermission(principal, 'apiKeys.manage');
    const key = await this.ctx.store.org(principal.orgId).getApiKey(keyId);
    if (!key) throw notFound('API key');
    return apiKeyView(key);
  }

  async list(principal: OrgPrincipal, page: PageRequest): Promise<Page<ApiKeyView>> {
    requirePermission(principal, 'apiKeys.manage');
    const result = await this.ctx.store.org(principal.orgId).listApiKeys(page);
    return { ...result, items: result.items.map(apiKeyView) };
  }

  async revoke(principal: OrgPrincipal, keyId: string, reason?: string): Promise<ApiKeyView> {
    requirePermission(principal, 'apiKeys.manage');
    return this.ctx.store.org(principal.orgId).transact(async (tx) => {
      const before = await tx.getApiKey(keyId);
      if (!before) throw notFound('API key');
      if (before.revokedAt) throw new MandateError('illegal_transition', 'the API key is already revoked');
      const after: ApiKey = {
        ...before,
        revokedAt: this.ctx.clock.now().toISOString(),
        revokedBy: principal.actor,
        version: before.version + 1,
      };
      await tx.updateApiKey(after, before.version);
      await this.ctx.audit.append(tx, {
        type: 'api_key.revoked',
        actor: principal.actor,
        target: { type: 'api_key', id: keyId },
        before: apiKeyView(before),
        after: apiKeyView(after),
        reason,
      });
      return apiKeyView(after);
    });
  }
}
