import { type Actor, TokenError } from '@mandate/core';
import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import type { AuthenticatedClient } from './client-assertion.js';
import { OAuthError } from './oauth-error.js';
import type { OwnTokens } from './own-tokens.js';

/** Who asks to revoke: an agent by its client assertion, or an org admin by API key. */
export type Revoker =
  | { kind: 'client'; client: AuthenticatedClient }
  | { kind: 'org'; principal: OrgPrincipal };

/**
 * RFC 7009: revokes one access token until it would have expired. An agent may revoke a token
 * it holds or one minted below it in its chain (it delegated that authority); an admin may
 * revoke any token of the org. A token that is not valid (or not of the caller's org) is
 * answered as success with nothing done, as §2.2 asks.
 */
export class Revocation {
  constructor(
    private readonly ctx: EngineContext,
    private readonly tokens: OwnTokens,
  ) {}

  async revoke(revoker: Revoker, token: string): Promise<void> {
    if (revoker.kind === 'org') requirePermission(revoker.principal, 'credentials.revoke');
    let verified: Awaited<ReturnType<OwnTokens['verify']>>;
    try {
      verified = await this.tokens.verify(token);
    } catch (error) {
      if (error instanceof TokenError) return;
      throw error;
    }
    const { claims, agents } = verified;
    const orgId = revoker.kind === 'org' ? revoker.principal.orgId : revoker.client.orgId;
    if (claims.org !== orgId) return;
    let actor: Actor;
    if (revoker.kind === 'client') {
      if (!agents.includes(revoker.client.agent.id))
        throw new OAuthError('unauthorized_client', 'the token was not issued to this agent or below it');
      actor = { kind: 'agent', id: revoker.client.agent.id };
    } else {
      actor = revoker.principal.actor;
    }
    const now = this.ctx.clock.now();
    await this.ctx.store.org(orgId).transact(async (tx) => {
      if (await tx.isTokenRevoked(claims.jti)) return;
      await tx.insertRevokedToken({
        jti: claims.jti,
        expiresAt: new Date(claims.exp * 1000).toISOString(),
        revokedAt: now.toISOString(),
      });
      await this.ctx.audit.append(tx, {
        type: 'credential.revoked',
        actor,
        target: { type: 'credential', id: claims.jti },
        refs: { agentId: claims.client_id, delegationId: claims.dlg },
      });
    });
  }
}
