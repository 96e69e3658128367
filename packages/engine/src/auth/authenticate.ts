import type { Role } from '@mandate/core';
import type { EngineContext } from '../context.js';
import { MandateError } from '../errors.js';
import type { UserService } from '../registry/users.js';
import type { OidcVerifier } from './oidc.js';
import type { OrgPrincipal, Principal } from './principal.js';
import { hashSecret, parseApiKey, parsePlatformKey, secretMatches } from './secrets.js';

export interface AuthenticatorOptions {
  /** `MANDATE_ADMIN_KEY`: accepted as an admin key of the default org. */
  adminKey?: string;
  /** `MANDATE_PLATFORM_KEY`: accepted as a platform key. */
  platformKey?: string;
  defaultOrgId: string;
  oidc?: OidcVerifier;
  /** Skip the last-used write when the stored time is more recent than this. */
  lastUsedResolutionMs?: number;
}

const unauthorized = () =>
  new MandateError('unauthorized', 'missing, unknown, expired or revoked credential');

/**
 * Bearer credential → principal. Tries, in order: an org API key (`mk_…`), a platform key
 * (`mpk_…`), the configured environment keys, an OIDC ID token. Every failure is the same 401,
 * so a caller learns nothing about which keys exist.
 */
export class Authenticator {
  private readonly adminKeyHash?: string;
  private readonly platformKeyHash?: string;

  constructor(
    private readonly ctx: EngineContext,
    private readonly users: UserService,
    private readonly options: AuthenticatorOptions,
  ) {
    this.adminKeyHash = options.adminKey ? hashSecret(options.adminKey) : undefined;
    this.platformKeyHash = options.platformKey ? hashSecret(options.platformKey) : undefined;
  }

  async authenticate(bearer: string | undefined): Promise<Principal> {
    if (!bearer) throw unauthorized();
    const apiKey = parseApiKey(bearer);
    if (apiKey) return this.fromApiKey(apiKey.keyId, apiKey.secret);
    const platformKey = parsePlatformKey(bearer);
    if (platformKey) {
      const stored = await this.ctx.store.platform.getPlatformKey(platformKey.keyId);
      if (!stored || stored.revokedAt || !secretMatches(platformKey.secret, stored.secretHash))
        throw unauthorized();
      return { kind: 'platform', actor: { kind: 'platform', id: stored.id } };
    }
    if (this.platformKeyHash && secretMatches(bearer, this.platformKeyHash)) {
      return { kind: 'platform', actor: { kind: 'platform', id: 'env:MANDATE_PLATFORM_KEY' } };
    }
    if (this.adminKeyHash && secretMatches(bearer, this.adminKeyHash)) {
      return {
        kind: 'org',
        orgId: this.options.defaultOrgId,
        actor: { kind: 'api_key', id: 'env:MANDATE_ADMIN_KEY' },
        roles: ['admin'],
      };
    }
    return this.fromIdToken(bearer);
  }

  private async fromApiKey(keyId: string, secret: string): Promise<OrgPrincipal> {
    const key = await this.ctx.store.platform.findApiKey(keyId);
    if (!key || !secretMatches(secret, key.secretHash)) throw unauthorized();
    const now = this.ctx.clock.now();
    // An unreadable expiry counts as passed (fail closed).
    const expired = key.expiresAt !== undefined && !(Date.parse(key.expiresAt) > now.getTime());
    if (key.revokedAt || expired) throw unauthorized();
    if (key.userId) {
      const user = await this.ctx.store.org(key.orgId).getUser(key.userId);
      if (user?.status !== 'active') throw unauthorized();
    }
    const resolution = this.options.lastUsedResolutionMs ?? 60_000;
    if (!key.lastUsedAt || now.getTime() - Date.parse(key.lastUsedAt) >= resolution) {
      await this.ctx.store.platform.touchApiKey(key.id, now.toISOString());
    }
    return {
      kind: 'org',
      orgId: key.orgId,
      actor: key.userId
        ? { kind: 'api_key', id: key.id, userId: key.userId }
        : { kind: 'api_key', id: key.id },
      roles: key.roles,
      userId: key.userId,
    };
  }

  private async fromIdToken(token: string): Promise<OrgPrincipal> {
    const oidc = this.options.oidc;
    const config = oidc?.configFor(token);
    if (!oidc || !config) throw unauthorized();
    const identity = await oidc.verify(token, config);
    if (!identity) throw unauthorized();
    const orgId = config.orgId ?? this.options.defaultOrgId;
    const user = await this.users.resolveOidcUser(orgId, identity.issuer, identity.subject, identity);
    if (user.status !== 'active') throw unauthorized();
    const roles = [...new Set<Role>([...user.roles, ...identity.roles])];
    return {
      kind: 'org',
      orgId,
      actor: { kind: 'user', id: user.id, issuer: identity.issuer },
      roles,
      userId: user.id,
    };
  }
}
