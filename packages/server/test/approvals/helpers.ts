/**
 * Shared helpers of the approval tests: a chain (agent, delegation rooted at a user, token) that
 * asks for decisions, users who sign in with the test OIDC issuer, keys bound to a user, and an
 * app like startTestApp whose engine takes webhook options (a short retry backoff).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Authenticator, createEngine, SqliteStore, type WebhookSenderOptions } from '@mandate/engine';
import { AgentCredentials, type DecisionAnswer, type IssuedToken } from '@mandate/sdk';
import { buildApp } from '@mandate/server';
import { exportJWK, generateKeyPair } from 'jose';
import pino from 'pino';
import { expect } from 'vitest';
import { ISSUER, type TestApp, TestClock } from '../harness.js';
import { HOUR, IDP, type TestAgent } from '../oauth/helpers.js';

export const MINUTE = 60_000;

/**
 * The baseline, except that a delegated `wire.*` action is permitted by policy0, which asks for a
 * human's approval and names the `approver` role as one who may give it.
 */
export const APPROVAL_POLICIES = `// policy0: wire transfers are permitted with a human's approval (approvers: the approver role).
@mandate_approval("true")
@mandate_approvers("role:approver")
permit (principal, action, resource)
when {
  context has mandate && context.mandate has delegated && context.mandate.delegated == true &&
  context.mandate has action && context.mandate.action like "wire.*"
};

// policy1: everything else a delegation covers, as the baseline.
permit (principal, action, resource)
when {
  context has mandate && context.mandate has delegated && context.mandate.delegated == true &&
  !(context.mandate has action && context.mandate.action like "wire.*")
};
`;

export interface Chain {
  agent: TestAgent;
  dlg: string;
  token: IssuedToken;
  ask(request: Record<string, unknown>): Promise<DecisionAnswer>;
  /** A fresh token on the same delegation (after the clock moved past the old one's expiry). */
  refresh(): Promise<void>;
}

/**
 * An agent owned by `ownerId` (default: the root user), a delegation to it for `rootUserId`
 * covering pay.* and wire.* on any resource (pay.send needs approval unless told otherwise),
 * and a token on it.
 */
export async function chainFor(
  t: TestApp,
  rootUserId: string,
  options: {
    ownerId?: string;
    name?: string;
    requireApproval?: string[];
    hours?: number;
    /** The admin key of the org (default: the default org's). */
    adminKey?: string;
    /** Action patterns of the agent and its delegation (default pay.* and wire.*). */
    actions?: string[];
  } = {},
): Promise<Chain> {
  const adminKey = options.adminKey ?? t.adminKey;
  const actions = options.actions ?? ['pay.*', 'wire.*'];
  const agent = await registerAgent(t, adminKey, options.ownerId ?? rootUserId, actions, options.name);
  const requireApproval = options.requireApproval ?? ['pay.send'];
  const granted = await t.call('POST', '/v1/delegations', {
    key: adminKey,
    body: {
      delegateAgentId: agent.id,
      purpose: 'payments',
      onBehalfOf: rootUserId,
      scope: {
        actions,
        resources: ['*'],
        dataClass: 'internal',
        expiresAt: new Date(t.clock.now().getTime() + (options.hours ?? 2) * HOUR).toISOString(),
        ...(requireApproval.length > 0 ? { requireApproval } : {}),
      },
    },
  });
  expect(granted.status, granted.text).toBe(201);
  const dlg = granted.body.id as string;
  const chain: Chain = {
    agent,
    dlg,
    token: await agent.creds.exchange({ delegation: dlg }),
    ask: (request) => agent.creds.decide(chain.token, request as never),
    refresh: async () => {
      chain.token = await agent.creds.exchange({ delegation: dlg });
    },
  };
  return chain;
}

