/** The agent's Mandate settings from the environment (the README of each example shows how to get them). */
import { type AgentClient, createAgentClient } from '@mandate/sdk';

export function clientFromEnv(): AgentClient {
  const missing = ['MANDATE_URL', 'AGENT_ID', 'AGENT_KEY_FILE', 'DELEGATION_ID'].filter(
    (name) => !process.env[name],
  );
  if (missing.length > 0) {
    console.error(`set ${missing.join(', ')} (see the README)`);
    process.exit(2);
  }
  return createAgentClient({
    url: process.env.MANDATE_URL as string,
    agentId: process.env.AGENT_ID as string,
    privateKey: process.env.AGENT_KEY_FILE as string, // a path: the client reads the private JWK from it
    delegation: process.env.DELEGATION_ID as string,
  });
}

/** How long the example waits for a human to approve in Mandate (APPROVAL_WAIT_SECONDS, default 120). */
export const approvalWaitSeconds = Number(process.env.APPROVAL_WAIT_SECONDS ?? 120);
