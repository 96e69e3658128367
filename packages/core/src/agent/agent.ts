import type { DataClass } from '../data-class.js';

/** Stored lifecycle states. `expired` is never stored: it is derived from `expiresAt`. */
export const STORED_AGENT_STATUSES = ['pending', 'active', 'suspended', 'revoked'] as const;
export type StoredAgentStatus = (typeof STORED_AGENT_STATUSES)[number];

export const AGENT_STATUSES = [...STORED_AGENT_STATUSES, 'expired'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** The ceiling of any authority the agent can ever hold, whoever delegates to it. */
export interface AgentBoundaries {
  /** Action patterns (`email.read`, `email.*`, `*`). */
  actions: string[];
  /** Resource patterns (`mailbox:alice/*`, `*`). */
  resources: string[];
  maxDataClass: DataClass;
  /** Longest lifetime of any credential minted for the agent. */
  maxCredentialTtlSeconds: number;
  /** Deepest re-delegation the agent may start (0: it may not re-delegate). */
  maxDelegationDepth: number;
}

export interface AgentMetadata {
  model?: string;
  provider?: string;
  version?: string;
  [key: string]: string | number | boolean | undefined;
}

/** A public key the agent proves possession of. `kid` is the RFC 7638 JWK thumbprint. */
export interface AgentKey {
  kid: string;
  jwk: PublicJwk;
  status: 'active' | 'retired';
  addedAt: string;
  retiredAt?: string;
}

/** Public JWKs Mandate accepts for agents: Ed25519 (OKP) and P-256 (EC). */
export type PublicJwk =
  | { kty: 'OKP'; crv: 'Ed25519'; x: string; alg?: 'EdDSA' | 'Ed25519'; use?: 'sig' }
  | { kty: 'EC'; crv: 'P-256'; x: string; y: string; alg?: 'ES256'; use?: 'sig' };

/** Who did something: recorded on every change and every audit event. */
export type Actor =
  | { kind: 'api_key'; id: string; userId?: string }
  | { kind: 'user'; id: string; issuer?: string }
  | { kind: 'platform'; id: string }
  /** An agent acting with its own credential (re-delegation). */
  | { kind: 'agent'; id: string }
  | { kind: 'system'; id: 'mandate' };

export interface StatusChange {
  status: StoredAgentStatus;
  at: string;
  by: Actor;
  reason?: string;
}

export interface Agent {
  id: string;
  orgId: string;
  name: string;
  description: string;
  ownerId: string;
  status: StoredAgentStatus;
  labels: string[];
  metadata: AgentMetadata;
  environments: string[];
  boundaries: AgentBoundaries;
  expiresAt: string;
  keys: AgentKey[];
  createdAt: string;
  createdBy: Actor;
  updatedAt: string;
  /** The last lifecycle change: who, when, why. The full history is in the audit log. */
  lastStatusChange: StatusChange;
  /** Optimistic-concurrency version, bumped on every write. */
  version: number;
}

/** The agent's status as of `now`: an unrevoked agent past its expiry is `expired`. */
export function effectiveAgentStatus(agent: Pick<Agent, 'status' | 'expiresAt'>, now: Date): AgentStatus {
  if (agent.status === 'revoked') return 'revoked';
  const expiresAt = Date.parse(agent.expiresAt);
  // An unreadable expiry counts as passed: fail closed.
  if (Number.isNaN(expiresAt) || expiresAt <= now.getTime()) return 'expired';
  return agent.status;
}