/** Registers and activates an agent that may take these actions, with a fresh Ed25519 key it holds. */
async function registerAgent(
  t: TestApp,
  adminKey: string,
  ownerId: string,
  actions: string[],
  name?: string,
): Promise<TestAgent> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = await exportJWK(publicKey);
  const created = await t.call('POST', '/v1/agents', {
    key: adminKey,
    body: {
      name: name ?? `agent-${Math.random().toString(36).slice(2, 8)}`,
      ownerId,
      boundaries: {
        actions,
        resources: ['*'],
        maxDataClass: 'internal',
        maxDelegationDepth: 0,
      },
      keys: [publicJwk],
    },
  });
  expect(created.status, created.text).toBe(201);
  const activated = await t.call('POST', `/v1/agents/${created.body.id}/activate`, {
    key: adminKey,
    body: {},
  });
  expect(activated.status, activated.text).toBe(200);
  return {
    id: created.body.id,
    privateJwk,
    publicJwk,
    creds: new AgentCredentials({ url: ISSUER, agentId: created.body.id, privateJwk, fetch: t.fetch }),
  };
}

/** A pay.send of `amount` to `to` (default acme). */
export const paySend = (amount: number, to = 'acme') => ({
  action: 'pay.send',
  resource: { type: 'account', id: to },
  arguments: { amount, memo: 'invoice 42' },
});

/** A user of the test OIDC issuer (`iss` IDP, `sub` subject), with stored roles. */
export async function oidcUser(t: TestApp, subject: string, roles: string[] = []): Promise<string> {
  const created = await t.call('POST', '/v1/users', {
    key: t.adminKey,
    body: { displayName: subject, issuer: IDP, subject, ...(roles.length > 0 ? { roles } : {}) },
  });
  expect(created.status, created.text).toBe(201);
  return created.body.id as string;
}

/** An API key with these roles, bound to `userId` when given; returns its secret. */
export async function apiKey(t: TestApp, roles: string[], userId?: string): Promise<string> {
  const created = await t.call('POST', '/v1/api-keys', {
    key: t.adminKey,
    body: { name: `key-${roles.join('-')}`, roles, ...(userId ? { userId } : {}) },
  });
  expect(created.status, created.text).toBe(201);
  return created.body.secret as string;
}

/** The approval request an answer names (it must name one). */
export function approvalOf(answer: DecisionAnswer): string {
  const id = answer.approval?.id;
  expect(id, JSON.stringify(answer)).toMatch(/^apr_[0-9A-Z]{26}$/);
  return id as string;
}

/**
 * The real server app over a real SQLite file, as startTestApp builds it (no OIDC), except that
 * its engine is given webhook options: tests shorten the retry backoff and watch each delivery.
 */
export async function startAppWithWebhooks(webhooks: WebhookSenderOptions): Promise<TestApp> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-approvals-'));
  const dbFile = path.join(dir, 'mandate.db');
  const clock = new TestClock();
  const engine = createEngine(new SqliteStore({ file: dbFile, clock }), {
    clock,
    oauth: { issuer: () => ISSUER },
    webhooks,
  });
  const { org, created } = await engine.orgs.ensureDefaultOrg({ withAdminKey: true });
  const platformKey = await engine.orgs.createPlatformKey('test');
  const authenticator = new Authenticator(engine, engine.users, { defaultOrgId: org.id });
  const { app, routes } = await buildApp({
    engine,
    authenticator,
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: 64 * 1024,
    version: 'test',
  });
  await app.ready();
  const inject = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    if (url.origin !== ISSUER) throw new TypeError(`the test fetch only reaches ${ISSUER}`);
    const response = await app.inject({
      method: (init.method ?? 'GET') as 'GET',
      url: url.pathname + url.search,
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      payload: init.body === undefined || init.body === null ? undefined : String(init.body),
    });
    return new Response(response.statusCode === 204 ? null : response.body, {
      status: response.statusCode,
      headers: response.headers as Record<string, string>,
    });
  }) as typeof fetch;
  return {
    app,
    routes,
    engine,
    clock,
    dir,
    dbFile,
    defaultOrgId: org.id,
    adminKey: created?.adminKey?.secret as string,
    platformKey,
    fetch: inject,
    async call(method, url, { key, body, headers } = {}) {
      const response = await app.inject({
        method: method as 'GET',
        url,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      let parsed: unknown;
      try {
        parsed = JSON.parse(response.body);
      } catch {
        parsed = undefined;
      }
      return { status: response.statusCode, body: parsed, text: response.body };
    },
    async close() {
      await engine.approvals.settle();
      await app.close();
      await engine.store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
