import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Authenticator,
  type Clock,
  createEngine,
  type Engine,
  type OidcIssuerConfig,
  OidcVerifier,
  SqliteStore,
} from '@mandate/engine';
import { buildApp, type RouteSpec } from '@mandate/server';
import { exportJWK, generateKeyPair } from 'jose';
import pino from 'pino';

/** A clock tests can move. */
export class TestClock implements Clock {
  constructor(private current = new Date()) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export interface CallOptions {
  key?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TestApp {
  app: Awaited<ReturnType<typeof buildApp>>['app'];
  routes: RouteSpec[];
  engine: Engine;
  clock: TestClock;
  dir: string;
  dbFile: string;
  defaultOrgId: string;
  adminKey: string;
  platformKey: string;
  /** One HTTP request through fastify.inject; JSON in, parsed JSON out. */
  call(
    method: string,
    url: string,
    options?: CallOptions,
  ): Promise<{ status: number; body: any; text: string }>;
  close(): Promise<void>;
}

/** The real server app over a real SQLite file in a fresh temp folder (no port opened). */
export async function startTestApp(
  options: { oidc?: OidcIssuerConfig[]; bodyLimitBytes?: number } = {},
): Promise<TestApp> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-test-'));
  const dbFile = path.join(dir, 'mandate.db');
  const clock = new TestClock();
  const engine = createEngine(new SqliteStore({ file: dbFile, clock }), clock);
  const { org, created } = await engine.orgs.ensureDefaultOrg({ withAdminKey: true });
  const platformKey = await engine.orgs.createPlatformKey('test');
  const authenticator = new Authenticator(engine, engine.users, {
    defaultOrgId: org.id,
    oidc: options.oidc ? new OidcVerifier(options.oidc) : undefined,
  });
  const { app, routes } = await buildApp({
    engine,
    authenticator,
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: options.bodyLimitBytes ?? 64 * 1024,
    version: 'test',
  });
  await app.ready();
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
      await app.close();
      await engine.store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh public agent key as a JWK (Ed25519 by default). */
export async function publicJwk(alg: 'EdDSA' | 'ES256' = 'EdDSA'): Promise<Record<string, string>> {
  const { publicKey } = await generateKeyPair(alg, { extractable: true });
  return (await exportJWK(publicKey)) as Record<string, string>;
}

export const boundaries = {
  actions: ['email.*'],
  resources: ['mailbox:alice/*'],
};

/** Creates a user and an agent owned by them; returns both (the agent pending, created by `key`). */
export async function seedAgent(t: TestApp, key: string, name = 'mailer') {
  const user = await t.call('POST', '/v1/users', { key, body: { displayName: `${name} owner` } });
  if (user.status !== 201) throw new Error(`seed user: ${user.text}`);
  const agent = await t.call('POST', '/v1/agents', {
    key,
    body: { name, ownerId: user.body.id, boundaries, keys: [await publicJwk()] },
  });
  if (agent.status !== 201) throw new Error(`seed agent: ${agent.text}`);
  return { user: user.body, agent: agent.body };
}
