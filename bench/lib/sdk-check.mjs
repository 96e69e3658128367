/**
 * Benchmark: SDK `check` round trips per second. The real server (SQLite, an agent with a
 * delegation, every decision recorded durably before its answer) runs in its own process
 * (http-server.mjs agent); here, C callers each loop on
 *   - sdk check: `createAgentClient(...).check(request)` (token kept by the client, a fresh DPoP
 *     proof per call, the answer validated),
 *   - raw decide: `AgentCredentials.decide(token, request)`, the same HTTP call without the client,
 *   - bare fetch: `fetch` POSTing the same body to a bare Fastify route (http-server.mjs bare),
 *     the round trip no decision can beat,
 * for a fixed time each, in the same run. Reported: calls/s, p50/p99 latency, ratios to bare.
 */
import path from 'node:path';
import { AgentCredentials, createAgentClient } from '@mandate/sdk';
import { startServer } from './server-process.mjs';
import { log, round } from './util.mjs';

const REQUEST = {
  action: 'email.read',
  resource: { type: 'mailbox', id: 'alice/inbox' },
  dataClass: 'internal',
};

async function loop(call, { concurrency, seconds, maxCalls }) {
  const latencies = [];
  const until = performance.now() + seconds * 1000;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until && latencies.length < maxCalls) {
        const t0 = performance.now();
        try {
          await call();
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
          if (errors > 100) throw new Error('more than 100 failed calls');
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    calls: latencies.length,
    errors,
    perSecond: round(latencies.length / elapsed, 0),
    p50ms: round(at(0.5), 2),
    p99ms: round(at(0.99), 2),
  };
}

export async function runSdkCheck({ dir, concurrencies = [1, 16], seconds = 5, maxCalls = 200_000 }) {
  const results = { request: REQUEST, seconds, runs: [] };
  const agentServer = await startServer('agent', path.join(dir));
  const bare = await startServer('bare', dir);
  try {
    const client = createAgentClient({
      url: agentServer.url,
      agentId: agentServer.agentId,
      privateKey: agentServer.privateJwk,
      delegation: agentServer.delegationId,
    });
    const creds = new AgentCredentials({
      url: agentServer.url,
      agentId: agentServer.agentId,
      privateJwk: agentServer.privateJwk,
    });
    const token = await creds.exchange({ delegation: agentServer.delegationId });
    const first = await client.check(REQUEST);
    if (first.decision !== 'allow')
      throw new Error(`the benchmark request is not allowed: ${JSON.stringify(first)}`);
    const body = JSON.stringify(REQUEST);
    const bareUrl = `${bare.url}/access/v1/evaluation`;
    const variants = {
      sdkCheck: () => client.check(REQUEST),
      rawDecide: () => creds.decide(token, REQUEST),
      bareFetch: async () => {
        const response = await fetch(bareUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        await response.json();
      },
    };
    for (const concurrency of concurrencies) {
      const run = { concurrency };
      for (const [name, call] of Object.entries(variants)) {
        await loop(call, { concurrency, seconds: Math.min(1, seconds), maxCalls }); // warm-up
        run[name] = await loop(call, { concurrency, seconds, maxCalls });
        log(`  sdk c=${concurrency} ${name}: ${run[name].perSecond}/s p50 ${run[name].p50ms} ms`);
      }
      run.sdkOverRaw = round(run.sdkCheck.perSecond / run.rawDecide.perSecond, 2);
      run.sdkOverBare = round(run.sdkCheck.perSecond / run.bareFetch.perSecond, 2);
      results.runs.push(run);
    }
    results.serversAlive = agentServer.alive() && bare.alive();
  } finally {
    await agentServer.stop();
    await bare.stop();
  }
  return results;
}
