import type { ReplayCache } from '@mandate/core';
import type { Approval } from '../approvals/approval.js';
import type { EngineContext } from '../context.js';
import type { OwnTokens } from '../oauth/own-tokens.js';
import type { PolicyService } from '../policy/policies.js';

/** What the steps use: the store (through ctx), token verification, the policies. */
export interface StepDeps {
  ctx: EngineContext;
  tokens: OwnTokens;
  dpopReplay: ReplayCache;
  policies: PolicyService;
  /** Told of each approval request a decision files (the org's webhook), after it committed. */
  notify?: (orgId: string, approval: Approval) => void;
}
