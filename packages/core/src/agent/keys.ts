import type { AgentKey } from './agent.js';

/** An agent always keeps at least one active key; true when retiring `kid` would break that. */
export function wouldRetireLastKey(keys: readonly AgentKey[], kid: string): boolean {
  return !keys.some((key) => key.status === 'active' && key.kid !== kid);
}
