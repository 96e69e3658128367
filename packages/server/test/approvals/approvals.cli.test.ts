/**
 * `mandate approvals list|show|approve|deny|watch` through the built binary against one real
 * `mandate serve` process. An agent (in this process, through the SDK against the server's URL)
 * files requests; an admin lists and shows them; a key bound to the root user approves or denies
 * them (an admin key that is no user may not); `watch <id>` waits for a decision; every usage or
 * server error is one line on stderr with a non-zero exit. The rules themselves are in
 * approvals.security.test.ts.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentCredentials, type IssuedToken } from '@mandate/sdk';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, ensureBuilt, type Server, startServer } from '../processes.js';

const TEST_TIMEOUT = 60_000;
const CALL_TIMEOUT_MS = 15_000;

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-cli-approvals-'));

// biome-ignore lint/suspicious/noExplicitAny: API answers, checked field by field
type Json = any;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let server: Server;
/** MANDATE_URL and the org admin key (no user behind it). */
let adminEnv: Record<string, string>;
/** MANDATE_URL and a key bound to Alice, the root user of the agent's chain. */
let aliceEnv: Record<string, string>;
let aliceId: string;
let creds: AgentCredentials;
let token: IssuedToken;

/** One CLI call; never throws, always bounded. */
function mandate(env: Record<string, string>, ...args: string[]): Promise<Result> {
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
const admin = (...args: string[]) => mandate(adminEnv, ...args);
const asAlice = (...args: string[]) => mandate(aliceEnv, ...args);

function expectOk(result: Result): string {
  expect(result.code, `exit code (stderr: ${result.stderr})`).toBe(0);
  expect(result.stderr).toBe('');
  return result.stdout;
}

/** Non-zero exit (by itself, not the timeout), nothing on stdout, one `mandate: …` line on stderr. */
function expectOneLineError(result: Result): string {
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.code, 'ended by itself, not by the timeout').not.toBeNull();
  expect(result.stdout).toBe('');
  expect(result.stderr, 'exactly one line on stderr').toMatch(/^mandate: [^\n]+\n$/);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return result.stderr.trimEnd();
}

/** `name  value` lines of printFields. */
const field = (text: string, name: string) => new RegExp(`^${name}\\s+(.+)$`, 'm').exec(text)?.[1];

