/**
 * What the credential and decision benchmarks start from: a fresh SQLite store, the default org,
 * a user, an active agent with an Ed25519 key (boundaries `email.*` on `mailbox:alice/*`), a
 * delegation from the user to it, and the agent's credentials helper.
 */
import path from 'node:path';
import { createEngine, SqliteStore, systemClock } from '@mandate/engine';
import { AgentCredentials } from '@mandate/sdk';
import { exportJWK, generateKeyPair } from 'jose';
import { removeDb } from './util.mjs';

export async function agentWorld(dir, { name, issuer, labels = [], dataClass = 'public' }) {
  const file = path.join(dir, `${name}.db`);
  removeDb(file);
  const store = new SqliteStore({ file, clock: systemClock });
  // `issuer` may be a function: a server that learns its URL only once it listens.
  const issuerOf = typeof issuer === 'function' ? issuer : () => issuer;
  const engine = createEngine(store, { clock: systemClock, oauth: { issuer: issuerOf } });
  const { org } = await engine.orgs.ensureDefaultOrg();
  const admin = { kind: 'org', orgId: org.id, actor: { kind: 'api_key', id: 'bench' }, roles: ['admin'] };
  const user = await engine.users.create(admin, { displayName: 'Alice' });
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const agent = await engine.agents.register(admin, {
    name: `${name}-agent`,
    ownerId: user.id,
    labels,
    boundaries: {
      actions: ['email.*'],
      resources: ['mailbox:alice/*'],
      maxDataClass: 'internal',
      maxCredentialTtlSeconds: 3600,
      maxDelegationDepth: 1,
    },
    keys: [await exportJWK(publicKey)],
  });
  await engine.agents.transition(admin, agent.id, 'activate');
  const delegation = await engine.delegations.grant(admin, {
    delegateAgentId: agent.id,
    purpose: 'benchmark',
    onBehalfOf: user.id,
    scope: {
      actions: ['email.*'],
      resources: ['mailbox:alice/*'],
      dataClass,
      maxDepth: 0,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    },
  });
  const privateJwk = await exportJWK(privateKey);
  // Without a URL yet (a server about to listen), the agent's helper is for its clients to make.
  const creds =
    typeof issuerOf() === 'string'
      ? new AgentCredentials({ url: issuerOf(), agentId: agent.id, privateJwk })
      : undefined;
  return { store, engine, org, admin, user, agent, delegation, creds, privateJwk };
}
