/**
 * The `mandate` CLI as an agent and its operators use it for OAuth tokens, through the built
 * binary against one real `mandate serve` process: `token exchange` (a delegation, a standing
 * delegation, --no-dpop, --json), `token introspect` / `token revoke`, `delegations grant
 * --standing` and `signing-keys list|rotate`. The token issuer is the server's URL, which the
 * CLI is given with --url or MANDATE_URL (client assertions and DPoP proofs name it).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, ensureBuilt, type Server, startServer } from '../processes.js';

const TEST_TIMEOUT = 60_000;
const CALL_TIMEOUT_MS = 15_000;
const PLATFORM_KEY = `platform-${'x'.repeat(8)}-${Math.random().toString(36).slice(2)}-token-exchange-tests`;

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-cli-token-'));
const tmp = (name: string) => path.join(tmpRoot, name);

interface Result {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  env?: Record<string, string>;
  /** Written to the CLI's stdin (then closed); otherwise stdin is closed at once. */
  input?: string;
}

/** One CLI call; never throws, always bounded. */
function mandate(args: string[], options: RunOptions = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: tmpRoot,
        env: cleanEnv(options.env),
        timeout: CALL_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 10 * 1024 * 1024,
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
    child.stdin?.end(options.input ?? '');
  });
}

/** A runtime error: non-zero exit, nothing on stdout, exactly one `mandate: …` line on stderr. */
function expectOneLineError(result: Result, code: number | 'nonzero' = 'nonzero'): string {
  if (code === 'nonzero') expect(result.code, result.stderr).not.toBe(0);
  else expect(result.code, result.stderr).toBe(code);
  expect(result.code, 'ended by itself, not by the timeout').not.toBeNull();
  expect(result.stdout).toBe('');
  expect(result.stderr, 'exactly one line on stderr').toMatch(/^mandate: [^\n]+\n$/);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return result.stderr.trimEnd();
}

function expectOk(result: Result): string {
  expect(result.code, `exit code (stderr: ${result.stderr})`).toBe(0);
  expect(result.stderr).toBe('');
  return result.stdout;
}

// biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON has many shapes; the assertions check them
function parseJson(result: Result): any {
  const stdout = expectOk(result);
  try {
    return JSON.parse(stdout);
  } catch {
    throw new Error(`--json output is not JSON:\n${stdout}`);
  }
}

/** `token exchange` without --json: the token alone on stdout, a one-line summary on stderr. */
function expectToken(result: Result, type: 'DPoP' | 'Bearer' = 'DPoP'): string {
  expect(result.code, `exit code (stderr: ${result.stderr})`).toBe(0);
  expect(result.stdout, 'one JWT line on stdout').toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  expect(result.stderr).toMatch(new RegExp(`^${type} token, expires in \\d+ s[^\\n]*\\n$`));
  return result.stdout.trim();
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

let server: Server;
/** MANDATE_URL and the org admin key. */
let adminEnv: Record<string, string>;
/** Only MANDATE_URL: an agent needs no API key to get a token. */
let agentEnv: Record<string, string>;
let pepKey: string;
let alice: string;
let bob: string;
let agentA: string;
let agentB: string;
const keyA = tmp('agent-a.jwk');
const keyB = tmp('agent-b.jwk');
const keyOther = tmp('other.jwk');
const publicOnly = tmp('public-only.jwk');

const idOf = (result: Result): string => parseJson(result).id as string;

beforeAll(async () => {
  await ensureBuilt();
  server = await startServer(tmp('server'), { MANDATE_PLATFORM_KEY: PLATFORM_KEY });
  expect(server.adminKey, server.output()).toMatch(/^mk_key_/);
  adminEnv = { MANDATE_URL: server.url, MANDATE_KEY: server.adminKey as string };
  agentEnv = { MANDATE_URL: server.url };
  const run = (...args: string[]) => mandate(args, { env: adminEnv });

  const [aliceOut, bobOut, ...keygens] = await Promise.all([
    run('--json', 'users', 'create', '--name', 'Alice'),
    run('--json', 'users', 'create', '--name', 'Bob'),
    ...[keyA, keyB, keyOther].map((file) => run('keygen', '--out', file)),
  ]);
  alice = idOf(aliceOut as Result);
  bob = idOf(bobOut as Result);
  [keyA, keyB, keyOther].forEach((file, i) => {
    const out = expectOk(keygens[i] as Result);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // The last stdout line is the public JWK.
    const pub = JSON.parse(out.trimEnd().split('\n').at(-1) as string);
    expect(pub).not.toHaveProperty('d');
    if (file === keyA) fs.writeFileSync(publicOnly, JSON.stringify(pub));
  });
  const register = async (name: string, keyFile: string) => {
    const agent = parseJson(
      await run(
        '--json',
        'agents',
        'register',
        '--name',
        name,
        '--owner',
        alice,
        '--key-file',
        keyFile,
        '--action',
        'email.*',
        '--resource',
        'mailbox:alice/*',
        '--data-class',
        'internal',
      ),
    );
    expect(agent.status, 'an admin registers it pending').toBe('pending');
    expect(expectOk(await run('agents', 'activate', agent.id))).toContain(agent.id);
    return agent.id as string;
  };
  let pep: Result;
  [agentA, agentB, pep] = await Promise.all([
    register('mail-reader', keyA),
    register('nightly-digest', keyB),
    run('--json', 'api-keys', 'create', '--name', 'gateway', '--role', 'pep'),
  ]);
  pepKey = parseJson(pep).secret;
  expect(pepKey).toMatch(/^mk_key_/);
}, 180_000);

afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
}, 30_000);

