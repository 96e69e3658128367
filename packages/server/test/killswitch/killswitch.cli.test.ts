/**
 * `mandate killswitch lock|status|release` through the built binary against one real
 * `mandate serve` process: lock an agent, see it in status, lock it again (the same lock),
 * release it; lock an owner and the org; and every usage or server error as one line on stderr
 * with a non-zero exit. What a lock stops is in killswitch.security.test.ts.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, ensureBuilt, type Server, startServer } from '../processes.js';

const TEST_TIMEOUT = 60_000;
const CALL_TIMEOUT_MS = 15_000;

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-cli-killswitch-'));

// biome-ignore lint/suspicious/noExplicitAny: audit records and API answers, checked field by field
type Json = any;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let server: Server;
let env: Record<string, string>;
let ownerId: string;
let agentId: string;

/** One CLI call with MANDATE_URL and MANDATE_KEY; never throws, always bounded. */
function mandate(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: tmpRoot,
        env: cleanEnv(env),
        timeout: CALL_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 10 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: number | string }) | null;
        resolve({
          code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        });
      },
    );
    child.stdin?.end();
  });
}

function expectOk(result: Result): string {
  expect(result.code, `exit code (stderr: ${result.stderr})`).toBe(0);
  expect(result.stderr).toBe('');
  return result.stdout;
}

function parseJson(result: Result): Json {
  return JSON.parse(expectOk(result));
}

/** Non-zero exit (by itself, not the timeout), nothing on stdout, one `mandate: …` line on stderr. */
function expectOneLineError(result: Result): string {
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.code, 'ended by itself, not by the timeout').not.toBeNull();
  expect(result.stdout).toBe('');
  expect(result.stderr, 'exactly one line on stderr').toMatch(/^mandate: [^\n]+\n$/);
  return result.stderr.trimEnd();
}

/** `name  value` lines of printFields. */
const field = (text: string, name: string) => new RegExp(`^${name}\\s+(.+)$`, 'm').exec(text)?.[1];

