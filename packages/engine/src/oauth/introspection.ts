import { type IntrospectionResponse, TokenError } from '@mandate/core';
import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import { credentialStatus } from './credential-status.js';
import type { OwnTokens } from './own-tokens.js';

export type { IntrospectionResponse };

/**
 * RFC 7662: whether a token is usable at this moment, and its claims if so. `active: false`
 * the moment any link of its chain is revoked, suspended, expired or gone, when the token
 * itself was revoked, and for tokens of another org (nothing is revealed across orgs).
 */
export class Introspection {
  constructor(
    private readonly ctx: EngineContext,
    private readonly tokens: OwnTokens,
  ) {}

  async introspect(principal: OrgPrincipal, token: string): Promise<IntrospectionResponse> {
    requirePermission(principal, 'credentials.introspect');
    let verified: Awaited<ReturnType<OwnTokens['verify']>>;
    try {
      verified = await this.tokens.verify(token);
    } catch (error) {
      if (error instanceof TokenError) return { active: false };
      throw error;
    }
    if (verified.claims.org !== principal.orgId) return { active: false };
    const org = this.ctx.store.org(principal.orgId);
    const status = await credentialStatus(org, verified, this.ctx.clock.now());
    if (!status.active) return { active: false };
    const { nbf: _nbf, ...claims } = verified.claims;
    return { active: true, ...claims, token_type: claims.cnf ? 'DPoP' : 'Bearer' };
  }
}
