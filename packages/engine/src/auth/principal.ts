import type { Actor, Role } from '@mandate/core';

/** Whoever is calling, inside one org. Everything they can reach is scoped to `orgId`. */
export interface OrgPrincipal {
  kind: 'org';
  orgId: string;
  actor: Actor;
  roles: readonly Role[];
  /** The human the caller is or acts for (an OIDC user, or a key bound to a user). */
  userId?: string;
}

/** A caller holding a platform key: may manage orgs, nothing inside them. */
export interface PlatformPrincipal {
  kind: 'platform';
  actor: Actor & { kind: 'platform' };
}

export type Principal = OrgPrincipal | PlatformPrincipal;
