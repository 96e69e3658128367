import { randomBytes } from 'node:crypto';
import { type Actor, type AgentKey, type AuditEventInput, newId } from '@mandate/core';
import type { Agent, ApiKey, Clock, Org, PlatformKey, User } from '@mandate/engine';

/** A fixed instant all fixtures are stamped with; tests that care about time pass their own. */
export const T0 = '2030-01-01T00:00:00.000Z';
export const LATER = '2031-01-01T00:00:00.000Z';

export const systemActor: Actor = { kind: 'system', id: 'mandate' };

export const fixedClock = (iso = T0): Clock => ({ now: () => new Date(iso) });

const b64url = (bytes: number) => randomBytes(bytes).toString('base64url');

export function makeOrg(overrides: Partial<Org> = {}): Org {
  return {
    id: newId('org'),
    name: 'Acme',
    status: 'active',
    createdAt: T0,
    updatedAt: T0,
    version: 1,
    ...overrides,
  };
}

export function makeUser(orgId: string, overrides: Partial<User> = {}): User {
  return {
    id: newId('user'),
    orgId,
    kind: 'local',
    displayName: 'Alice',
    email: 'alice@example.com',
    roles: ['operator'],
    status: 'active',
    createdAt: T0,
    createdBy: systemActor,
    updatedAt: T0,
    version: 1,
    ...overrides,
  };
}

export function makeOidcUser(
  orgId: string,
  issuer: string,
  subject: string,
  overrides: Partial<User> = {},
): User {
  return makeUser(orgId, { kind: 'oidc', issuer, subject, ...overrides });
}

/** An Ed25519 public key with a random (thumbprint-shaped) kid. */
export function makeAgentKey(overrides: Partial<AgentKey> = {}): AgentKey {
  return {
    kid: b64url(32),
    jwk: { kty: 'OKP', crv: 'Ed25519', x: b64url(32) },
    status: 'active',
    addedAt: T0,
    ...overrides,
  };
}

export function makeAgent(orgId: string, ownerId: string, overrides: Partial<Agent> = {}): Agent {
  return {
    id: newId('agent'),
    orgId,
    name: 'mail-triage',
    description: 'Reads and labels mail',
    ownerId,
    status: 'active',
    labels: ['mail'],
    metadata: { model: 'test-model', provider: 'test' },
    environments: ['production'],
    boundaries: {
      actions: ['email.read', 'email.label'],
      resources: ['mailbox:alice/*'],
      maxDataClass: 'confidential',
      maxCredentialTtlSeconds: 900,
      maxDelegationDepth: 1,
    },
    expiresAt: LATER,
    keys: [makeAgentKey()],
    createdAt: T0,
    createdBy: systemActor,
    updatedAt: T0,
    lastStatusChange: { status: 'active', at: T0, by: systemActor, reason: 'registered by its owner' },
    version: 1,
    ...overrides,
  };
}

export function makeApiKey(orgId: string, overrides: Partial<ApiKey> = {}): ApiKey {
  return {
    id: newId('apiKey'),
    orgId,
    name: 'ci',
    roles: ['admin'],
    secretHash: b64url(32),
    createdAt: T0,
    createdBy: systemActor,
    version: 1,
    ...overrides,
  };
}

export function makePlatformKey(overrides: Partial<PlatformKey> = {}): PlatformKey {
  return { id: newId('platformKey'), name: 'ops', secretHash: b64url(32), createdAt: T0, ...overrides };
}

export function makeAuditEvent(overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    type: 'test.event',
    actor: systemActor,
    target: { type: 'test', id: 'target' },
    ...overrides,
  };
}

/** A promise and the function that settles it, to hold a transaction open at a known point. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
