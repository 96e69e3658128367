import type { ReplayCache } from '@mandate/core';
import type { EngineContext } from '../context.js';
import type { OwnTokens } from '../oauth/own-tokens.js';
import type { PolicyService } from '../policy/policies.js';

/** What the steps use: the store (through ctx), token verification, the policies. */
export interface StepDeps {
  ctx: EngineContext;
  tokens: OwnTokens;
  dpopReplay: ReplayCache;
  policies: PolicyService;
}
