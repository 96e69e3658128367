/** The stored records are domain types of core; the engine stores them behind its ports. */
export type { Agent, ApiKey, Delegation, Org, PlatformKey, User } from '@mandate/core';
