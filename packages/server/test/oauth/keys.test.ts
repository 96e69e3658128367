/**
 * The token signing keys as clients and operators see them: the authorization server metadata,
 * the JWKS, the platform's key list and rotation (through HTTP, in process); and the master key
 * of the real server binary (its key file, and a start refused under another master key).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ISSUER, startTestApp, type TestApp } from '../harness.js';
import { BIN, cleanEnv, ensureBuilt, startServer } from '../processes.js';
import { activeAgent, HOUR, introspect, pepKey, startOAuthApp, type TestAgent } from './helpers.js';

const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** MAX_TOKEN_TTL_SECONDS (3600) plus the verifiers' skew (300). */
const PUBLISH_WINDOW_MS = (3600 + 300) * 1000;

describe('signing keys through HTTP', () => {
  let t: TestApp;
  let close: () => Promise<void>;
  let agent: TestAgent;
  let delegationId: string;

  beforeAll(async () => {
    const app = await startOAuthApp();
    ({ t, close } = app);
    const aliceToken = await app.idToken('alice');
    const alice = await t.call('POST', '/v1/users', {
      key: t.adminKey,
      body: { displayName: 'Alice', issuer: 'https://idp.oauth.test', subject: 'alice' },
    });
    expect(alice.status, alice.text).toBe(201);
    agent = await activeAgent(t, alice.body.id, 'keys-agent');
    const granted = await t.call('POST', '/v1/delegations', {
      key: aliceToken,
      body: {
        delegateAgentId: agent.id,
        purpose: 'test the signing keys',
        scope: {
          actions: ['email.read'],
          resources: ['mailbox:alice/*'],
          dataClass: 'internal',
          expiresAt: new Date(t.clock.now().getTime() + 48 * HOUR).toISOString(),
        },
      },
    });
    expect(granted.status, granted.text).toBe(201);
    delegationId = granted.body.id;
  });
  afterAll(async () => close?.());

  const jwks = async () => {
    const response = await t.call('GET', '/.well-known/jwks.json');
    expect(response.status, response.text).toBe(200);
    return response.body as { keys: Array<Record<string, unknown>> };
  };
  const accessToken = async () => (await agent.creds.exchange({ delegation: delegationId })).access_token;

  it('serves RFC 8414 metadata without a credential, every URL under the issuer', async () => {
    const response = await t.call('GET', '/.well-known/oauth-authorization-server');
    expect(response.status, response.text).toBe(200);
    expect(response.body).toMatchObject({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/oauth/token`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      introspection_endpoint: `${ISSUER}/oauth/introspect`,
      revocation_endpoint: `${ISSUER}/oauth/revoke`,
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      response_types_supported: [],
    });
    expect(response.body.grant_types_supported).toEqual(
      expect.arrayContaining([GRANT_TOKEN_EXCHANGE, 'client_credentials']),
    );
    expect(response.body.token_endpoint_auth_signing_alg_values_supported).toContain('EdDSA');
    expect(response.body.dpop_signing_alg_values_supported).toContain('EdDSA');
    // No authorization endpoint: agents never go through a browser.
    expect(response.body.authorization_endpoint).toBeUndefined();
    expect(response.body.issuer).not.toMatch(/\/$/);
  });

  it('serves a JWKS of one EdDSA OKP key with a kid and no private part, cacheable', async () => {
    const response = await t.call('GET', '/.well-known/jwks.json');
    expect(response.status).toBe(200);
    expect(response.body.keys).toHaveLength(1);
    const [key] = response.body.keys;
    expect(key).toEqual({
      kty: 'OKP',
      crv: 'Ed25519',
      x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      kid: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      alg: 'EdDSA',
      use: 'sig',
    });
    expect(key.d).toBeUndefined();
    expect(response.text).not.toMatch(/"d"|sealed/i);
    const raw = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(raw.headers['cache-control']).toBe('public, max-age=60');
    expect(raw.headers['content-type']).toMatch(/^application\/json/);
  });

  it('issued access tokens name the JWKS key and verify against it', async () => {
    const token = await accessToken();
    const { keys } = await jwks();
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: keys[0]?.kid });
    const { payload } = await jwtVerify(token, createLocalJWKSet({ keys: keys as never }), {
      issuer: ISSUER,
    });
    expect(payload.client_id).toBe(agent.id);
  });

  it('/v1/signing-keys needs the platform key: none → 401, an org admin key → 403', async () => {
    for (const [method, url] of [
      ['GET', '/v1/signing-keys'],
      ['POST', '/v1/signing-keys/rotate'],
    ] as const) {
      expect((await t.call(method, url)).status, `${method} ${url} without a key`).toBe(401);
      const asAdmin = await t.call(method, url, { key: t.adminKey });
      expect(asAdmin.status, `${method} ${url} with an org admin key: ${asAdmin.text}`).toBe(403);
    }
    // Nothing was rotated by the refused calls.
    expect((await jwks()).keys).toHaveLength(1);
  });

  it('lists the keys for the platform key: public parts and lifecycle only', async () => {
    const response = await t.call('GET', '/v1/signing-keys', { key: t.platformKey });
    expect(response.status, response.text).toBe(200);
    const { keys } = await jwks();
    expect(response.body).toEqual({
      items: [{ kid: keys[0]?.kid, status: 'active', createdAt: expect.any(String), published: true }],
    });
    expect(response.text).not.toMatch(/sealed|"d"/i);
  });

  it('rotate: the JWKS has two keys, new tokens are signed with the new kid, old ones still verify', async () => {
    const oldKid = (await jwks()).keys[0]?.kid as string;
    const oldToken = await accessToken();
    const pep = await pepKey(t);

    const rotated = await t.call('POST', '/v1/signing-keys/rotate', { key: t.platformKey });
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.body).toEqual({ kid: expect.any(String), retired: [oldKid] });
    const newKid = rotated.body.kid as string;
    expect(newKid).not.toBe(oldKid);

    const { keys } = await jwks();
    expect(keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    for (const key of keys) expect(key.d).toBeUndefined();

    const newToken = await accessToken();
    expect(decodeProtectedHeader(newToken).kid).toBe(newKid);
    const set = createLocalJWKSet({ keys: keys as never });
    await expect(jwtVerify(oldToken, set, { issuer: ISSUER })).resolves.toBeDefined();
    await expect(jwtVerify(newToken, set, { issuer: ISSUER })).resolves.toBeDefined();
    // The server itself still accepts the token signed before the rotation.
    expect((await introspect(t, pep, oldToken)).body.active).toBe(true);
    expect((await introspect(t, pep, newToken)).body.active).toBe(true);

    const listed = await t.call('GET', '/v1/signing-keys', { key: t.platformKey });
    const retired = listed.body.items.find((k: { kid: string }) => k.kid === oldKid);
    expect(retired).toMatchObject({ status: 'retired', published: true });
    expect(Date.parse(retired.publishUntil) - Date.parse(retired.retiredAt)).toBe(PUBLISH_WINDOW_MS);
    expect(listed.body.items.find((k: { kid: string }) => k.kid === newKid)).toMatchObject({
      status: 'active',
      published: true,
    });

    // Past its publication window the retired key leaves the JWKS.
    t.clock.advance(PUBLISH_WINDOW_MS + 1000);
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([newKid]);
    const later = await t.call('GET', '/v1/signing-keys', { key: t.platformKey });
    expect(later.body.items.find((k: { kid: string }) => k.kid === oldKid)).toMatchObject({
      status: 'retired',
      published: false,
    });
  });
});

describe('rotation requests at the same time', () => {
  // Rotations are serialised and work from the stored keys (this failed before they were).
  it('two simultaneous rotations leave one active key', async () => {
    const t = await startTestApp();
    try {
      const before = await t.call('GET', '/v1/signing-keys', { key: t.platformKey });
      expect(before.body.items).toHaveLength(1);
      const [one, two] = await Promise.all([
        t.call('POST', '/v1/signing-keys/rotate', { key: t.platformKey }),
        t.call('POST', '/v1/signing-keys/rotate', { key: t.platformKey }),
      ]);
      expect([one.status, two.status]).toEqual([200, 200]);
      const after = await t.call('GET', '/v1/signing-keys', { key: t.platformKey });
      expect(after.body.items.filter((k: { status: string }) => k.status === 'active')).toHaveLength(1);
    } finally {
      await t.close();
    }
  });
});

describe('the master key of the real server', { timeout: 120_000 }, () => {
  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-master-key-'));
  afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

  beforeAll(async () => {
    await ensureBuilt();
  }, 180_000);

  /** `mandate serve` expected to fail: its exit code and output, bounded in time. */
  function serveFails(dataDir: string, env: Record<string, string>) {
    return new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          [BIN, 'serve'],
          {
            cwd: dataDir,
            env: cleanEnv({
              MANDATE_PORT: '0',
              MANDATE_DATA_DIR: dataDir,
              MANDATE_LOG_LEVEL: 'silent',
              ...env,
            }),
            timeout: 15_000,
            killSignal: 'SIGKILL',
          },
          (error, stdout, stderr) => {
            const failure = error as (Error & { code?: number | string; signal?: string }) | null;
            resolve({
              code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0,
              signal: failure?.signal ?? null,
              stdout: String(stdout),
              stderr: String(stderr),
            });
          },
        );
      },
    );
  }

  it('creates <dataDir>/master-key (0600) on first start, and refuses to start under another master key', async () => {
    const dataDir = path.join(tmpRoot, 'data');
    const first = await startServer(dataDir);
    let kid: string;
    try {
      const keyFile = path.join(dataDir, 'master-key');
      expect(fs.existsSync(keyFile)).toBe(true);
      if (process.platform !== 'win32') expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(keyFile, 'utf8')).toMatch(/^[A-Za-z0-9_-]{43}\n$/);

      const metadata = await (await fetch(`${first.url}/.well-known/oauth-authorization-server`)).json();
      // With no public URL configured, the issuer is the URL the server listens on.
      expect(metadata).toMatchObject({ issuer: first.url, jwks_uri: `${first.url}/.well-known/jwks.json` });
      const set = (await (await fetch(`${first.url}/.well-known/jwks.json`)).json()) as {
        keys: Array<{ kid: string; d?: string }>;
      };
      expect(set.keys).toHaveLength(1);
      expect(set.keys[0]?.d).toBeUndefined();
      kid = set.keys[0]?.kid as string;
      expect(first.errors()).toBe('');
    } finally {
      await first.stop();
    }
    const keyText = fs.readFileSync(path.join(dataDir, 'master-key'), 'utf8');

    // Another valid master key: the stored signing key cannot be opened, so the start fails.
    const other = randomBytes(32).toString('base64url');
    const failed = await serveFails(dataDir, { MANDATE_MASTER_KEY: other });
    expect(failed.signal, 'exited by itself').toBeNull();
    expect(failed.code, failed.stderr).not.toBe(0);
    expect(failed.stdout).not.toMatch(/Listening on/);
    expect(failed.stderr).toMatch(/^mandate: [^\n]+\n$/);
    expect(failed.stderr).toContain(`token signing key ${kid} cannot be opened`);
    expect(failed.stderr).toContain('the master key is not the one that sealed it');
    expect(failed.stderr).toContain('MANDATE_MASTER_KEY');
    expect(failed.stderr).not.toContain(other);
    expect(failed.stderr).not.toMatch(/\n\s+at /);
    // The refused start changed nothing: the key file is intact…
    expect(fs.readFileSync(path.join(dataDir, 'master-key'), 'utf8')).toBe(keyText);

    // …and the same master key given as MANDATE_MASTER_KEY (here in hex) opens the keys again.
    const hex = Buffer.from(keyText.trim(), 'base64url').toString('hex');
    const again = await startServer(dataDir, { MANDATE_MASTER_KEY: hex });
    try {
      const set = (await (await fetch(`${again.url}/.well-known/jwks.json`)).json()) as {
        keys: Array<{ kid: string }>;
      };
      expect(set.keys.map((k) => k.kid)).toEqual([kid]);
    } finally {
      await again.stop();
    }
  });

  it('refuses to start with a master key file others can read, or a malformed MANDATE_MASTER_KEY', async () => {
    const dataDir = path.join(tmpRoot, 'loose');
    const first = await startServer(dataDir);
    await first.stop();
    const keyFile = path.join(dataDir, 'master-key');

    const malformed = await serveFails(dataDir, { MANDATE_MASTER_KEY: 'too-short' });
    expect(malformed.code, malformed.stderr).not.toBe(0);
    expect(malformed.stderr).toMatch(/^mandate: MANDATE_MASTER_KEY: expected 32 random bytes[^\n]*\n$/);
    expect(malformed.stderr).not.toContain('too-short');

    if (process.platform !== 'win32') {
      fs.chmodSync(keyFile, 0o644);
      const loose = await serveFails(dataDir, {});
      expect(loose.code, loose.stderr).not.toBe(0);
      expect(loose.stderr).toMatch(/^mandate: [^\n]+\n$/);
      expect(loose.stderr).toContain(`${keyFile}: the master key file is readable by others`);
      expect(loose.stderr).toContain('chmod 600');
    }
  });
});
