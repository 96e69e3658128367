import type { AgentBoundaries, AgentMetadata } from '@mandate/core';

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface PageOptions {
  limit?: number;
  cursor?: string;
}

/** The views the API answers with: the same types the server builds them from. */
export type {
  AgentView as Agent,
  ApiKeyView as ApiKey,
  AuditRecord,
  DelegationView,
  ExplainNode,
  IntrospectionResponse as IntrospectionResult,
  OrgView as Org,
  ProofBundle,
  SigningKeyView as SigningKey,
  UserView as User,
} from '@mandate/core';

export interface RegisterAgentInput {
  name: string;
  ownerId: string;
  description?: string;
  labels?: string[];
  metadata?: AgentMetadata;
  environments?: string[];
  boundaries: Partial<AgentBoundaries> & Pick<AgentBoundaries, 'actions' | 'resources'>;
  expiresAt?: string;
  keys: object[];
}

/** A version of the org's Cedar policy set (0 is the built-in baseline). */
/** A request for a human's yes or no to one exact action. */
export interface ApprovalView {
  id: string;
  status: 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled' | 'used';
  digest: string;
  agentId: string;
  delegationId: string;
  chain: string[];
  rootUserId: string;
  action: string;
  resource: { type: string; id: string };
  argumentsPreview: Record<string, string>;
  reasons: string[];
  risk?: { score: number; factors: string[] };
  approvers: { users: string[]; roles: string[] };
  /** False when a policy names the approvers: then the root user decides only if named. */
  rootUserDecides: boolean;
  environment?: string;
  dataClass?: string;
  requestedBy: string;
  createdAt: string;
  expiresAt: string;
  decidedBy?: { kind: string; id: string; userId?: string };
  decidedAt?: string;
  comment?: string;
  usedBy?: string;
  usedAt?: string;
}

/** A kill-switch lock: what it stops, why, who locked it and, once released, who released it. */
export interface KillSwitchLock {
  id: string;
  scope: 'org' | 'owner' | 'agent';
  targetId: string;
  reason: string;
  lockedBy: { kind: string; id: string };
  lockedAt: string;
  releasedAt?: string;
  releasedBy?: { kind: string; id: string };
  releaseReason?: string;
}

export interface PolicyVersionView {
  version: number;
  hash: string;
  policies: string;
  schema?: string;
  note?: string;
  createdAt: string;
  createdBy: { kind: string; id: string };
  active: boolean;
  /** On publish: recent allowed decisions replayed against this set (a set that denies them all is flagged). */
  replay?: {
    replayed: number;
    stillAllowed: number;
    nowDenied: number;
    skipped: number;
    deniesAllRecent: boolean;
    note: string;
  };
}
