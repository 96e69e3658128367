/**
 * A real Mandate (the server app over SQLite, in process) with a user, an active agent holding
 * its own Ed25519 key, and a delegation from the user to the agent: what the SDK and adapter
 * tests act against. `fetch` reaches the app through fastify.inject (no port).
 */
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { expectOk } from '../../../server/test/api/helpers.js';
import { ISSUER, startTestApp, type TestApp } from '../../../server/test/harness.js';

export { ISSUER };

/** Files and web fetches run freely; `http.post` is external; `email.send` needs a human's approval. */
export const TOOL_SCOPE = {
  actions: ['files.read', 'files.list', 'web.fetch', 'http.post', 'email.send'],
  resources: ['file:*', 'url:*', 'mailbox:*'],
  dataClass: 'internal',
  requireApproval: ['email.send'],
};

export interface AgentWorld {
  t: TestApp;
  userId: string;
  agentId: string;
  privateJwk: JWK;
  delegationId: string;
  /** Approves or denies an approval request as an admin (the delegation names role:admin as approver). */
  decideApproval(approvalId: string, verdict: 'approve' | 'deny'): Promise<void>;
  /** The audit records of one type, oldest first (fields checked one by one). */
  // biome-ignore lint/suspicious/noExplicitAny: audit records, checked field by field
  audit(type: string): Promise<Array<Record<string, any>>>;
  close(): Promise<void>;
}

export async function agentWorld(scope: Record<string, unknown> = TOOL_SCOPE): Promise<AgentWorld> {
  const t = await startTestApp();
  const admin = { key: t.adminKey };
  const userId = expectOk(
    await t.call('POST', '/v1/users', { ...admin, body: { displayName: 'Alice' } }),
    201,
  ).id as string;
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const agent = expectOk(
    await t.call('POST', '/v1/agents', {
      ...admin,
      body: {
        name: `tools-${Math.random().toString(36).slice(2, 8)}`,
        ownerId: userId,
        keys: [await exportJWK(publicKey)],
        boundaries: {
          actions: ['files.*', 'web.*', 'http.*', 'email.*'],
          resources: ['file:*', 'url:*', 'mailbox:*'],
          maxDataClass: 'confidential',
          maxDelegationDepth: 1,
        },
      },
    }),
    201,
  );
  expectOk(await t.call('POST', `/v1/agents/${agent.id}/activate`, { ...admin, body: {} }));
  const delegation = expectOk(
    await t.call('POST', '/v1/delegations', {
      ...admin,
      body: {
        delegateAgentId: agent.id,
        purpose: 'tidy the shared files',
        onBehalfOf: userId,
        approvers: ['role:admin'],
        scope: { ...scope, expiresAt: new Date(t.clock.now().getTime() + 2 * 3_600_000).toISOString() },
      },
    }),
    201,
  );
  return {
    t,
    userId,
    agentId: agent.id,
    privateJwk: await exportJWK(privateKey),
    delegationId: delegation.id,
    async decideApproval(approvalId, verdict) {
      expectOk(await t.call('POST', `/v1/approvals/${approvalId}/${verdict}`, { ...admin, body: {} }));
    },
    async audit(type) {
      const page = expectOk(await t.call('GET', `/v1/audit/events?type=${type}&limit=200`, admin));
      return page.items;
    },
    close: () => t.close(),
  };
}
