/**
 * Agent clients for the adapter tests: one that reaches the world's Mandate, and one whose
 * Mandate cannot be reached (every call fails), for the fail-closed checks.
 */
import { type AgentClient, type AgentClientOptions, createAgentClient } from '@mandate/sdk';
import { type AgentWorld, ISSUER } from './agent-world.js';

export function clientOf(world: AgentWorld, options: Partial<AgentClientOptions> = {}): AgentClient {
  return createAgentClient({
    url: ISSUER,
    agentId: world.agentId,
    privateKey: world.privateJwk,
    delegation: world.delegationId,
    fetch: world.t.fetch,
    ...options,
  });
}

/** A client of the same agent whose every request to Mandate fails as a network error does. */
export function unreachableClient(world: AgentWorld): AgentClient {
  return clientOf(world, {
    fetch: (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch,
  });
}

/** The decision records (newest last) whose request named this action. */
export async function decisionsFor(world: AgentWorld, action: string): Promise<Array<Record<string, any>>> {
  return (await world.audit('decision')).filter((record) => JSON.stringify(record).includes(`"${action}"`));
}

/** The names of the risk factors a decision record counted. */
export function riskFactors(record: Record<string, any> | undefined): string[] {
  return (record?.after?.risk?.factors ?? []).map((factor: { name: string }) => factor.name);
}
