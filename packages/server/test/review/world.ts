/**
 * Helpers of the review tests: an in-process agent world on a SQLite file (after
 * packages/engine/test/risk/world.ts), driven through the real engine (engine.decisions.decide)
 * with the test's own clock, so tokens are unbound (Bearer) and client assertions are signed for
 * that clock.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type Clock,
  createEngine,
  type Decision,
  type Engine,
  MasterKey,
  type OrgPrincipal,
  SqliteStore,
} from '@mandate/engine';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterEach } from 'vitest';

export const ISSUER = 'http://mandate.test';
export const MINUTE = 60_000;
export const DAY = 86_400_000;

export class StepClock implements Clock {
  constructor(private current: number) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current += ms;
  }
  nextMinute(): void {
    this.current = (Math.floor(this.current / MINUTE) + 1) * MINUTE;
  }
}

export interface WorldAgent {
  id: string;
  privateKey: CryptoKey;
  delegationId: string;
}

const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

export function world() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-review-'));
  dirs.push(dir);
  const file = path.join(dir, 'mandate.db');
  const clock = new StepClock(Date.parse('2026-03-02T09:00:10Z'));
  const store = new SqliteStore({ file, clock });
  stores.push(store);
  const engine = createEngine(store, {
    clock,
    oauth: { issuer: () => ISSUER, masterKey: MasterKey.generate(), tokenTtlSeconds: 3600 },
  });
  return { clock, store, engine };
}

export async function setupOrg(engine: Engine) {
  const { org } = await engine.orgs.ensureDefaultOrg();
  const admin: OrgPrincipal = {
    kind: 'org',
    orgId: org.id,
    actor: { kind: 'api_key', id: 'test' },
    roles: ['admin'],
  };
  const user = await engine.users.create(admin, { displayName: 'Alice' });
  return { orgId: org.id, admin, userId: user.id };
}

export async function registerAgent(engine: Engine, admin: OrgPrincipal, ownerId: string, name: string) {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const agent = await engine.agents.register(admin, {
    name,
    ownerId,
    boundaries: {
      actions: ['email.*'],
      resources: ['mailbox:alice/*'],
      maxDataClass: 'internal',
      maxCredentialTtlSeconds: 3600,
      maxDelegationDepth: 1,
    },
    keys: [(await exportJWK(publicKey)) as JWK],
  });
  await engine.agents.transition(admin, agent.id, 'activate');
  return { id: agent.id, privateKey };
}

export async function grant(
  engine: Engine,
  clock: Clock,
  admin: OrgPrincipal,
  userId: string,
  agentId: string,
) {
  const delegation = await engine.delegations.grant(admin, {
    delegateAgentId: agentId,
    purpose: 'read mail',
    onBehalfOf: userId,
    scope: {
      actions: ['email.*'],
      resources: ['mailbox:alice/*'],
      dataClass: 'internal',
      maxDepth: 0,
      expiresAt: new Date(clock.now().getTime() + 30 * DAY).toISOString(),
    },
  });
  return delegation.id;
}

export async function exchange(engine: Engine, clock: Clock, agent: WorldAgent): Promise<string> {
  const iat = Math.floor(clock.now().getTime() / 1000);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA' })
    .setIssuer(agent.id)
    .setSubject(agent.id)
    .setAudience(`${ISSUER}/oauth/token`)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .setJti(randomUUID())
    .sign(agent.privateKey);
  const issued = await engine.oauth.endpoint.token(
    {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: agent.delegationId,
      subject_token_type: 'urn:mandate:params:oauth:token-type:delegation',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    },
    undefined,
  );
  return issued.access_token;
}

export const readMail = (token: string, amount = 10) => ({
  token,
  scheme: 'Bearer' as const,
  action: 'email.read',
  resource: { type: 'mailbox', id: 'alice/inbox' },
  dataClass: 'internal' as const,
  arguments: { amount },
});

export const names = (d: Decision) => (d.risk?.factors ?? []).map((f) => f.name);
