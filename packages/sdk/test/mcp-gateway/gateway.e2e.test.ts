/**
 * The MCP gateway end to end, with real parts only: Mandate (the server app, in process, reached
 * through its fetch), the agent as the MCP SDK's Client over Streamable HTTP with DPoP, the real
 * server-everything over stdio and a tiny HTTP upstream behind the gateway, on 127.0.0.1:0.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type McpGateway, type McpGatewayConfigInput, startMcpGateway } from '@mandate/sdk/mcp-gateway';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ISSUER, startTestApp, type TestApp } from '../../../server/test/harness.js';
import { activeAgent, type TestAgent } from '../../../server/test/oauth/helpers.js';
import type { IssuedToken } from '../../src/index.js';
import {
  agentClient,
  dpopFetch,
  EVERYTHING,
  eventually,
  grantTools,
  type TinyUpstream,
  text,
  tinyUpstream,
} from './helpers.js';

let t: TestApp;
let pep: string;
let alice: string;
let agent: TestAgent;
let tiny: TinyUpstream;
let gateway: McpGateway;
let dir: string;
const closers: Array<() => Promise<unknown>> = [];

const ACTIONS = ['mcp.everything.echo', 'mcp.everything.get-sum', 'mcp.tiny.*', 'message.send'];
const RESOURCES = ['mcp_tool:everything/*', 'mcp_tool:tiny/*'];

const config = (over: Partial<McpGatewayConfigInput> = {}): McpGatewayConfigInput => ({
  listen: { host: '127.0.0.1', port: 0 },
  mandate: { url: ISSUER, apiKey: pep },
  pinsFile: path.join(dir, 'pins.json'),
  upstreams: {
    everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] },
    tiny: {
      url: tiny.url,
      headers: { authorization: 'Bearer upstream-secret' },
      untrustedContentTools: ['fetch_page'],
      tools: { send: { action: 'message.send' } },
    },
  },
  ...over,
});

async function start(over: Partial<McpGatewayConfigInput> = {}, fetchImpl: typeof fetch = t.fetch) {
  const started = await startMcpGateway(config(over), { fetch: fetchImpl, log: () => undefined });
  closers.push(() => started.close());
  return started;
}

/** A token for the gateway (its URL as the audience) and an MCP client presenting it. */
async function connect(url: string, delegation: string, who: TestAgent = agent) {
  let token: IssuedToken = await who.creds.exchange({ delegation, resource: [url] });
  const client = await agentClient(
    url,
    dpopFetch(who, url, () => token),
  );
  closers.push(() => client.close());
  return { client, setToken: (next: IssuedToken) => (token = next), token: () => token };
}

const call = (client: Client, name: string, args: Record<string, unknown> = {}) =>
  client.callTool({ name, arguments: args });