/** An admin records a delegation to `agent` for Alice; returns its id. */
async function grant(agent: string, actions: string[], ...extra: string[]): Promise<string> {
  return idOf(
    await mandate(
      [
        '--json',
        'delegations',
        'grant',
        '--agent',
        agent,
        '--for',
        alice,
        '--purpose',
        'triage the inbox',
        ...actions.flatMap((a) => ['--action', a]),
        '--resource',
        'mailbox:alice/*',
        '--expires',
        '2h',
        ...extra,
      ],
      { env: adminEnv },
    ),
  );
}

describe('token exchange for a delegation', { timeout: TEST_TIMEOUT }, () => {
  let dlg: string;
  let token: string;

  beforeAll(async () => {
    dlg = await grant(agentA, ['email.read']);
    expect(dlg).toMatch(/^dlg_/);
  });

  it('prints the token on stdout and a summary on stderr, with no API key at all (--url given)', async () => {
    token = expectToken(
      await mandate([
        '--url',
        server.url,
        'token',
        'exchange',
        '--agent',
        agentA,
        '--key-file',
        keyA,
        '--delegation',
        dlg,
      ]),
    );
    expect(decodeProtectedHeader(token).typ).toBe('at+jwt');
    expect(decodeJwt(token)).toMatchObject({
      iss: server.url,
      sub: alice,
      client_id: agentA,
      act: { sub: agentA },
      dlg,
      cnf: { jkt: expect.any(String) },
    });
  });

  it('token decode - shows who it acts for and the chain', async () => {
    const out = expectOk(await mandate(['token', 'decode', '-'], { input: `${token}\n` }));
    expect(out).toMatch(new RegExp(`^acts for\\s+${alice}$`, 'm'));
    expect(out).toMatch(new RegExp(`^chain\\s+${agentA}$`, 'm'));
    expect(out).toMatch(new RegExp(`^delegation\\s+${dlg}$`, 'm'));
    expect(out).toMatch(/^key-bound\s+yes \(jkt /m);
    expect(out).toMatch(/^actions\s+email\.read$/m);
  });

  it('token introspect (pep key, token as argument and on stdin) says active', async () => {
    const env = { MANDATE_URL: server.url, MANDATE_KEY: pepKey };
    for (const result of [
      await mandate(['token', 'introspect', token], { env }),
      await mandate(['token', 'introspect', '-'], { env, input: token }),
    ]) {
      const out = expectOk(result);
      expect(out).toMatch(/^active\s+yes$/m);
      expect(out).toMatch(new RegExp(`^acts for\\s+${alice}$`, 'm'));
      expect(out).toMatch(new RegExp(`^chain\\s+${agentA}$`, 'm'));
      expect(out).toMatch(new RegExp(`^delegation\\s+${dlg}$`, 'm'));
      expect(out).toMatch(/^type\s+DPoP$/m);
    }
    const json = parseJson(await mandate(['--json', 'token', 'introspect', token], { env }));
    expect(json).toMatchObject({ active: true, sub: alice, client_id: agentA, dlg, token_type: 'DPoP' });
  });

  it('token introspect with an operator key (not pep/auditor/admin) is refused in one line', async () => {
    const operator = parseJson(
      await mandate(['--json', 'api-keys', 'create', '--name', 'ops', '--role', 'operator'], {
        env: adminEnv,
      }),
    ).secret as string;
    const line = expectOneLineError(
      await mandate(['--url', server.url, '--key', operator, 'token', 'introspect', token]),
      1,
    );
    expect(line).toMatch(/access_denied|forbidden/);
  });

  it('--json prints the whole token response: DPoP, expires_in ≤ 300, the scope', async () => {
    const issued = parseJson(
      await mandate(
        ['--json', 'token', 'exchange', '--agent', agentA, '--key-file', keyA, '--delegation', dlg],
        {
          env: agentEnv,
        },
      ),
    );
    expect(issued.token_type).toBe('DPoP');
    expect(issued.expires_in).toBeGreaterThan(0);
    expect(issued.expires_in).toBeLessThanOrEqual(300);
    expect(issued.access_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(issued.authorization_details?.[0]?.scope?.actions).toEqual(['email.read']);
  });

  it('--no-dpop gives a Bearer token without cnf', async () => {
    const text = await mandate(
      ['token', 'exchange', '--agent', agentA, '--key-file', keyA, '--delegation', dlg, '--no-dpop'],
      { env: agentEnv },
    );
    const bearer = expectToken(text, 'Bearer');
    expect(text.stderr).not.toContain('DPoP');
    expect(decodeJwt(bearer).cnf).toBeUndefined();
    const issued = parseJson(
      await mandate(
        [
          '--json',
          'token',
          'exchange',
          '--agent',
          agentA,
          '--key-file',
          keyA,
          '--delegation',
          dlg,
          '--no-dpop',
        ],
        { env: agentEnv },
      ),
    );
    expect(issued.token_type).toBe('Bearer');
  });

  it('--scope, --audience and --resource narrow and address the token; a wider --scope is refused', async () => {
    const wide = await grant(agentA, ['email.*']);
    const issued = parseJson(
      await mandate(
        [
          '--json',
          'token',
          'exchange',
          '--agent',
          agentA,
          '--key-file',
          keyA,
          '--delegation',
          wide,
          '--scope',
          'email.read',
          '--audience',
          'https://mail.example',
          '--resource',
          'https://api.example/mail',
        ],
        { env: agentEnv },
      ),
    );
    const claims = decodeJwt(issued.access_token);
    expect([claims.aud].flat().sort()).toEqual(['https://api.example/mail', 'https://mail.example']);
    // biome-ignore lint/suspicious/noExplicitAny: a claim of our own
    expect((claims as any).authorization_details[0].scope.actions).toEqual(['email.read']);

    const line = expectOneLineError(
      await mandate(
        [
          'token',
          'exchange',
          '--agent',
          agentA,
          '--key-file',
          keyA,
          '--delegation',
          wide,
          '--scope',
          'calendar.read',
        ],
        { env: agentEnv },
      ),
      1,
    );
    expect(line).toContain('invalid_scope');
    const target = expectOneLineError(
      await mandate(
        [
          'token',
          'exchange',
          '--agent',
          agentA,
          '--key-file',
          keyA,
          '--delegation',
          wide,
          '--resource',
          'not a uri',
        ],
        { env: agentEnv },
      ),
      1,
    );
    expect(target).toContain('invalid_target');
  });

  it('--subject-token - reads the token from stdin (here: no delegation from A to B, so invalid_grant)', async () => {
    const line = expectOneLineError(
      await mandate(['token', 'exchange', '--agent', agentB, '--key-file', keyB, '--subject-token', '-'], {
        env: agentEnv,
        input: `${token}\n`,
      }),
      1,
    );
    expect(line).toContain('invalid_grant');
  });

  it('after delegations revoke: introspect prints inactive (exit 3), a new exchange fails with invalid_grant', async () => {
    expect(
      expectOk(await mandate(['delegations', 'revoke', dlg, '--reason', 'done with it'], { env: adminEnv })),
    ).toContain(dlg);
    const inactive = await mandate(['--key', pepKey, 'token', 'introspect', token], { env: agentEnv });
    expect([inactive.code, inactive.stdout, inactive.stderr]).toEqual([3, 'inactive\n', '']);
    const json = await mandate(['--json', '--key', pepKey, 'token', 'introspect', token], { env: agentEnv });
    expect(JSON.parse(json.stdout)).toEqual({ active: false });
    expect(json.code).toBe(3);

    const line = expectOneLineError(
      await mandate(['token', 'exchange', '--agent', agentA, '--key-file', keyA, '--delegation', dlg], {
        env: agentEnv,
      }),
      1,
    );
    expect(line).toContain('invalid_grant');
    expect(line).toContain('revoked');
  });
});

describe('standing delegations and token exchange --standing', { timeout: TEST_TIMEOUT }, () => {
  let standing: string;
  let standingToken: string;
  const standingArgs = (...extra: string[]) => [
    'delegations',
    'grant',
    '--agent',
    agentB,
    '--purpose',
    'nightly digest',
    '--action',
    'email.read',
    '--resource',
    'mailbox:alice/*',
    '--expires',
    '2h',
    '--standing',
    ...extra,
  ];

  it('without a standing delegation, --standing fails with invalid_grant', async () => {
    const line = expectOneLineError(
      await mandate(['token', 'exchange', '--agent', agentB, '--key-file', keyB, '--standing'], {
        env: agentEnv,
      }),
      1,
    );
    expect(line).toContain('invalid_grant');
  });

  it('an admin cannot grant --standing without --for, nor for someone other than the owner', async () => {
    expect(expectOneLineError(await mandate(standingArgs(), { env: adminEnv }), 1)).toContain(
      'invalid_request',
    );
    const line = expectOneLineError(await mandate(standingArgs('--for', bob), { env: adminEnv }), 1);
    expect(line).toContain('owner');
  });

  it('an admin records a standing grant for the owner (--for)', async () => {
    const view = parseJson(await mandate(['--json', ...standingArgs('--for', alice)], { env: adminEnv }));
    expect(view).toMatchObject({ standing: true, rootUserId: alice, delegateAgentId: agentB, live: true });
    standing = view.id;
    const text = expectOk(await mandate(['delegations', 'show', standing], { env: adminEnv }));
    expect(text).toMatch(/^standing\s+yes/m);
  });

  it('token exchange --standing: the token acts for the agent itself', async () => {
    standingToken = expectToken(
      await mandate(['token', 'exchange', '--agent', agentB, '--key-file', keyB, '--standing'], {
        env: agentEnv,
      }),
    );
    const claims = decodeJwt(standingToken);
    expect(claims).toMatchObject({ sub: agentB, client_id: agentB, dlg: standing });
    expect(claims.act).toBeUndefined();
    const decoded = expectOk(await mandate(['token', 'decode', standingToken]));
    expect(decoded).toMatch(new RegExp(`^acts for\\s+${agentB}$`, 'm'));
    expect(decoded).toMatch(new RegExp(`^chain\\s+${agentB}$`, 'm'));
    const introspected = expectOk(
      await mandate(['--key', pepKey, 'token', 'introspect', standingToken], { env: agentEnv }),
    );
    expect(introspected).toMatch(new RegExp(`^acts for\\s+${agentB}$`, 'm'));
  });

  it("another agent cannot use it (--standing for A; B's standing delegation named by A)", async () => {
    expect(
      expectOneLineError(
        await mandate(['token', 'exchange', '--agent', agentA, '--key-file', keyA, '--standing'], {
          env: agentEnv,
        }),
        1,
      ),
    ).toContain('invalid_grant');
    expect(
      expectOneLineError(
        await mandate(
          [
            'token',
            'exchange',
            '--agent',
            agentA,
            '--key-file',
            keyA,
            '--standing',
            '--delegation',
            standing,
          ],
          { env: agentEnv },
        ),
        1,
      ),
    ).toContain('invalid_grant');
  });

  it('token revoke with the admin key: introspect then says inactive (exit 3)', async () => {
    const before = await mandate(['--key', pepKey, 'token', 'introspect', standingToken], { env: agentEnv });
    expect(before.code).toBe(0);
    expect(
      expectOk(await mandate(['token', 'revoke', '-'], { env: adminEnv, input: standingToken })),
    ).toContain('revoked');
    const after = await mandate(['--key', pepKey, 'token', 'introspect', '-'], {
      env: agentEnv,
      input: standingToken,
    });
    expect([after.code, after.stdout, after.stderr]).toEqual([3, 'inactive\n', '']);
    // Revoking the token leaves the delegation usable: a new token can be had.
    expectToken(
      await mandate(['token', 'exchange', '--agent', agentB, '--key-file', keyB, '--standing'], {
        env: agentEnv,
      }),
    );
  });

  it('token revoke needs the admin role (the pep key is refused in one line)', async () => {
    const fresh = expectToken(
      await mandate(['token', 'exchange', '--agent', agentB, '--key-file', keyB, '--standing'], {
        env: agentEnv,
      }),
    );
    expect(
      expectOneLineError(await mandate(['--key', pepKey, 'token', 'revoke', fresh], { env: agentEnv }), 1),
    ).toMatch(/access_denied|forbidden/);
    expect((await mandate(['--key', pepKey, 'token', 'introspect', fresh], { env: agentEnv })).code).toBe(0);
  });
});

describe('token exchange errors: one line, non-zero exit', { timeout: TEST_TIMEOUT }, () => {
  let dlg: string;
  beforeAll(async () => {
    dlg = await grant(agentA, ['email.read']);
  });
  const exchange = (...args: string[]) => ['token', 'exchange', '--agent', agentA, ...args];

  it('neither --delegation, --subject-token nor --standing', async () => {
    const line = expectOneLineError(await mandate(exchange('--key-file', keyA), { env: agentEnv }), 1);
    expect(line).toContain('--delegation');
    expect(line).toContain('--standing');
  });

  it('--standing with --subject-token', async () => {
    expect(
      expectOneLineError(
        await mandate(exchange('--key-file', keyA, '--standing', '--subject-token', 'x'), { env: agentEnv }),
        1,
      ),
    ).toContain('--subject-token');
  });

  it('a missing --agent or --key-file is a usage error', async () => {
    expect(
      expectOneLineError(
        await mandate(['token', 'exchange', '--key-file', keyA, '--delegation', dlg], { env: agentEnv }),
      ),
    ).toContain('--agent');
    expect(
      expectOneLineError(
        await mandate(['token', 'exchange', '--agent', agentA, '--delegation', dlg], { env: agentEnv }),
      ),
    ).toContain('--key-file');
  });

  it('a key file that does not exist', async () => {
    const missing = tmp('no-such.jwk');
    const line = expectOneLineError(
      await mandate(exchange('--key-file', missing, '--delegation', dlg), { env: agentEnv }),
      1,
    );
    expect(line).toContain(missing);
    expect(line).toContain('ENOENT');
  });

  it('a key file holding only the public key', async () => {
    const line = expectOneLineError(
      await mandate(exchange('--key-file', publicOnly, '--delegation', dlg), { env: agentEnv }),
      1,
    );
    expect(line).toContain(publicOnly);
    expect(line).toContain('not a private');
  });

  it('a key file that is not JSON', async () => {
    const junk = tmp('junk.jwk');
    fs.writeFileSync(junk, 'not json');
    expect(
      expectOneLineError(
        await mandate(exchange('--key-file', junk, '--delegation', dlg), { env: agentEnv }),
        1,
      ),
    ).toContain('not JSON');
  });

  it("another key than the agent's: invalid_client", async () => {
    const line = expectOneLineError(
      await mandate(exchange('--key-file', keyOther, '--delegation', dlg), { env: agentEnv }),
      1,
    );
    expect(line).toContain('invalid_client');
  });

  it("the agent's own key under another agent's id: invalid_client", async () => {
    const line = expectOneLineError(
      await mandate(['token', 'exchange', '--agent', agentB, '--key-file', keyA, '--delegation', dlg], {
        env: agentEnv,
      }),
      1,
    );
    expect(line).toContain('invalid_client');
  });

  // `token exchange` uses no API key: an invalid_client points at the agent's key and the URL
  // (earlier builds said "check --key or MANDATE_KEY" for every 401).
  it('invalid_client does not send the user to check the API key (--key / MANDATE_KEY)', async () => {
    const line = expectOneLineError(
      await mandate(exchange('--key-file', keyOther, '--delegation', dlg), { env: agentEnv }),
      1,
    );
    expect(line).toContain('invalid_client');
    expect(line).not.toContain('MANDATE_KEY');
    expect(line).toContain('--key-file');
  });

  it('a --url other than the issuer (localhost for 127.0.0.1): the assertion names the wrong URL, invalid_client', async () => {
    const other = server.url.replace('127.0.0.1', 'localhost');
    const line = expectOneLineError(
      await mandate(['--url', other, ...exchange('--key-file', keyA, '--delegation', dlg)]),
      1,
    );
    expect(line).toContain('invalid_client');
  });

  it('an unknown delegation id: invalid_grant', async () => {
    const line = expectOneLineError(
      await mandate(exchange('--key-file', keyA, '--delegation', 'dlg_00000000000000000000000000'), {
        env: agentEnv,
      }),
      1,
    );
    expect(line).toContain('invalid_grant');
  });

  it('server down: one line, "cannot reach" and "connection refused"', async () => {
    const port = await closedPort();
    const line = expectOneLineError(
      await mandate([
        '--url',
        `http://127.0.0.1:${port}`,
        ...exchange('--key-file', keyA, '--delegation', dlg),
      ]),
      1,
    );
    expect(line).toContain('cannot reach');
    expect(line).toContain(String(port));
    expect(line).toContain('connection refused');
  });

  it('--url given on the command line wins over MANDATE_URL', async () => {
    const port = await closedPort();
    expectToken(
      await mandate(['--url', server.url, ...exchange('--key-file', keyA, '--delegation', dlg)], {
        env: { MANDATE_URL: `http://127.0.0.1:${port}` },
      }),
    );
  });
});

describe('signing-keys list / rotate', { timeout: TEST_TIMEOUT }, () => {
  const platform = (...args: string[]) => mandate(['--key', PLATFORM_KEY, ...args], { env: agentEnv });

  it('list with the platform key shows one active, published key', async () => {
    const keys = parseJson(await platform('--json', 'signing-keys', 'list'));
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ status: 'active', published: true, kid: expect.any(String) });
    const table = expectOk(await platform('signing-keys', 'list'));
    expect(table).toMatch(/^KID\s+STATUS\s+CREATEDAT\s+RETIREDAT\s+PUBLISHUNTIL\s+PUBLISHED$/m);
    expect(table).toMatch(new RegExp(`^${keys[0].kid.replace(/[-]/g, '\\-')}\\s+active\\s`, 'm'));
  });

  it('rotate: list then shows two; old tokens stay valid, new ones carry the new kid', async () => {
    const dlg = await grant(agentA, ['email.read']);
    const before = expectToken(
      await mandate(['token', 'exchange', '--agent', agentA, '--key-file', keyA, '--delegation', dlg], {
        env: agentEnv,
      }),
    );
    const [old] = parseJson(await platform('--json', 'signing-keys', 'list'));
    expect(decodeProtectedHeader(before).kid).toBe(old.kid);

    const rotated = expectOk(await platform('signing-keys', 'rotate'));
    const match = /^signing with (\S+); retired (\S+)\n$/.exec(rotated);
    expect(match, rotated).not.toBeNull();
    const [, newKid, retired] = match as RegExpExecArray;
    expect(retired).toBe(old.kid);
    expect(newKid).not.toBe(old.kid);

    const keys = parseJson(await platform('--json', 'signing-keys', 'list'));
    expect(keys).toHaveLength(2);
    expect(keys.find((k: { kid: string }) => k.kid === newKid)).toMatchObject({
      status: 'active',
      published: true,
    });
    expect(keys.find((k: { kid: string }) => k.kid === old.kid)).toMatchObject({
      status: 'retired',
      published: true,
      retiredAt: expect.any(String),
      publishUntil: expect.any(String),
    });

    expect((await mandate(['--key', pepKey, 'token', 'introspect', before], { env: agentEnv })).code).toBe(0);
    const after = expectToken(
      await mandate(['token', 'exchange', '--agent', agentA, '--key-file', keyA, '--delegation', dlg], {
        env: agentEnv,
      }),
    );
    expect(decodeProtectedHeader(after).kid).toBe(newKid);
    expect((await mandate(['--key', pepKey, 'token', 'introspect', after], { env: agentEnv })).code).toBe(0);
  });

  it('an org admin key is forbidden, in one line, for list and rotate (nothing rotated)', async () => {
    for (const sub of ['list', 'rotate']) {
      const line = expectOneLineError(await mandate(['signing-keys', sub], { env: adminEnv }), 1);
      expect(line).toContain('forbidden');
      expect(line).toContain('platform key');
    }
    expect(parseJson(await platform('--json', 'signing-keys', 'list'))).toHaveLength(2);
  });

  it('no key at all: one line mentioning MANDATE_KEY', async () => {
    expect(expectOneLineError(await mandate(['signing-keys', 'list'], { env: agentEnv }), 1)).toContain(
      'MANDATE_KEY',
    );
  });
});
