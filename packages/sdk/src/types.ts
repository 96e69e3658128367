import type {
  Actor,
  AgentBoundaries,
  AgentKey,
  AgentMetadata,
  AgentStatus,
  AuditRecord,
  Delegation,
  Role,
} from '@mandate/core';

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface PageOptions {
  limit?: number;
  cursor?: string;
}

export interface Agent {
  id: string;
  orgId: string;
  name: string;
  description: string;
  ownerId: string;
  status: AgentStatus;
  labels: string[];
  metadata: AgentMetadata;
  environments: string[];
  boundaries: AgentBoundaries;
  expiresAt: string;
  keys: AgentKey[];
  createdAt: string;
  createdBy: Actor;
  updatedAt: string;
  lastStatusChange: { status: string; at: string; by: Actor; reason?: string };
}

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

export interface User {
  id: string;
  orgId: string;
  kind: 'local' | 'oidc';
  issuer?: string;
  subject?: string;
  email?: string;
  displayName: string;
  roles: Role[];
  status: 'active' | 'offboarded';
  createdAt: string;
  updatedAt: string;
  offboardedAt?: string;
}

export interface ApiKey {
  id: string;
  orgId: string;
  name: string;
  roles: Role[];
  userId?: string;
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
  lastUsedAt?: string;
}

export interface Org {
  id: string;
  name: string;
  status: string;
  createdAt: string;
  updatedAt: string;
}

export interface ProofBundle {
  index: number;
  treeSize: number;
  record: string;
  leafHash: string;
  proof: string[];
  checkpoint: string;
}

export interface ExplainNode {
  seq: number;
  relation: string;
  record: AuditRecord;
  proof: ProofBundle;
  dependsOn: ExplainNode[];
}

/** A delegation as the API shows it, with whether its whole chain is usable now. */
export type DelegationView = Omit<Delegation, 'version'> & { live: boolean; liveness?: string };

export type { AuditRecord };
