/**
 * `mandate mcp-gateway` as a user runs it, through the built binary: configuration errors are
 * one line naming the file and the key; then end to end through processes (a real `mandate
 * serve`, the gateway, the real `mcp-server-everything` over stdio as its upstream, and an agent
 * in this process speaking MCP with the SDK's client and DPoP-bound tokens for the gateway); and
 * on SIGTERM the gateway stops in bounded time and leaves no upstream process behind.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AgentCredentials, type IssuedToken } from '@mandate/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, ensureBuilt, REPO, type Server, startServer } from '../processes.js';

const TEST_TIMEOUT = 60_000;
const CALL_TIMEOUT_MS = 15_000;
/** The gateway prints its URL within this. */
const GATEWAY_START_MS = 15_000;
/** After SIGTERM the gateway is gone within this (its close gives a stdio upstream up to 4 s). */
const GATEWAY_STOP_MS = 10_000;
const MCP_TIMEOUT_MS = 15_000;
const EVERYTHING_BIN = path.join(REPO, 'node_modules/.bin/mcp-server-everything');

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-cli-mcp-gateway-'));
const tmp = (name: string) => path.join(tmpRoot, name);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// biome-ignore lint/suspicious/noExplicitAny: API answers, checked field by field
type Json = any;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One CLI call; never throws, always bounded. */
function mandate(args: string[], env: Record<string, string> = {}): Promise<Result> {
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

/** Non-zero exit (by itself, not the timeout), nothing on stdout, one `mandate: …` line on stderr. */
function expectOneLineError(result: Result): string {
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.code, 'ended by itself, not by the timeout').not.toBeNull();
  expect(result.stdout).toBe('');
  expect(result.stderr, 'exactly one line on stderr').toMatch(/^mandate: [^\n]+\n$/);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr).not.toMatch(/\bat .+\.js:\d+/);
  return result.stderr.trimEnd();
}

/** Writes `text` as a config file in the temp dir; returns its path. */
function configFile(name: string, text: string): string {
  const file = tmp(name);
  fs.writeFileSync(file, text);
  return file;
}

const MANDATE_SECTION = 'mandate: { url: http://127.0.0.1:1, apiKey: mk_key_unused }';

beforeAll(async () => {
  await ensureBuilt();
}, 180_000);

