/**
 * Benchmark: latency a tool call gains through the MCP gateway. The same upstream
 * (server-everything's `echo`, over stdio) is called, one call at a time:
 *   - direct: the MCP SDK's Client over stdio to its own server-everything process,
 *   - gateway: the agent's Client over Streamable HTTP (a fresh DPoP proof per HTTP request) to
 *     the gateway (this process), which verifies the token and proof, asks Mandate (the real
 *     server in its own process, SQLite, the decision durable before its answer) over HTTP,
 *     calls server-everything over stdio, and records the outcome in the background,
 *   - decide: the agent's own POST /v1/decisions for the same action (the decision round trip
 *     alone, the part of the gateway's cost that is Mandate's),
 * for a fixed number of calls or seconds each, in the same run. Reported: p50/p99 per variant,
 * added latency (gateway − direct) and the ratio gateway / direct.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { AgentCredentials } from '@mandate/sdk';
import { startMcpGateway } from '@mandate/sdk/mcp-gateway';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startServer } from './server-process.mjs';
import { log, round } from './util.mjs';

const require = createRequire(import.meta.url);
const EVERYTHING = path.join(
  path.dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')),
  'dist/index.js',
);
const ARGS = { message: 'hello' };

async function loop(call, { calls, seconds }) {
  const latencies = [];
  const until = performance.now() + seconds * 1000;
  while (latencies.length < calls && performance.now() < until) {
    const t0 = performance.now();
    await call();
    latencies.push(performance.now() - t0);
  }
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { calls: latencies.length, p50ms: round(at(0.5), 3), p99ms: round(at(0.99), 3) };
}

export async function runMcpGateway({ dir, calls = 2000, seconds = 20, warmup = 200 }) {
  const mandate = await startServer('agent', dir);
  const closers = [];
  try {
    const direct = new Client({ name: 'bench-direct', version: '1' });
    await direct.connect(
      new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, 'stdio'], stderr: 'ignore' }),
    );
    closers.push(() => direct.close());

    const gateway = await startMcpGateway(
      {
        listen: { host: '127.0.0.1', port: 0 },
        mandate: { url: mandate.url, apiKey: mandate.pepKey },
        pinsFile: path.join(dir, 'mcp-pins.json'),
        upstreams: {
          everything: {
            command: process.execPath,
            args: [EVERYTHING, 'stdio'],
            // The bench world's delegation covers email.* on mailbox:alice/*.
            tools: {
              echo: {
                action: 'email.read',
                resource: { type: 'mailbox', id: 'alice/inbox' },
                dataClass: 'internal',
              },
            },
          },
        },
      },
      { log: () => undefined },
    );
    closers.push(() => gateway.close());
    const creds = new AgentCredentials({
      url: mandate.url,
      agentId: mandate.agentId,
      privateJwk: mandate.privateJwk,
    });
    // Tokens live 5 minutes; the run is bounded well below that.
    const token = await creds.exchange({ delegation: mandate.delegationId, resource: [gateway.url] });
    const ownToken = await creds.exchange({ delegation: mandate.delegationId });
    const dpopFetch = async (input, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `DPoP ${token.access_token}`);
      headers.set('dpop', await creds.dpopProof(init.method ?? 'GET', gateway.url, token.access_token));
      return fetch(input, { ...init, headers });
    };
    const agent = new Client({ name: 'bench-agent', version: '1' });
    await agent.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { fetch: dpopFetch }));
    closers.push(() => agent.close());
    const listed = (await agent.listTools()).tools.map((t) => t.name);
    if (!listed.includes('everything__echo')) throw new Error(`echo is not listed: ${listed.join(', ')}`);

    const check = (result) => {
      if (result.isError || result.content?.[0]?.text !== 'Echo: hello')
        throw new Error(`unexpected result: ${JSON.stringify(result)}`);
    };
    const variants = {
      direct: async () => check(await direct.callTool({ name: 'echo', arguments: ARGS })),
      gateway: async () => check(await agent.callTool({ name: 'everything__echo', arguments: ARGS })),
      decide: async () => {
        const answer = await creds.decide(ownToken, {
          action: 'email.read',
          resource: { type: 'mailbox', id: 'alice/inbox' },
          dataClass: 'internal',
          arguments: ARGS,
        });
        if (answer.decision !== 'allow') throw new Error(`decide: ${JSON.stringify(answer)}`);
      },
    };
    const results = { tool: 'server-everything echo (stdio)', calls, seconds, concurrency: 1 };
    for (const [name, call] of Object.entries(variants)) {
      await loop(call, { calls: warmup, seconds: 5 });
      results[name] = await loop(call, { calls, seconds });
      log(
        `  mcp ${name}: p50 ${results[name].p50ms} ms, p99 ${results[name].p99ms} ms (${results[name].calls} calls)`,
      );
    }
    await gateway.settled();
    results.addedP50ms = round(results.gateway.p50ms - results.direct.p50ms, 3);
    results.addedP99ms = round(results.gateway.p99ms - results.direct.p99ms, 3);
    results.gatewayOverDirectP50 = round(results.gateway.p50ms / results.direct.p50ms, 2);
    results.decideShareOfAddedP50 = round(results.decide.p50ms / Math.max(results.addedP50ms, 0.001), 2);
    results.mandateAlive = mandate.alive();
    return results;
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await mandate.stop();
  }
}
