/**
 * End-to-end tests of the built `mandate` binary, used the way a new user would: every call
 * spawns `node packages/server/dist/cli/main.js …` against a real server on a real port.
 */
import { execFile, execSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, REPO, type Server, startServer } from '../processes.js';

const TEST_TIMEOUT = 60_000;
const CALL_TIMEOUT_MS = 15_000;

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-cli-'));
const tmp = (name: string) => path.join(tmpRoot, name);

/** The environment without any MANDATE_* variable of whoever runs the tests. */

interface Result {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

/** One CLI call; never throws, always bounded. */
function mandate(args: string[], options: RunOptions = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: options.cwd ?? tmpRoot,
        env: cleanEnv(options.env),
        timeout: options.timeoutMs ?? CALL_TIMEOUT_MS,
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
  });
}

/** A usage or runtime error: non-zero exit, nothing on stdout, exactly one `mandate: …` line on stderr. */
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

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const HELP_TREE: Record<string, string[]> = {
  serve: [],
  init: [],
  agents: [
    'register',
    'list',
    'show',
    'activate',
    'suspend',
    'resume',
    'revoke',
    'renew',
    'rotate-key',
    'transfer',
  ],
  users: ['create', 'list', 'show', 'update', 'offboard'],
  'api-keys': ['create', 'list', 'show', 'revoke'],
  orgs: ['create', 'list', 'show'],
  keygen: [],
  delegations: ['grant', 'list', 'show', 'tree', 'revoke'],
  token: ['exchange', 'decode', 'introspect', 'revoke'],
  'signing-keys': ['list', 'rotate'],
  policies: ['publish', 'validate', 'list', 'show', 'diff', 'activate'],
  entities: ['put', 'list', 'show', 'delete'],
  check: [],
  killswitch: ['lock', 'release', 'status'],
  'mcp-gateway': ['tools'],
  approvals: ['list', 'show', 'approve', 'deny', 'cancel', 'watch'],
  audit: [
    'tail',
    'show',
    'explain',
    'checkpoint',
    'verifier-key',
    'proof',
    'verify-proof',
    'export',
    'verify',
  ],
};

/** The command names in a help text's "Commands:" section (without `help`). */
function commandsIn(help: string): string[] {
  const section = help.split(/^Commands:\n/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)]
    .map((m) => m[1] as string)
    .filter((name) => name !== 'help');
}

let server: Server;
let adminKey: string;
let apiEnv: Record<string, string>;

beforeAll(async () => {
  execSync('npx tsc -b', { cwd: REPO, stdio: 'pipe', timeout: 120_000 });
  expect(fs.existsSync(BIN)).toBe(true);
  server = await startServer(tmp('server'));
  expect(server.adminKey, server.output()).toMatch(/^mk_key_/);
  adminKey = server.adminKey as string;
  apiEnv = { MANDATE_URL: server.url, MANDATE_KEY: adminKey };
}, 150_000);

afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
}, 30_000);

describe('mandate serve (started for these tests)', { timeout: TEST_TIMEOUT }, () => {
  it('prints the store, the one-time admin key and the URL; logs nothing at level silent', () => {
    const out = server.output();
    expect(out).toMatch(/^Mandate \S+: SQLite store in /);
    expect(out).toMatch(/^ {2}mk_key_\S+$/m);
    expect(out).toMatch(/^Listening on http:\/\/127\.0\.0\.1:\d+$/m);
    expect(server.url).not.toMatch(/:0$/);
    expect(server.errors()).toBe('');
  });
});