describe('configuration errors: one line naming the file and the key', { timeout: TEST_TIMEOUT }, () => {
  it('a file that does not exist', async () => {
    const missing = tmp('no-such-mandate.yaml');
    const line = expectOneLineError(await mandate(['mcp-gateway', '--config', missing]));
    expect(line).toContain(missing);
    expect(line).toContain('cannot read');
    expect(line).toContain('ENOENT');
  });

  it('not valid YAML', async () => {
    const file = configFile('broken.yaml', 'mcpGateway:\n  listen: { host: 127.0.0.1\n  upstreams: [\n');
    const line = expectOneLineError(await mandate(['mcp-gateway', '--config', file]));
    expect(line).toContain(file);
    expect(line).toContain('not valid YAML');
  });

  it('no mcpGateway section at all', async () => {
    const file = configFile('server-only.yaml', 'server: { port: 7070 }\n');
    const line = expectOneLineError(await mandate(['mcp-gateway', '--config', file]));
    expect(line).toContain(file);
    expect(line).toContain('mcpGateway');
  });

  it('mcpGateway.mandate missing', async () => {
    const file = configFile(
      'no-mandate.yaml',
      ['mcpGateway:', '  upstreams:', `    everything: { command: ${EVERYTHING_BIN} }`, ''].join('\n'),
    );
    const line = expectOneLineError(await mandate(['mcp-gateway', '--config', file]));
    expect(line).toContain(file);
    expect(line).toMatch(/mcpGateway\.mandate\b/);
  });

  it('an upstream with both command and url', async () => {
    const file = configFile(
      'both.yaml',
      [
        'mcpGateway:',
        `  ${MANDATE_SECTION}`,
        '  upstreams:',
        '    everything:',
        `      command: ${EVERYTHING_BIN}`,
        '      url: http://127.0.0.1:1/mcp',
        '',
      ].join('\n'),
    );
    const line = expectOneLineError(await mandate(['mcp-gateway', '--config', file]));
    expect(line).toContain(file);
    expect(line).toContain('mcpGateway.upstreams.everything');
    expect(line).toContain('command');
    expect(line).toContain('url');
  });

  it('apiKeyEnv naming a variable that is not set', async () => {
    const file = configFile(
      'no-key.yaml',
      [
        'mcpGateway:',
        '  mandate: { url: http://127.0.0.1:1, apiKeyEnv: MANDATE_TEST_NO_SUCH_KEY }',
        '  upstreams:',
        `    everything: { command: ${EVERYTHING_BIN} }`,
        '',
      ].join('\n'),
    );
    const line = expectOneLineError(await mandate(['mcp-gateway', '--config', file]));
    expect(line).toContain('mcpGateway.mandate.apiKeyEnv');
    expect(line).toContain('MANDATE_TEST_NO_SUCH_KEY');
  });

  it('a listen port already in use', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = busy.address() as net.AddressInfo;
      const file = configFile(
        'busy.yaml',
        [
          'mcpGateway:',
          `  listen: { host: 127.0.0.1, port: ${port} }`,
          `  ${MANDATE_SECTION}`,
          '  upstreams:',
          `    everything: { command: ${EVERYTHING_BIN} }`,
          '',
        ].join('\n'),
      );
      const line = expectOneLineError(await mandate(['mcp-gateway', '--config', file]));
      expect(line).toContain('already in use');
      expect(line).toContain(String(port));
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });

  it('an unknown flag', async () => {
    const line = expectOneLineError(await mandate(['mcp-gateway', '--bogus', tmp('x.yaml')]));
    expect(line).toContain('--bogus');
  });

  it('--help exits 0 and points at docs/mcp-gateway.md', async () => {
    const result = await mandate(['mcp-gateway', '--help']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('docs/mcp-gateway.md');
    expect(result.stdout).toContain('--config');
  });
});

/** `ps --ppid`: the children of `pid` (pid and command line). */
function childrenOf(pid: number): Array<{ pid: number; args: string }> {
  let out = '';
  try {
    out = execFileSync('ps', ['--ppid', String(pid), '-o', 'pid=,args='], {
      encoding: 'utf8',
      timeout: 5_000,
    });
  } catch (error) {
    // ps exits 1 when nothing matches.
    out = String((error as { stdout?: string }).stdout ?? '');
  }
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ pid: Number(match[1]), args: match[2] as string }));
}