async function auditEvents(query: string) {
  const answer = await t.call('GET', `/v1/audit/events?${query}&limit=200`, { key: t.adminKey });
  if (answer.status !== 200) throw new Error(answer.text);
  return answer.body.items as Array<Record<string, any>>;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-mcp-gw-'));
  t = await startTestApp();
  alice = (await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } })).body.id;
  pep = (await t.call('POST', '/v1/api-keys', { key: t.adminKey, body: { name: 'gateway', roles: ['pep'] } }))
    .body.secret;
  agent = await activeAgent(t, alice, 'tool-user', {
    actions: ['mcp.*', 'message.*'],
    resources: ['mcp_tool:*'],
    maxDataClass: 'confidential',
    maxDelegationDepth: 1,
  });
  tiny = await tinyUpstream('Writes a note');
  gateway = await start();
}, 30_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await tiny?.close();
  await t?.close();
  fs.rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('at the door', () => {
  it('no token: 401 naming the protected resource metadata, which is served (RFC 9728)', async () => {
    const answer = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
    });
    expect(answer.status).toBe(401);
    const challenge = answer.headers.get('www-authenticate') ?? '';
    const origin = new URL(gateway.url).origin;
    const metadataUrl = `${origin}/.well-known/oauth-protected-resource/mcp`;
    expect(challenge).toContain(`Bearer resource_metadata="${metadataUrl}"`);
    expect(challenge).toContain('DPoP algs=');
    for (const url of [metadataUrl, `${origin}/.well-known/oauth-protected-resource`]) {
      const metadata = await (await fetch(url)).json();
      expect(metadata).toMatchObject({
        resource: gateway.url,
        authorization_servers: [ISSUER],
        dpop_bound_access_tokens_required: true,
        bearer_methods_supported: ['header'],
      });
    }
  });

  it('a proof used once is refused the second time; a bearer token is refused; a token for another audience too', async () => {
    const dlg = await grantTools(t, agent, alice, ACTIONS, RESOURCES);
    const token = await agent.creds.exchange({ delegation: dlg, resource: [gateway.url] });
    const proof = await agent.creds.dpopProof('POST', gateway.url, token.access_token);
    const init = {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `DPoP ${token.access_token}`,
        dpop: proof,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    };
    expect((await fetch(gateway.url, init)).status).toBe(200);
    const replay = await fetch(gateway.url, init);
    expect(replay.status).toBe(401);
    expect(replay.headers.get('www-authenticate')).toContain('invalid_dpop_proof');

    const bearer = await agent.creds.exchange({ delegation: dlg, resource: [gateway.url], dpop: false });
    const asBearer = await fetch(gateway.url, {
      ...init,
      headers: { ...init.headers, authorization: `Bearer ${bearer.access_token}`, dpop: '' },
    });
    expect(asBearer.status).toBe(401);

    // Minted for Mandate itself (no resource): not for this gateway.
    const elsewhere = await agent.creds.exchange({ delegation: dlg });
    await expect(
      agentClient(
        gateway.url,
        dpopFetch(agent, gateway.url, () => elsewhere),
      ),
    ).rejects.toThrow();
  });
});