describe('help', { timeout: 3 * TEST_TIMEOUT }, () => {
  it('mandate --help lists every command, and --help of every command and subcommand works', async () => {
    const top = await mandate(['--help']);
    expect(expectOk(top)).toContain('Usage:');
    const commands = commandsIn(top.stdout);
    expect(commands.sort()).toEqual(Object.keys(HELP_TREE).sort());

    // Four processes at a time: one after another, ~60 of them no longer fit the timeout.
    const inBatches = async <T>(items: T[], work: (item: T) => Promise<void>) => {
      for (let i = 0; i < items.length; i += 4) await Promise.all(items.slice(i, i + 4).map(work));
    };
    const pairs: Array<[string, string]> = [];
    await inBatches(commands, async (command) => {
      const help = await mandate([command, '--help']);
      expect(expectOk(help), command).toContain(`Usage: mandate ${command}`);
      const subcommands = commandsIn(help.stdout);
      expect(subcommands.sort(), command).toEqual([...(HELP_TREE[command] ?? [])].sort());
      for (const sub of subcommands) pairs.push([command, sub]);
    });
    await inBatches(pairs, async ([command, sub]) => {
      const subHelp = await mandate([command, sub, '--help']);
      expect(expectOk(subHelp), `${command} ${sub}`).toContain(`Usage: mandate ${command} ${sub}`);
    });
  });
});