/** `pid` and all its descendants, depth first. */
function descendantsOf(pid: number): Array<{ pid: number; args: string }> {
  return childrenOf(pid).flatMap((child) => [child, ...descendantsOf(child.pid)]);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still answers signal 0; it is gone for our purposes.
  try {
    return !/^\S+\s+\(.*\)\s+Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

interface Gateway {
  proc: ChildProcess;
  url: string;
  output(): string;
  errors(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `mandate mcp-gateway --config <file>`; resolves once it prints "listening on <url>". */
function startGateway(config: string, env: Record<string, string>): Promise<Gateway> {
  const proc = spawn(process.execPath, [BIN, 'mcp-gateway', '--config', config], {
    cwd: tmpRoot,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null)
      resolve({ code: proc.exitCode, signal: proc.signalCode });
    else proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const listening = /mcp-gateway: listening on (http:\/\/\S+)\n/;
  return new Promise((resolve, reject) => {
    const finish = (error?: Error) => {
      clearTimeout(timer);
      clearInterval(poll);
      proc.off('exit', onExit);
      if (error) {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        reject(error);
        return;
      }
      resolve({
        proc,
        url: listening.exec(stdout)?.[1] as string,
        output: () => stdout,
        errors: () => stderr,
        exited,
      });
    };
    const onExit = (code: number | null) =>
      finish(new Error(`mandate mcp-gateway exited (${code}) before listening:\n${stdout}\n${stderr}`));
    const timer = setTimeout(
      () =>
        finish(
          new Error(
            `mandate mcp-gateway did not listen within ${GATEWAY_START_MS} ms:\n${stdout}\n${stderr}`,
          ),
        ),
      GATEWAY_START_MS,
    );
    const poll = setInterval(() => {
      if (listening.test(stdout)) finish();
    }, 20);
    proc.once('exit', onExit);
  });
}

/** Every process this file started (gateways) and every upstream pid seen, for afterAll. */
const spawned: ChildProcess[] = [];
const upstreamPids = new Set<number>();

let server: Server | undefined;
let adminKey: string;

/** The server's API with the admin key, for the setup the CLI is not under test for. */
async function api(method: string, url: string, body?: unknown): Promise<Json> {
  const response = await fetch(`${server?.url}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${adminKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return JSON.parse(text);
}

afterAll(async () => {
  for (const proc of spawned) {
    if (proc.exitCode !== null || proc.signalCode !== null) continue;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await Promise.race([gone, sleep(5_000)]);
  }
  // Upstreams a gateway started (and left behind, should a test have failed): ours to end.
  for (const pid of upstreamPids) {
    if (isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  await server?.stop();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
}, 30_000);

describe('end to end: mandate serve, mandate mcp-gateway, mcp-server-everything over stdio', {
  timeout: TEST_TIMEOUT,
}, () => {
  let gateway: Gateway;
  let creds: AgentCredentials;
  let delegation: string;
  let token: IssuedToken;
  let client: Client | undefined;

  beforeAll(async () => {
    adminKey = `admin-${Math.random().toString(36).slice(2)}-mcp-gateway-cli-tests`;
    server = await startServer(tmp('server'), { MANDATE_ADMIN_KEY: adminKey });
    const alice = (await api('POST', '/v1/users', { displayName: 'Alice' })).id as string;
    const pep = await api('POST', '/v1/api-keys', { name: 'mcp-gateway', roles: ['pep'] });
    expect(pep.secret).toMatch(/^mk_key_/);

    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
    const agent = await api('POST', '/v1/agents', {
      name: 'tool-user',
      ownerId: alice,
      boundaries: {
        actions: ['mcp.*'],
        resources: ['mcp_tool:*'],
        maxDataClass: 'internal',
        maxDelegationDepth: 0,
      },
      keys: [await exportJWK(publicKey)],
    });
    await api('POST', `/v1/agents/${agent.id}/activate`, {});
    delegation = (
      await api('POST', '/v1/delegations', {
        delegateAgentId: agent.id,
        purpose: 'echo through the MCP gateway',
        onBehalfOf: alice,
        scope: {
          actions: ['mcp.everything.echo'],
          resources: ['mcp_tool:everything/*'],
          dataClass: 'internal',
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        },
      })
    ).id;
    creds = new AgentCredentials({
      url: server.url,
      agentId: agent.id,
      privateJwk: await exportJWK(privateKey),
    });

    const config = configFile(
      'mandate.yaml',
      [
        'mcpGateway:',
        '  listen: { host: 127.0.0.1, port: 0 }',
        `  mandate: { url: ${server.url}, apiKeyEnv: MANDATE_PEP_KEY }`,
        '  upstreams:',
        '    everything:',
        `      command: ${EVERYTHING_BIN}`,
        '',
      ].join('\n'),
    );
    gateway = await startGateway(config, { MANDATE_PEP_KEY: pep.secret });
    expect(gateway.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(gateway.output()).toContain(`decisions from ${server.url}; upstreams: everything`);

    token = await creds.exchange({ delegation, resource: [gateway.url] });
  }, 200_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
  }, 10_000);

  /** fetch with the agent's token and a fresh DPoP proof for each HTTP request, bounded. */
  const dpopFetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `DPoP ${token.access_token}`);
    headers.set(
      'dpop',
      await creds.dpopProof((init.method ?? 'GET').toUpperCase(), gateway.url, token.access_token),
    );
    const signal = init.signal
      ? AbortSignal.any([init.signal, AbortSignal.timeout(MCP_TIMEOUT_MS)])
      : AbortSignal.timeout(MCP_TIMEOUT_MS);
    return fetch(input, { ...init, headers, signal });
  }) as typeof fetch;

  /** The agent's MCP client, connected to the gateway (once). */
  async function connected(): Promise<Client> {
    if (client) return client;
    const fresh = new Client({ name: 'cli-test-agent', version: '1.0.0' });
    await fresh.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { fetch: dpopFetch }), {
      timeout: MCP_TIMEOUT_MS,
    });
    client = fresh;
    return fresh;
  }

  const text = (result: unknown) =>
    ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? '').join('');

  it('a request without a token: 401 with WWW-Authenticate naming resource_metadata', async () => {
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    expect(response.status).toBe(401);
    const challenge = response.headers.get('www-authenticate') ?? '';
    const origin = new URL(gateway.url).origin;
    expect(challenge).toContain(`resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`);
    expect(challenge).toMatch(/DPoP/);

    const metadata = await fetch(`${origin}/.well-known/oauth-protected-resource/mcp`, {
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({
      resource: gateway.url,
      authorization_servers: [server?.url],
    });
  });

  it('the agent lists its tools: echo is there, get-env is not', async () => {
    const { tools } = await (await connected()).listTools({}, { timeout: MCP_TIMEOUT_MS });
    const names = tools.map((tool) => tool.name);
    expect(names).toContain('everything__echo');
    expect(names).not.toContain('everything__get-env');
    expect(names).toEqual(['everything__echo']);

    // The listing started the stdio upstream: the gateway's one child.
    const children = childrenOf(gateway.proc.pid as number);
    expect(children, JSON.stringify(children)).toHaveLength(1);
    expect(children[0]?.args).toContain('mcp-server-everything');
    for (const child of descendantsOf(gateway.proc.pid as number)) upstreamPids.add(child.pid);
  });

  it('calling echo returns its echo', async () => {
    const result = await (await connected()).callTool(
      { name: 'everything__echo', arguments: { message: 'hello from the cli test' } },
      undefined,
      { timeout: MCP_TIMEOUT_MS },
    );
    expect(result.isError ?? false, text(result)).toBe(false);
    expect(text(result)).toBe('Echo: hello from the cli test');
  });

  it('calling get-env is refused: isError, denied: out_of_scope', async () => {
    const result = await (await connected()).callTool(
      { name: 'everything__get-env', arguments: {} },
      undefined,
      { timeout: MCP_TIMEOUT_MS },
    );
    expect(result.isError).toBe(true);
    expect(text(result)).toBe('denied: out_of_scope');
  });

  it('SIGTERM: the gateway exits 0 in bounded time and its stdio upstream is gone too', async () => {
    const pid = gateway.proc.pid as number;
    // A listing starts the stdio upstream (they are connected lazily), if no test did yet.
    await (await connected()).listTools({}, { timeout: MCP_TIMEOUT_MS });
    const before = descendantsOf(pid);
    expect(before.length, 'the upstream is running before').toBeGreaterThan(0);
    for (const child of before) upstreamPids.add(child.pid);
    await client?.close().catch(() => undefined);
    client = undefined;

    const started = Date.now();
    gateway.proc.kill('SIGTERM');
    const exit = await Promise.race([gateway.exited, sleep(GATEWAY_STOP_MS).then(() => 'timeout' as const)]);
    expect(exit, `still running ${GATEWAY_STOP_MS} ms after SIGTERM:\n${gateway.output()}`).not.toBe(
      'timeout',
    );
    expect(exit, gateway.errors()).toEqual({ code: 0, signal: null });
    expect(gateway.output()).toContain('SIGTERM: stopping');
    expect(Date.now() - started).toBeLessThan(GATEWAY_STOP_MS);

    // The gateway awaited its upstreams' close before exiting; allow a moment for the reap.
    const until = Date.now() + 2_000;
    let left = before.filter((child) => isAlive(child.pid));
    while (left.length > 0 && Date.now() < until) {
      await sleep(50);
      left = left.filter((child) => isAlive(child.pid));
    }
    expect(left, `orphaned upstream processes: ${JSON.stringify(left)}`).toEqual([]);
  });
});
