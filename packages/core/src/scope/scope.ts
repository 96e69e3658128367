import type { DataClass } from '../data-class.js';
import type { ArgumentConstraint } from './constraints.js';

/**
 * What a delegation allows. Every dimension can only narrow from a parent to a child
 * (`attenuate`); `covers` says whether one concrete request is inside.
 */
export interface Scope {
  /** Action patterns (`email.read`, `email.*`, `*`). */
  actions: string[];
  /** Resource patterns (`mailbox:alice/*`, `doc:*`, `*`). */
  resources: string[];
  /** The highest data class the request may touch. */
  dataClass: DataClass;
  /** Environments allowed; absent: not restricted. */
  environments?: string[];
  /**
   * Argument constraints by action pattern, then by argument name. Every entry whose pattern
   * matches a request's action applies (all of them, at once).
   */
  arguments?: Record<string, Record<string, ArgumentConstraint>>;
  limits?: ScopeLimits;
  /** ISO-8601; absent: valid from the start. */
  notBefore?: string;
  /** ISO-8601, required. */
  expiresAt: string;
  /** How many further re-delegations are allowed (0: none). */
  maxDepth: number;
  /** Action patterns that always need a human's approval. */
  requireApproval?: string[];
}

export interface ScopeLimits {
  maxUses?: number;
  ratePerMinute?: number;
  /** A ceiling on the sum of one named numeric argument over all uses. */
  budget?: { argument: string; max: number };
}

/** One concrete action an enforcement point asks about. */
export interface ScopeRequest {
  action: string;
  resource: string;
  dataClass: DataClass;
  environment?: string;
  arguments?: Record<string, unknown>;
  /** When the action would run. */
  at: Date;
}

export const SCOPE_DIMENSIONS = [
  'action',
  'resource',
  'data_class',
  'environment',
  'argument',
  'limits',
  'not_before',
  'expiry',
  'depth',
  'approval',
] as const;
export type ScopeDimension = (typeof SCOPE_DIMENSIONS)[number];