describe('tools through the gateway', () => {
  let client: Client;
  let dlg: string;

  beforeAll(async () => {
    dlg = await grantTools(t, agent, alice, ACTIONS, RESOURCES);
    ({ client } = await connect(gateway.url, dlg));
  }, 30_000);

  it('lists only what the delegation covers, and an allowed tool runs upstream', async () => {
    const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
    expect(names).toEqual(
      ['everything__echo', 'everything__get-sum', 'tiny__fetch_page', 'tiny__note', 'tiny__send'].sort(),
    );
    const echoed = await call(client, 'everything__echo', { message: 'hello' });
    expect(echoed.isError).toBeFalsy();
    expect(text(echoed)).toBe('Echo: hello');
  });

  it('a tool outside the delegation is not listed and not callable (the reason code only)', async () => {
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).not.toContain('everything__get-env');
    const denied = await call(client, 'everything__get-env');
    expect(denied.isError).toBe(true);
    expect(text(denied)).toBe('denied: out_of_scope');
  });

  it('the audit record of a call names the root user, the agent and the tool, with its outcome', async () => {
    const result = await call(client, 'everything__get-sum', { a: 2, b: 3 });
    expect(text(result)).toContain('5');
    await gateway.settled();
    const decision = (await auditEvents('type=decision')).find(
      (r) => r.target.id === 'mcp.everything.get-sum' && r.after.result === 'allow' && !r.after.probe,
    );
    expect(decision).toBeDefined();
    expect(decision?.after).toMatchObject({
      kind: 'agent',
      request: { action: 'mcp.everything.get-sum', resource: { type: 'mcp_tool', id: 'everything/get-sum' } },
      chain: { rootUser: alice, agents: [agent.id], delegations: [dlg] },
    });
    expect(decision?.after.request.argumentsPreview).toEqual({ a: 'number', b: 'number' });
    expect(decision?.refs).toMatchObject({ agentId: agent.id, userId: alice });
    const outcome = await eventually(async () =>
      (await auditEvents('type=decision.outcome')).find((r) => r.refs?.decisionId === String(decision?.seq)),
    );
    expect(outcome.after).toMatchObject({ status: 'success', reportedBy: 'enforcement_point' });
    expect(outcome.after.resultDigest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('no token passthrough: the HTTP upstream sees only the gateway’s own credential', async () => {
    const noted = await call(client, 'tiny__note', { text: 'x' });
    expect(text(noted)).toBe('noted: x');
    expect(tiny.authorizations.length).toBeGreaterThan(0);
    expect(new Set(tiny.authorizations)).toEqual(new Set(['Bearer upstream-secret']));
  });

  it('unknown methods are refused; resources and prompts are not offered', async () => {
    await expect(client.listResources()).rejects.toThrow(/Method not found|-32601/);
    await expect(client.listPrompts()).rejects.toThrow(/Method not found|-32601/);
    expect(client.getServerCapabilities()).toEqual({ tools: { listChanged: false } });
  });

  it('the session belongs to the agent that opened it', async () => {
    const other = await activeAgent(t, alice, 'intruder', {
      actions: ['mcp.*', 'message.*'],
      resources: ['mcp_tool:*'],
      maxDataClass: 'confidential',
      maxDelegationDepth: 1,
    });
    const otherDlg = await grantTools(t, other, alice, ACTIONS, RESOURCES);
    const otherToken = await other.creds.exchange({ delegation: otherDlg, resource: [gateway.url] });
    const sessionId = (client.transport as { sessionId?: string }).sessionId as string;
    const answer = await fetch(gateway.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-06-18',
        authorization: `DPoP ${otherToken.access_token}`,
        dpop: await other.creds.dpopProof('POST', gateway.url, otherToken.access_token),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list', params: {} }),
    });
    expect(answer.status).toBe(403);
  });
});

describe('untrusted content', () => {
  it('after a tool marked as outside content, later decisions of the session carry untrusted_input', async () => {
    const dlg = await grantTools(t, agent, alice, ACTIONS, RESOURCES);
    const { client } = await connect(gateway.url, dlg);
    const before = await call(client, 'tiny__send', { to: 'bob' });
    expect(before.isError).toBeFalsy();
    await call(client, 'tiny__fetch_page', { url: 'https://example.com' });
    await call(client, 'tiny__send', { to: 'evil@example' });
    const sends = (await auditEvents('type=decision')).filter(
      (r) => r.target.id === 'message.send' && r.after.chain.delegations[0] === dlg && !r.after.probe,
    );
    expect(sends).toHaveLength(2);
    const factors = (r: Record<string, any>) =>
      (r.after.risk?.factors ?? []).map((f: { name: string }) => f.name);
    expect(factors(sends[0] as Record<string, any>)).not.toContain('untrusted_external');
    expect(factors(sends[1] as Record<string, any>)).toContain('untrusted_external');
  });
});

describe('live state', () => {
  it('after the delegation is revoked, the next call is denied', async () => {
    const dlg = await grantTools(t, agent, alice, ACTIONS, RESOURCES);
    const { client } = await connect(gateway.url, dlg);
    expect((await call(client, 'everything__echo', { message: 'a' })).isError).toBeFalsy();
    await t.call('POST', `/v1/delegations/${dlg}/revoke`, { key: t.adminKey, body: { reason: 'done' } });
    const after = await call(client, 'everything__echo', { message: 'b' });
    expect(after.isError).toBe(true);
    expect(text(after)).toBe('denied: delegation_revoked');
    expect((await client.listTools()).tools).toEqual([]);
  });

  it('after the kill switch, the next call is denied', async () => {
    const dlg = await grantTools(t, agent, alice, ACTIONS, RESOURCES);
    const { client } = await connect(gateway.url, dlg);
    expect((await call(client, 'everything__echo', { message: 'a' })).isError).toBeFalsy();
    const lock = await t.call('POST', '/v1/killswitch', {
      key: t.adminKey,
      body: { scope: 'agent', targetId: agent.id, reason: 'incident' },
    });
    expect(lock.status, lock.text).toBe(201);
    try {
      const after = await call(client, 'everything__echo', { message: 'b' });
      expect(after.isError).toBe(true);
      expect(text(after)).toMatch(/^denied: (agent_suspended|org_locked)$/);
    } finally {
      await t.call('POST', `/v1/killswitch/${lock.body.id}/release`, {
        key: t.adminKey,
        body: { reason: 'over' },
      });
    }
  });
});
