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
export interface PolicyVersionView {
  version: number;
  hash: string;
  policies: string;
  schema?: string;
  note?: string;
  createdAt: string;
  createdBy: { kind: string; id: string };
  active: boolean;
}
