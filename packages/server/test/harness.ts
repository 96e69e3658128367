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

/** The token issuer (and public URL) of every test app. */
export const ISSUER = 'http://mandate.test';

/** `fetch` for requests to ISSUER, answered by the app in process through fastify.inject. */
function injectFetch(app: { inject: (options: any) => Promise<any> }): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    if (url.origin !== ISSUER) throw new TypeError(`the test fetch only reaches ${ISSUER}`);
    const response = await app.inject({
      method: init.method ?? 'GET',
      url: url.pathname + url.search,
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      payload: init.body === undefined || init.body === null ? undefined : String(init.body),
    });
    return new Response(response.statusCode === 204 ? null : response.body, {
      status: response.statusCode,
      headers: response.headers as Record<string, string>,
    });
  }) as typeof fetch;
}

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
  /** A form body (the OAuth endpoints) instead of JSON. */
  form?: Record<string, string>;
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
  /** A fetch over fastify.inject, for SDK clients pointed at ISSUER (no port opened). */
  fetch: typeof fetch;
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
  const engine = createEngine(new SqliteStore({ file: dbFile, clock }), {
    clock,
    oauth: { issuer: () => ISSUER },
  });
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
    fetch: injectFetch(app),
    async call(method, url, { key, body, form, headers } = {}) {
      const payload =
        form !== undefined
          ? new URLSearchParams(form).toString()
          : body === undefined
            ? undefined
            : typeof body === 'string'
              ? body
              : JSON.stringify(body);
      const contentType =
        form !== undefined
          ? { 'content-type': 'application/x-www-form-urlencoded' }
          : body !== undefined
            ? { 'content-type': 'application/json' }
            : {};
      const response = await app.inject({
        method: method as 'GET',
        url,
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...contentType, ...headers },
        payload,
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
