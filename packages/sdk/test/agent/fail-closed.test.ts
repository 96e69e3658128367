/**
 * Fail closed: whatever goes wrong between the agent and an allow, the guarded function does
 * not run. Against real sockets: a stopped server, a hung server, and a decision endpoint that
 * answers with a 5xx, a non-JSON body, a malformed or half-sent decision (the token endpoint
 * stays the real Mandate, so the failure is exactly the decision's).
 */
import http from 'node:http';
import net from 'node:net';
import {
  createAgentClient,
  MandateApiError,
  MandateConnectionError,
  MandateProtocolError,
} from '@mandate/sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AgentWorld, agentWorld, ISSUER } from '../support/agent-world.js';

let world: AgentWorld;
let hostile: http.Server;
let hostileUrl: string;
/** What the hostile decision endpoint does with the next request. */
let behaviour: (response: http.ServerResponse) => void = () => undefined;
const hung = new Set<http.ServerResponse>();

const read = { action: 'files.read', resource: { type: 'file', id: 'a.txt' } };

beforeAll(async () => {
  world = await agentWorld();
  hostile = http.createServer((_request, response) => behaviour(response));
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  hostileUrl = `http://127.0.0.1:${(hostile.address() as net.AddressInfo).port}`;
});
afterAll(async () => {
  for (const response of hung) response.destroy();
  hostile?.closeAllConnections();
  await new Promise((resolve) => hostile?.close(resolve));
  await world?.close();
});

/** Tokens from the real Mandate; decisions from the hostile server, over a real socket. */
function clientWithHostileDecisions() {
  return createAgentClient({
    url: ISSUER,
    agentId: world.agentId,
    privateKey: world.privateJwk,
    delegation: world.delegationId,
    timeoutMs: 500,
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(String(input instanceof Request ? input.url : input));
      if (url.pathname === '/v1/decisions') return fetch(hostileUrl + url.pathname, init);
      return world.t.fetch(input, init);
    }) as typeof fetch,
  });
}

async function expectNotRun(
  client: ReturnType<typeof createAgentClient>,
  errorType: abstract new (...args: never[]) => Error,
) {
  const action = vi.fn(async () => 'ran');
  const error = await client
    .guard(action, () => read)()
    .catch((e) => e);
  expect(error).toBeInstanceOf(errorType);
  expect(action).not.toHaveBeenCalled();
  return error;
}

describe('the guarded function never runs when', () => {
  it('the server is stopped (connection refused)', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const client = createAgentClient({
      url: `http://127.0.0.1:${port}`,
      agentId: world.agentId,
      privateKey: world.privateJwk,
      delegation: world.delegationId,
    });
    const error = await expectNotRun(client, MandateConnectionError);
    expect(error.message).toMatch(/connection refused/);
  });

  it('the server hangs (accepts, never answers): the call times out', async () => {
    behaviour = (response) => hung.add(response);
    const client = createAgentClient({
      url: hostileUrl,
      agentId: world.agentId,
      privateKey: world.privateJwk,
      delegation: world.delegationId,
      timeoutMs: 300,
    });
    const started = Date.now();
    const error = await expectNotRun(client, MandateConnectionError);
    expect(error.message).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('the decision endpoint answers 500 or 503', async () => {
    for (const status of [500, 503]) {
      behaviour = (response) => response.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      const error = await expectNotRun(clientWithHostileDecisions(), MandateApiError);
      expect(error.status).toBe(status);
    }
  });

  it('the decision endpoint answers 200 with something that is not a decision', async () => {
    const bodies = [
      'not json at all',
      '{"decision":"allow"}',
      '{"decision":"ALLOW","decisionId":"1","reasons":[]}',
      '{"decision":true,"decisionId":"1","reasons":[]}',
      '{"decision":"allow","decisionId":"1"}',
      '{"decision":"allow","decisionId":"1","reasons":[{"code":"policy_denied"}]}',
      '{"decision":"approval_required","decisionId":"1","reasons":[]}',
      '[]',
      'null',
    ];
    for (const body of bodies) {
      behaviour = (response) => response.writeHead(200, { 'content-type': 'application/json' }).end(body);
      await expectNotRun(clientWithHostileDecisions(), MandateProtocolError);
    }
  });

  it('the decision endpoint sends its headers and then hangs mid-body', async () => {
    behaviour = (response) => {
      hung.add(response);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"decision":"allow",');
    };
    await expectNotRun(clientWithHostileDecisions(), MandateConnectionError);
  });

  it('the action request cannot be built from the arguments', async () => {
    const client = clientWithHostileDecisions();
    const action = vi.fn(async () => 'ran');
    const guarded = client.guard(action, (): never => {
      throw new TypeError('no path given');
    });
    await expect(guarded()).rejects.toThrow('no path given');
    expect(action).not.toHaveBeenCalled();
  });

  it('the private key cannot be read', async () => {
    const client = createAgentClient({
      url: ISSUER,
      agentId: world.agentId,
      privateKey: '/nonexistent/agent-key.pem',
      delegation: world.delegationId,
      fetch: world.t.fetch,
    });
    const error = await expectNotRun(client, TypeError);
    expect(error.message).toContain('/nonexistent/agent-key.pem');
  });
});

it('the real answer through the same path is an allow (the failures above are the hostile server’s)', async () => {
  const client = createAgentClient({
    url: ISSUER,
    agentId: world.agentId,
    privateKey: world.privateJwk,
    delegation: world.delegationId,
    fetch: world.t.fetch,
  });
  const action = vi.fn(async () => 'ran');
  await expect(client.guard(action, () => read)()).resolves.toBe('ran');
  expect(action).toHaveBeenCalledTimes(1);
});
