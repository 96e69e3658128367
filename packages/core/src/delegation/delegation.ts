import type { Actor } from '../agent/agent.js';
import type { Scope } from '../scope/scope.js';

/**
 * A grant of scoped authority to an agent. A chain starts at one human (the root user) and may
 * continue agent to agent (re-delegation), each hop narrower than its parent.
 */
export interface Delegation {
  id: string;
  orgId: string;
  /** The delegation this one narrows (absent at the root of a chain). */
  parentId?: string;
  /** The human the whole chain acts for. */
  rootUserId: string;
  /** Who grants: the root user, or the agent holding the parent delegation. */
  delegator: { kind: 'user'; id: string } | { kind: 'agent'; id: string };
  delegateAgentId: string;
  purpose: string;
  scope: Scope;
  /**
   * A standing grant by the agent's owner: the agent may act on it autonomously, with no human
   * in the loop for each task (`client_credentials`; its tokens' `sub` is the agent itself).
   */
  standing?: true;
  /**
   * Who, besides the root user, may approve actions of this delegation's chain that need a
   * human: user ids and `role:<role>` entries (set by the root user at grant time).
   */
  approvers?: string[];
  /** 0 at the root; each re-delegation adds one. */
  depth: number;
  /** Ids from the root delegation down to this one (itself last). */
  chain: string[];
  status: 'active' | 'revoked';
  createdAt: string;
  /** Who recorded the grant (the user, or an admin acting for them). */
  createdBy: Actor;
  revokedAt?: string;
  revokedBy?: Actor;
  revokedReason?: string;
  version: number;
}
