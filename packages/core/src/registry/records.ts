import type { Actor, Agent, AgentStatus } from '../agent/agent.js';
import type { Delegation } from '../delegation/delegation.js';
import type { Role } from '../roles.js';

/**
 * The records the registry keeps (orgs, users, API keys, platform keys), and the views of
 * them and of agents and delegations that the API answers with: one definition, used by the
 * engine that stores them and the SDK that receives them.
 */
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

/** What the API shows: never the version, never a secret hash. */
export type OrgView = Omit<Org, 'version'>;
export type UserView = Omit<User, 'version'>;
export type ApiKeyView = Omit<ApiKey, 'secretHash' | 'version'>;
/** An agent with its status as of now (`expired` derived from `expiresAt`). */
export type AgentView = Omit<Agent, 'version' | 'status'> & { status: AgentStatus };
/** A delegation, with whether its whole chain is usable now. */
export type DelegationView = Omit<Delegation, 'version'> & { live: boolean; liveness?: string };

/** A token signing key as the platform API shows it: public facts and lifecycle, nothing secret. */
export interface SigningKeyView {
  kid: string;
  status: 'active' | 'retired';
  createdAt: string;
  retiredAt?: string;
  publishUntil?: string;
  /** Whether it is in the JWKS now. */
  published: boolean;
}
