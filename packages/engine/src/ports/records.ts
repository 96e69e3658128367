import type { Actor, Agent, Delegation, Role } from '@mandate/core';

export interface Org {
  id: string;
  name: string;
  status: 'active';
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface User {
  id: string;
  orgId: string;
  kind: 'local' | 'oidc';
  /** For OIDC users: the trusted issuer and the subject it asserts. */
  issuer?: string;
  subject?: string;
  email?: string;
  displayName: string;
  /** Roles granted in Mandate (OIDC users also get the roles their claims map to). */
  roles: Role[];
  status: 'active' | 'offboarded';
  createdAt: string;
  createdBy: Actor;
  updatedAt: string;
  offboardedAt?: string;
  version: number;
}

/** An org's API key. Only the SHA-256 of the secret is ever stored. */
export interface ApiKey {
  id: string;
  orgId: string;
  name: string;
  roles: Role[];
  /** When set, the key acts for this user (a local user's way to authenticate). */
  userId?: string;
  secretHash: string;
  createdAt: string;
  createdBy: Actor;
  expiresAt?: string;
  revokedAt?: string;
  revokedBy?: Actor;
  lastUsedAt?: string;
  version: number;
}

/** A key for the platform API (`/v1/orgs`): above every org, never inside one. */
export interface PlatformKey {
  id: string;
  name: string;
  secretHash: string;
  createdAt: string;
  revokedAt?: string;
}

export type { Agent, Delegation };