/** The server's API, for the setup the CLI is not under test for. */
async function api(method: string, url: string, body?: unknown): Promise<Json> {
  const response = await fetch(`${server.url}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${env.MANDATE_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return JSON.parse(text);
}

beforeAll(async () => {
  await ensureBuilt();
  server = await startServer(path.join(tmpRoot, 'server'));
  expect(server.adminKey, server.output()).toMatch(/^mk_key_/);
  env = { MANDATE_URL: server.url, MANDATE_KEY: server.adminKey as string };
  ownerId = (await api('POST', '/v1/users', { displayName: 'Owner' })).id;
  const { publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  agentId = (
    await api('POST', '/v1/agents', {
      name: 'cli-locked',
      ownerId,
      boundaries: { actions: ['email.*'], resources: ['mailbox:alice/*'] },
      keys: [await exportJWK(publicKey)],
    })
  ).id;
}, 200_000);

afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
}, 30_000);

describe('lock --agent, status, release', { timeout: TEST_TIMEOUT }, () => {
  it('locks one agent, shows it in status, locks it again (same lock), releases it', async () => {
    const locked = expectOk(
      await mandate('killswitch', 'lock', '--agent', agentId, '--reason', 'it misbehaves'),
    );
    const lockId = field(locked, 'lock') as string;
    expect(lockId).toMatch(/^lck_[0-9A-Z]{26}$/);
    expect(field(locked, 'state')).toBe('LOCKED');
    expect(field(locked, 'scope')).toBe('agent');
    expect(field(locked, 'target')).toBe(agentId);
    expect(field(locked, 'reason')).toBe('it misbehaves');
    expect(field(locked, 'released at')).toBeUndefined();
    // The server holds it.
    expect((await api('GET', `/v1/killswitch/${lockId}`)).targetId).toBe(agentId);

    // status: a table row with the lock, LOCKED, the agent.
    const status = expectOk(await mandate('killswitch', 'status'));
    expect(status).toMatch(/^ID\s+STATE\s+SCOPE\s+TARGETID\s+REASON\s+LOCKEDAT/m);
    const row = status.split('\n').find((line) => line.startsWith(lockId)) as string;
    expect(row).toBeDefined();
    expect(row.split(/\s{2,}/).slice(0, 4)).toEqual([lockId, 'LOCKED', 'agent', agentId]);
    const statusJson = parseJson(await mandate('--json', 'killswitch', 'status'));
    expect(statusJson).toEqual([expect.objectContaining({ id: lockId, scope: 'agent', targetId: agentId })]);

    // Locking it again answers the lock in force.
    const again = parseJson(
      await mandate('--json', 'killswitch', 'lock', '--agent', agentId, '--reason', 'again'),
    );
    expect(again).toMatchObject({ id: lockId, reason: 'it misbehaves' });

    // Release.
    const released = expectOk(await mandate('killswitch', 'release', lockId, '--reason', 'all clear'));
    expect(field(released, 'lock')).toBe(lockId);
    expect(field(released, 'state')).toBe('released');
    expect(field(released, 'released at')).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(expectOk(await mandate('killswitch', 'status'))).toBe('no locks in force\n');
    const all = expectOk(await mandate('killswitch', 'status', '--all'));
    const releasedRow = all.split('\n').find((line) => line.startsWith(lockId)) as string;
    expect(releasedRow.split(/\s{2,}/).slice(0, 4)).toEqual([lockId, 'released', 'agent', agentId]);

    // Releasing again: one line from the server's 409, non-zero exit.
    const twice = expectOneLineError(await mandate('killswitch', 'release', lockId, '--reason', 'again'));
    expect(twice).toContain('already released');
    expect(twice).toContain('illegal_transition');

    // Both were audited.
    const types = (await api('GET', '/v1/audit/events?type=killswitch.locked')).items.map(
      (r: { target: { id: string } }) => r.target.id,
    );
    expect(types).toContain(lockId);
    const releases = (await api('GET', '/v1/audit/events?type=killswitch.released')).items.map(
      (r: { target: { id: string } }) => r.target.id,
    );
    expect(releases).toEqual([lockId]);
  });

  it('locks an owner and the org (--json), and releases them', async () => {
    const owner = parseJson(
      await mandate('--json', 'killswitch', 'lock', '--owner', ownerId, '--reason', 'owner left'),
    );
    expect(owner).toMatchObject({ scope: 'owner', targetId: ownerId, reason: 'owner left' });
    const org = parseJson(await mandate('--json', 'killswitch', 'lock', '--org', '--reason', 'incident'));
    expect(org).toMatchObject({ scope: 'org', targetId: expect.stringMatching(/^org_/) });
    const inForce = parseJson(await mandate('--json', 'killswitch', 'status')).map(
      (l: { id: string }) => l.id,
    );
    expect(inForce.sort()).toEqual([owner.id, org.id].sort());
    for (const lock of [owner, org]) {
      const released = parseJson(
        await mandate('--json', 'killswitch', 'release', lock.id, '--reason', 'resolved'),
      );
      expect(released).toMatchObject({ id: lock.id, releaseReason: 'resolved' });
    }
    expect(parseJson(await mandate('--json', 'killswitch', 'status'))).toEqual([]);
  });
});

describe('errors: one line, non-zero exit', { timeout: TEST_TIMEOUT }, () => {
  it('no target', async () => {
    const line = expectOneLineError(await mandate('killswitch', 'lock', '--reason', 'x'));
    expect(line).toContain('--org');
    expect(line).toContain('--agent');
  });

  it('a wrong flag names the flag', async () => {
    const line = expectOneLineError(await mandate('killswitch', 'lock', '--everything', '--reason', 'x'));
    expect(line).toContain('--everything');
  });

  it('no --reason (lock and release)', async () => {
    expect(expectOneLineError(await mandate('killswitch', 'lock', '--agent', agentId))).toContain('--reason');
    expect(
      expectOneLineError(await mandate('killswitch', 'release', 'lck_00000000000000000000000000')),
    ).toContain('--reason');
  });

  it('two targets at once', async () => {
    const line = expectOneLineError(
      await mandate('killswitch', 'lock', '--org', '--agent', agentId, '--reason', 'x'),
    );
    expect(line).toMatch(/--org.*--agent|--agent.*--org/);
  });

  it('an unknown agent, a malformed or unknown lock id: the server says why, in one line', async () => {
    const unknownAgent = expectOneLineError(
      await mandate('killswitch', 'lock', '--agent', 'agt_00000000000000000000000000', '--reason', 'x'),
    );
    expect(unknownAgent).toContain('no such agent');
    expect(
      expectOneLineError(await mandate('killswitch', 'release', 'not-a-lock', '--reason', 'x')),
    ).toContain('lck_');
    expect(
      expectOneLineError(
        await mandate('killswitch', 'release', 'lck_00000000000000000000000000', '--reason', 'x'),
      ),
    ).toContain('not found');
    // None of this locked anything.
    expect(parseJson(await mandate('--json', 'killswitch', 'status'))).toEqual([]);
  });
});