describe('usage errors: one line, non-zero exit, before any network call', { timeout: TEST_TIMEOUT }, () => {
  it('a wrong flag names the flag', async () => {
    const line = expectOneLineError(await mandate(['agents', 'list', '--wrong']));
    expect(line).toContain('--wrong');
  });

  it('an unknown command', async () => {
    expect(expectOneLineError(await mandate(['bogus']))).toContain('bogus');
  });

  it('an unknown subcommand', async () => {
    expect(expectOneLineError(await mandate(['agents', 'bogus']))).toContain('bogus');
  });

  it('a missing required option: agents register without flags', async () => {
    expect(expectOneLineError(await mandate(['agents', 'register']))).toMatch(/required option '--\w+/);
  });

  it('suspend without --reason', async () => {
    const line = expectOneLineError(
      await mandate(['agents', 'suspend', 'agt_00000000000000000000000000'], { env: apiEnv }),
    );
    expect(line).toContain('--reason');
  });

  it('a choice option given a wrong value (--data-class)', async () => {
    const line = expectOneLineError(
      await mandate([
        'agents',
        'register',
        '--name',
        'a',
        '--owner',
        'usr_x',
        '--key-file',
        'k',
        '--action',
        'a',
        '--resource',
        'r',
        '--data-class',
        'secretish',
      ]),
    );
    expect(line).toContain('secretish');
  });

  it('a wrong --role is refused locally, naming the choices', async () => {
    const port = await closedPort();
    const result = await mandate([
      '--url',
      `http://127.0.0.1:${port}`,
      '--key',
      'x',
      'users',
      'create',
      '--name',
      'x',
      '--role',
      'nope',
    ]);
    const line = expectOneLineError(result);
    expect(line).toContain('nope');
    expect(line).toMatch(/choices/i);
  });

  it('--url that is not a URL', async () => {
    expect(
      expectOneLineError(await mandate(['--url', 'not a url', '--key', 'x', 'agents', 'list']), 1),
    ).toContain('--url');
  });
});

describe('connection and authentication errors', { timeout: TEST_TIMEOUT }, () => {
  it('server down: one line containing "cannot reach"', async () => {
    const port = await closedPort();
    const line = expectOneLineError(
      await mandate(['--url', `http://127.0.0.1:${port}`, '--key', adminKey, 'agents', 'list']),
      1,
    );
    expect(line).toContain('cannot reach');
    expect(line).toContain(String(port));
  });

  it('no key: one line mentioning MANDATE_KEY', async () => {
    const line = expectOneLineError(await mandate(['--url', server.url, 'agents', 'list']), 1);
    expect(line).toContain('MANDATE_KEY');
  });

  it('a bad key: one line with "unauthorized"', async () => {
    const line = expectOneLineError(
      await mandate(['--url', server.url, '--key', 'mk_key_bogus', 'agents', 'list']),
      1,
    );
    expect(line).toContain('unauthorized');
  });

  it('a well-formed but wrong secret given by --key (over MANDATE_KEY): "unauthorized", the secret not echoed', async () => {
    const wrong = `${adminKey.slice(0, adminKey.lastIndexOf('_'))}_wrongwrongwrongwrongwrong`;
    const line = expectOneLineError(await mandate(['--key', wrong, 'users', 'list'], { env: apiEnv }), 1);
    expect(line).toContain('unauthorized');
    expect(line).not.toContain('wrongwrong');
  });
});

describe('not found and malformed ids', { timeout: TEST_TIMEOUT }, () => {
  it('an unknown agent id: exit 1, one line "agent not found"', async () => {
    const line = expectOneLineError(
      await mandate(['agents', 'show', 'agt_00000000000000000000000000'], { env: apiEnv }),
      1,
    );
    expect(line).toContain('agent not found');
  });

  it('a malformed agent id: exit 1, one line', async () => {
    const line = expectOneLineError(await mandate(['agents', 'show', 'not-an-id'], { env: apiEnv }), 1);
    expect(line).toContain('agt_');
  });
});

describe('keygen', { timeout: TEST_TIMEOUT }, () => {
  it('refuses to overwrite a file without --force, in one line', async () => {
    const file = tmp('exists.jwk');
    fs.writeFileSync(file, 'keep me');
    const line = expectOneLineError(await mandate(['keygen', '--out', file]), 1);
    expect(line).toContain('--force');
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  });
});

describe('the happy path, with MANDATE_URL and MANDATE_KEY', { timeout: TEST_TIMEOUT }, () => {
  const run = (...args: string[]) => mandate(args, { env: apiEnv });
  let alice: string;
  let bob: string;
  let agentId: string;
  let oldKid: string;
  let newKid: string;
  const key1 = tmp('agent-1.jwk');
  const key2 = tmp('agent-2.jwk');

  it('users create / list / show / update', async () => {
    const created = parseJson(
      await run(
        '--json',
        'users',
        'create',
        '--name',
        'Alice',
        '--email',
        'alice@example.com',
        '--role',
        'admin',
      ),
    );
    expect(created).toMatchObject({ displayName: 'Alice', roles: ['admin'], status: 'active' });
    expect(created.id).toMatch(/^usr_/);
    alice = created.id;

    const text = expectOk(await run('users', 'create', '--name', 'Bob'));
    bob = /^id\s+(usr_\S+)$/m.exec(text)?.[1] as string;
    expect(bob).toMatch(/^usr_/);
    expect(text).toMatch(/^name\s+Bob$/m);

    const table = expectOk(await run('users', 'list'));
    expect(table).toMatch(/^ID\s+NAME\s+KIND\s+ROLES\s+STATUS$/m);
    expect(table).toContain(alice);
    expect(table).toContain(bob);
    expect(expectOk(await run('users', 'show', alice))).toMatch(/^email\s+alice@example\.com$/m);
    const updated = parseJson(await run('--json', 'users', 'update', alice, '--name', 'Alice A.'));
    expect(updated.displayName).toBe('Alice A.');
  });

  it('keygen --out writes a 0600 private key file and prints only the public JWK', async () => {
    const out = expectOk(await run('keygen', '--out', key1));
    expect(fs.statSync(key1).mode & 0o777).toBe(0o600);
    const priv = JSON.parse(fs.readFileSync(key1, 'utf8'));
    expect(priv.d, 'the file is the private key').toEqual(expect.any(String));
    expect(out).not.toContain(priv.d);

    const jsonLine = out.trimEnd().split('\n').at(-1) as string;
    const pub = JSON.parse(jsonLine);
    expect(pub).not.toHaveProperty('d');
    expect(pub).toMatchObject({ kty: 'OKP', crv: 'Ed25519', x: priv.x });
    oldKid = /^kid (\S+)$/m.exec(out)?.[1] as string;
    expect(oldKid).toBe(priv.kid);
  });

  it('agents register --key-file <private file> sends only the public key', async () => {
    const agent = parseJson(
      await run(
        '--json',
        'agents',
        'register',
        '--name',
        'mail-bot',
        '--owner',
        alice,
        '--key-file',
        key1,
        '--action',
        'email.*',
        '--resource',
        'mailbox:alice/*',
        '--label',
        'ops',
        '--meta',
        'model=test',
      ),
    );
    expect(agent.id).toMatch(/^agt_/);
    expect(agent.status).toBe('pending');
    expect(agent.keys[0].jwk).not.toHaveProperty('d');
    agentId = agent.id;

    const shown = parseJson(await run('--json', 'agents', 'show', agentId));
    expect(shown.keys).toHaveLength(1);
    expect(shown.keys[0].kid).toBe(oldKid);
    expect(shown.keys[0].jwk).not.toHaveProperty('d');
    expect(JSON.stringify(shown)).not.toContain(JSON.parse(fs.readFileSync(key1, 'utf8')).d);

    const text = expectOk(await run('agents', 'show', agentId));
    expect(text).toMatch(new RegExp(`^id\\s+${agentId}$`, 'm'));
    expect(text).toMatch(/^status\s+pending$/m);
  });

  it('agents register with the same key again is refused in one line', async () => {
    const line = expectOneLineError(
      await run(
        'agents',
        'register',
        '--name',
        'dup',
        '--owner',
        alice,
        '--key-file',
        key1,
        '--action',
        'email.*',
        '--resource',
        'mailbox:alice/*',
      ),
      1,
    );
    expect(line).toContain('key');
  });

  it('agents register with a key file that is missing: one line', async () => {
    const args = [
      'agents',
      'register',
      '--name',
      'x',
      '--owner',
      alice,
      '--action',
      'a',
      '--resource',
      'r',
      '--key-file',
    ];
    expect(expectOneLineError(await run(...args, tmp('missing.jwk')), 1)).toContain('missing.jwk');
  });

  it('agents list: a table, and parseable --json', async () => {
    const table = expectOk(await run('agents', 'list'));
    expect(table).toMatch(/^ID\s+NAME\s+STATUS\s+OWNER\s+EXPIRES$/m);
    expect(table).toMatch(new RegExp(`^${agentId}\\s+mail-bot\\s+pending\\s+${alice}\\s`, 'm'));
    const page = parseJson(await run('--json', 'agents', 'list', '--status', 'pending'));
    expect(page.items.map((a: { id: string }) => a.id)).toContain(agentId);
  });

  it('activate, suspend --reason, resume, renew', async () => {
    expect(expectOk(await run('agents', 'activate', agentId))).toBe(`${agentId} is now active\n`);

    const suspended = parseJson(
      await run('--json', 'agents', 'suspend', agentId, '--reason', 'investigating'),
    );
    expect(suspended.status).toBe('suspended');
    expect(suspended.lastStatusChange.reason).toBe('investigating');

    expect(expectOk(await run('agents', 'resume', agentId))).toBe(`${agentId} is now active\n`);

    const before = suspended.expiresAt as string;
    const later = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const renewed = parseJson(
      await run('--json', 'agents', 'renew', agentId, '--expires-at', later, '--reason', 'another month'),
    );
    expect(renewed.status).toBe('active');
    expect(Date.parse(renewed.expiresAt)).toBe(Date.parse(later));
    expect(renewed.expiresAt).not.toBe(before);
  });

  it('an illegal transition is one line (activate an active agent)', async () => {
    expect(expectOneLineError(await run('agents', 'activate', agentId), 1)).toContain('active');
  });

  it('rotate-key --add <new file>, then --retire <old kid>', async () => {
    const gen = parseJson(await run('--json', 'keygen', '--out', key2, '--alg', 'ES256'));
    newKid = gen.kid;
    expect(gen.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(gen.publicJwk).not.toHaveProperty('d');
    expect(fs.statSync(key2).mode & 0o777).toBe(0o600);

    const added = parseJson(await run('--json', 'agents', 'rotate-key', agentId, '--add', key2));
    expect(added.keys.map((k: { kid: string; status: string }) => [k.kid, k.status])).toEqual([
      [oldKid, 'active'],
      [newKid, 'active'],
    ]);
    for (const key of added.keys) expect(key.jwk).not.toHaveProperty('d');

    const table = expectOk(
      await run('agents', 'rotate-key', agentId, '--retire', oldKid, '--reason', 'rotation'),
    );
    expect(table).toMatch(/^KID\s+CURVE\s+STATUS\s+ADDED$/m);
    expect(table).toMatch(new RegExp(`^${oldKid}\\s+Ed25519\\s+retired\\s`, 'm'));
    expect(table).toMatch(new RegExp(`^${newKid}\\s+P-256\\s+active\\s`, 'm'));
  });

  it('transfer --to', async () => {
    expect(expectOk(await run('agents', 'transfer', agentId, '--to', bob, '--reason', 'team change'))).toBe(
      `${agentId} is now owned by ${bob}\n`,
    );
    const back = parseJson(
      await run('--json', 'agents', 'transfer', agentId, '--to', alice, '--reason', 'back again'),
    );
    expect(back.ownerId).toBe(alice);
  });

  it('revoke --reason; a revoked agent cannot be resumed', async () => {
    const revoked = parseJson(await run('--json', 'agents', 'revoke', agentId, '--reason', 'decommissioned'));
    expect(revoked.status).toBe('revoked');
    expect(expectOk(await run('agents', 'list', '--status', 'revoked'))).toContain(agentId);
    expectOneLineError(await run('agents', 'resume', agentId), 1);
  });

  it('api-keys create (secret printed once), list, show, revoke; a revoked key stops working', async () => {
    const text = expectOk(await run('api-keys', 'create', '--name', 'ci', '--role', 'auditor'));
    const secret = /^(mk_key_\S+)$/m.exec(text)?.[1] as string;
    expect(secret).toBeDefined();
    expect(text.split(secret).length - 1, 'the secret appears once').toBe(1);
    expect(text).toMatch(/shown only now/);
    const keyId = /^id\s+(key_\S+)$/m.exec(text)?.[1] as string;
    expect(keyId).toMatch(/^key_/);

    const created = parseJson(
      await run('--json', 'api-keys', 'create', '--name', 'ci-2', '--role', 'operator', '--role', 'auditor'),
    );
    expect(created.secret).toMatch(/^mk_key_/);
    expect(created.key.roles).toEqual(['operator', 'auditor']);

    // The new key works for what its role allows.
    expect(
      parseJson(
        await mandate(['--json', 'agents', 'list'], {
          env: { MANDATE_URL: server.url, MANDATE_KEY: secret },
        }),
      ).items,
    ).toEqual(expect.any(Array));

    const table = expectOk(await run('api-keys', 'list'));
    expect(table).toMatch(/^ID\s+NAME\s+ROLES\s+STATUS\s+LAST USED$/m);
    expect(table).toMatch(new RegExp(`^${keyId}\\s+ci\\s+auditor\\s+active\\s`, 'm'));
    expect(table).not.toContain(secret);
    const listedText = expectOk(await run('--json', 'api-keys', 'list'));
    const listed = JSON.parse(listedText);
    expect(listed.items.map((k: { id: string }) => k.id)).toEqual(
      expect.arrayContaining([keyId, created.key.id]),
    );
    expect(listedText).not.toContain(secret);
    expect(listedText).not.toContain(created.secret);

    const shown = parseJson(await run('--json', 'api-keys', 'show', keyId));
    expect(shown).toMatchObject({ id: keyId, name: 'ci', roles: ['auditor'] });
    expect(JSON.stringify(shown)).not.toContain(secret);

    expect(expectOk(await run('api-keys', 'revoke', keyId, '--reason', 'leaked'))).toBe(
      `${keyId} is revoked\n`,
    );
    const revoked = parseJson(await run('--json', 'api-keys', 'revoke', created.key.id));
    expect(revoked.revokedAt).toEqual(expect.any(String));

    const line = expectOneLineError(
      await mandate(['agents', 'list'], { env: { MANDATE_URL: server.url, MANDATE_KEY: secret } }),
      1,
    );
    expect(line).toContain('unauthorized');
  });

  it('users offboard', async () => {
    expect(expectOk(await run('users', 'offboard', bob, '--reason', 'left the company'))).toBe(
      `${bob} is offboarded\n`,
    );
  });
});

describe('mandate init', { timeout: TEST_TIMEOUT }, () => {
  const dataDir = tmp('init/data');
  let platformKey: string;
  let initAdminKey: string;
  let initServer: Server | undefined;

  afterAll(async () => {
    await initServer?.stop();
  }, 15_000);

  it('prints an admin key and a platform key; a second run refuses in one line', async () => {
    fs.mkdirSync(tmp('init'), { recursive: true });
    const out = expectOk(await mandate(['init', '--data-dir', dataDir], { cwd: tmp('init') }));
    expect(out).toContain(`Initialised ${dataDir}`);
    initAdminKey = /^\s+(mk_key_\S+)$/m.exec(out)?.[1] as string;
    platformKey = /^\s+(mpk_\S+)$/m.exec(out)?.[1] as string;
    expect(initAdminKey).toMatch(/^mk_key_/);
    expect(platformKey).toMatch(/^mpk_/);
    expect(fs.existsSync(path.join(dataDir, 'mandate.db'))).toBe(true);
    expect(fs.statSync(dataDir).mode & 0o777, 'the data folder is private').toBe(0o700);

    const again = await mandate(['init', '--data-dir', dataDir], { cwd: tmp('init') });
    expect(expectOneLineError(again)).toContain('already initialised');
    expect(again.stderr).not.toContain(initAdminKey);
  });

  it('a server on that data dir: the platform key manages orgs, the admin key may not', async () => {
    initServer = await startServer(dataDir);
    expect(initServer.adminKey, 'no new admin key is printed for an initialised folder').toBeUndefined();
    const at = (key: string, ...args: string[]) =>
      mandate(['--url', (initServer as Server).url, '--key', key, ...args]);

    const created = expectOk(await at(platformKey, 'orgs', 'create', '--name', 'x'));
    expect(created).toMatch(/^name\s+x$/m);
    const orgAdminKey = /^(mk_key_\S+)$/m.exec(created)?.[1];
    expect(orgAdminKey).toMatch(/^mk_key_/);

    const orgs = parseJson(await at(platformKey, '--json', 'orgs', 'list'));
    expect(orgs.items.map((o: { name: string }) => o.name)).toContain('x');
    const xId = orgs.items.find((o: { name: string }) => o.name === 'x').id;
    expect(expectOk(await at(platformKey, 'orgs', 'show', xId))).toMatch(/^name\s+x$/m);

    const refused = expectOneLineError(await at(initAdminKey, 'orgs', 'list'), 1);
    expect(refused).toMatch(/forbidden|platform key/);

    // The new org's admin key works inside its own org.
    expect(parseJson(await at(orgAdminKey as string, '--json', 'agents', 'list')).items).toEqual([]);
  });
});

describe('mandate serve with bad configuration', { timeout: TEST_TIMEOUT }, () => {
  const serveIn = async (name: string, env: Record<string, string>, args: string[] = []) => {
    const dir = tmp(name);
    fs.mkdirSync(dir, { recursive: true });
    return {
      dir,
      result: await mandate(['serve', ...args], {
        cwd: dir,
        env: { MANDATE_DATA_DIR: dir, MANDATE_LOG_LEVEL: 'silent', ...env },
        timeoutMs: 10_000,
      }),
    };
  };

  it('MANDATE_PORT=abc exits non-zero, stderr one line starting with "mandate: MANDATE_PORT:"', async () => {
    const { result } = await serveIn('bad-port', { MANDATE_PORT: 'abc' });
    expect(result.signal, 'exited by itself').toBeNull();
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^mandate: MANDATE_PORT: [^\n]+\n$/);
    expect(result.stdout).toBe('');
  });

  it('a bad port in mandate.yaml is blamed on mandate.yaml, not on --port', async () => {
    const dir = tmp('yaml-port');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'mandate.yaml'), 'port: x\n');
    const result = await mandate(['serve'], { cwd: dir, env: { MANDATE_DATA_DIR: dir }, timeoutMs: 10_000 });
    expect(expectOneLineError(result)).toMatch(/^mandate: mandate\.yaml: port: /);
  });

  it("a bad --data-dir is named as the user wrote it ('--data-dir')", async () => {
    const { result } = await serveIn('flag-data-dir', {}, ['--data-dir', '']);
    expect(expectOneLineError(result)).toMatch(/^mandate: --data-dir: /);
  });

  it('a port already in use: one line, non-zero', async () => {
    const port = Number(new URL(server.url).port);
    const { result } = await serveIn('port-in-use', { MANDATE_PORT: String(port) });
    expect(expectOneLineError(result)).toContain('already in use');
  });
});