/** The server's API, for the setup the CLI is not under test for. */
async function api(method: string, url: string, body?: unknown): Promise<Json> {
  const response = await fetch(`${server.url}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${adminEnv.MANDATE_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return JSON.parse(text);
}

const pay = (amount: number) => ({
  action: 'pay.send',
  resource: { type: 'account', id: 'acme' },
  arguments: { amount, memo: 'invoice 42' },
});

/** The agent asks to pay `amount`; returns the approval request it filed. */
async function file(amount: number): Promise<string> {
  const answer = await creds.decide(token, pay(amount));
  expect(answer.decision).toBe('approval_required');
  expect(answer.approval?.id).toMatch(/^apr_[0-9A-Z]{26}$/);
  return answer.approval?.id as string;
}

beforeAll(async () => {
  await ensureBuilt();
  server = await startServer(path.join(tmpRoot, 'server'));
  expect(server.adminKey, server.output()).toMatch(/^mk_key_/);
  adminEnv = { MANDATE_URL: server.url, MANDATE_KEY: server.adminKey as string };
  aliceId = (await api('POST', '/v1/users', { displayName: 'Alice' })).id;
  const bound = await api('POST', '/v1/api-keys', { name: 'alice', roles: ['approver'], userId: aliceId });
  aliceEnv = { MANDATE_URL: server.url, MANDATE_KEY: bound.secret };

  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const agent = await api('POST', '/v1/agents', {
    name: 'payer',
    ownerId: aliceId,
    boundaries: { actions: ['pay.*'], resources: ['*'], maxDataClass: 'internal', maxDelegationDepth: 0 },
    keys: [await exportJWK(publicKey)],
  });
  await api('POST', `/v1/agents/${agent.id}/activate`, {});
  const delegation = await api('POST', '/v1/delegations', {
    delegateAgentId: agent.id,
    purpose: 'pay invoices',
    onBehalfOf: aliceId,
    scope: {
      actions: ['pay.*'],
      resources: ['*'],
      dataClass: 'internal',
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      requireApproval: ['pay.send'],
    },
  });
  creds = new AgentCredentials({
    url: server.url,
    agentId: agent.id,
    privateJwk: await exportJWK(privateKey),
  });
  token = await creds.exchange({ delegation: delegation.id });
}, 200_000);

afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
}, 30_000);

describe('list and show', { timeout: TEST_TIMEOUT }, () => {
  it('list shows a pending request (table and --json); --status filters; show tells what is asked', async () => {
    const id = await file(10);
    const table = expectOk(await admin('approvals', 'list'));
    const row = table.split('\n').find((line) => line.includes(id));
    expect(row, table).toBeDefined();
    expect(row).toMatch(/pending/);
    expect(row).toContain('pay.send');
    expect(row).toContain('account:acme');

    const json = JSON.parse(expectOk(await admin('--json', 'approvals', 'list')));
    expect(json.find((a: Json) => a.id === id)).toMatchObject({ status: 'pending', rootUserId: aliceId });
    const approved = JSON.parse(expectOk(await admin('--json', 'approvals', 'list', '--status', 'approved')));
    expect(approved.map((a: Json) => a.id)).not.toContain(id);

    const shown = expectOk(await admin('approvals', 'show', id));
    expect(field(shown, 'approval')).toBe(id);
    expect(field(shown, 'status')).toBe('pending');
    expect(field(shown, 'action')).toBe('pay.send');
    expect(field(shown, 'resource')).toBe('account:acme');
    expect(field(shown, 'arguments')).toBe('amount: number, memo: string(10)');
    expect(field(shown, 'for user')).toBe(aliceId);
    expect(field(shown, 'why')).toBe('the delegation asks a human to approve this action');
    // Argument values are never shown.
    expect(shown).not.toContain('invoice 42');
    expect(JSON.parse(expectOk(await admin('--json', 'approvals', 'show', id)))).toMatchObject({ id });
  });
});

describe('approve and deny', { timeout: TEST_TIMEOUT }, () => {
  it('the root user approves with a comment; the agent is allowed once; approving again fails', async () => {
    const id = await file(20);
    // The admin key is no one: it may not decide.
    const refused = expectOneLineError(await admin('approvals', 'approve', id));
    expect(refused).toMatch(/root user/);
    const approved = expectOk(await asAlice('approvals', 'approve', id, '--comment', 'looks right'));
    expect(field(approved, 'status')).toBe('approved');
    expect(field(approved, 'comment')).toBe('looks right');
    expect(field(approved, 'decided by')).toMatch(/^api_key key_/);

    expect((await creds.decide(token, pay(20))).decision).toBe('allow');
    expect((await creds.decide(token, pay(20))).reasons[0]?.code).toBe('approval_used');

    const twice = expectOneLineError(await asAlice('approvals', 'approve', id));
    expect(twice).toMatch(/only a pending one/);
    const shown = JSON.parse(expectOk(await admin('--json', 'approvals', 'show', id)));
    expect(shown).toMatchObject({ status: 'used', comment: 'looks right', decidedBy: { userId: aliceId } });
  });

  it('the root user denies with a comment; the agent stays refused', async () => {
    const id = await file(30);
    const denied = JSON.parse(expectOk(await asAlice('--json', 'approvals', 'deny', id, '--comment', 'no')));
    expect(denied).toMatchObject({ id, status: 'denied', comment: 'no' });
    const retry = await creds.decide(token, pay(30));
    expect(retry).toMatchObject({ decision: 'deny', reasons: [{ code: 'approval_denied' }] });
    expectOneLineError(await asAlice('approvals', 'approve', id));
  });
});

describe('watch', { timeout: TEST_TIMEOUT }, () => {
  it('watch <id> waits for the decision and prints it', async () => {
    const id = await file(40);
    const watching = asAlice('approvals', 'watch', id, '--timeout', '10');
    // Give the watcher a head start, so that it is (most likely) waiting when Alice approves; the
    // outcome asserted is the same either way, only what it exercises differs.
    await new Promise((r) => setTimeout(r, 1_500));
    expectOk(await asAlice('approvals', 'approve', id));
    const out = expectOk(await watching);
    expect(field(out, 'approval')).toBe(id);
    expect(field(out, 'status')).toBe('approved');
  });

  it('watch <id> --timeout 1 on a request nobody decides: prints it pending, exits 0', async () => {
    const id = await file(41);
    const out = expectOk(await admin('approvals', 'watch', id, '--timeout', '1'));
    expect(field(out, 'status')).toBe('pending');
  });
});

describe('errors, one line each', { timeout: TEST_TIMEOUT }, () => {
  it('a malformed or unknown id', async () => {
    expect(expectOneLineError(await admin('approvals', 'show', 'nope'))).toMatch(/approvalId|apr/);
    expect(expectOneLineError(await admin('approvals', 'show', 'apr_00000000000000000000000000'))).toMatch(
      /not found/,
    );
    expectOneLineError(await asAlice('approvals', 'approve', 'apr_00000000000000000000000000'));
    expectOneLineError(await asAlice('approvals', 'deny', 'not-an-id', '--comment', 'x'));
    expectOneLineError(await admin('approvals', 'watch', 'apr_00000000000000000000000000', '--timeout', '1'));
  });

  it('a wrong flag, a missing argument, a bad value', async () => {
    expect(expectOneLineError(await admin('approvals', 'list', '--bogus'))).toContain('--bogus');
    expectOneLineError(await admin('approvals', 'approve'));
    expect(expectOneLineError(await admin('approvals', 'list', '--status', 'weird'))).toContain('--status');
    expect(
      expectOneLineError(
        await admin('approvals', 'watch', 'apr_00000000000000000000000000', '--timeout', 'x'),
      ),
    ).toMatch(/seconds/);
    expect(
      expectOneLineError(await admin('approvals', 'show', 'apr_00000000000000000000000000', '--wait', '61')),
    ).toMatch(/seconds/);
    expectOneLineError(await admin('approvals', 'frobnicate'));
  });

  it('no key, or a key that may not read approvals', async () => {
    expectOneLineError(await mandate({ MANDATE_URL: server.url }, 'approvals', 'list'));
    const pep = await api('POST', '/v1/api-keys', { name: 'pep', roles: ['pep'] });
    expect(
      expectOneLineError(
        await mandate({ MANDATE_URL: server.url, MANDATE_KEY: pep.secret }, 'approvals', 'list'),
      ),
    ).toMatch(/role/);
  });
});
