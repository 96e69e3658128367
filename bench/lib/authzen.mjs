/**
 * Benchmark 5: the AuthZEN PDP over HTTP. `POST /access/v1/evaluation` of the real server (SQLite
 * store, the Todo scenario's policies and entities, every decision recorded durably before its
 * answer) against a bare Fastify JSON route answering `{ decision: true }` to the same body. Each
 * server runs alone in its own process (lib/http-server.mjs); the load generator (autocannon)
 * runs here, in this process, at the same connection count in the same run. Then decisions per
 * second through `/access/v1/evaluations` batches of 40, and a soak: 128 connections for 60 s
 * (by default), after which the server must still be alive and have answered every request.
 * Everything listens on 127.0.0.1 only; every phase is bounded in time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startServer } from './server-process.mjs';
import { log, round } from './util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const TODO = path.join(here, '../../../shared/conformance/authzen/todo-decisions.json');

function load(url, { body, connections, seconds, headers }) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        method: 'POST',
        body,
        connections,
        duration: seconds,
        headers: { 'content-type': 'application/json', ...headers },
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

const summary = (r) => ({
  requestsPerSecond: round(r.requests.average, 0),
  requests: r.requests.total,
  p50Ms: r.latency.p50,
  p99Ms: r.latency.p99,
  errors: r.errors + r.timeouts + r.non2xx,
});

export async function runAuthzen({
  dir,
  connections,
  seconds,
  batchConnections,
  soakConnections,
  soakSeconds,
  policyEngine,
}) {
  const cases = JSON.parse(fs.readFileSync(TODO, 'utf8')).decisions.map((d) => d.request);
  const one = JSON.stringify(cases[4]); // an editor-owns-the-todo style request: entities with parents
  const batch = JSON.stringify({ evaluations: cases });
  const endpoint = (server) => `${server.url}/access/v1/evaluation`;

  const bare = await startServer('bare', dir);
  let baseline;
  try {
    await load(endpoint(bare), { body: one, connections: 10, seconds: 1 }); // warm-up
    baseline = summary(await load(endpoint(bare), { body: one, connections, seconds }));
  } finally {
    await bare.stop();
  }

  const mandate = await startServer('mandate', dir, { BENCH_POLICY_ENGINE: policyEngine });
  try {
    const { headers } = mandate;
    await load(endpoint(mandate), { body: one, connections: 10, seconds: 1, headers }); // warm-up
    const evaluation = summary(await load(endpoint(mandate), { body: one, connections, seconds, headers }));
    log(`authzen: ${evaluation.requestsPerSecond} evaluations/s vs bare ${baseline.requestsPerSecond}/s`);
    const batches = summary(
      await load(`${mandate.url}/access/v1/evaluations`, {
        body: batch,
        connections: batchConnections,
        seconds,
        headers,
      }),
    );
    log(`authzen: ${batches.requestsPerSecond * cases.length} decisions/s in batches of ${cases.length}`);
    log(`authzen: soak, ${soakConnections} connections for ${soakSeconds} s`);
    const soak = summary(
      await load(endpoint(mandate), {
        body: one,
        connections: soakConnections,
        seconds: soakSeconds,
        headers,
      }),
    );
    const survived = mandate.alive();
    log(
      `authzen: soak ${soak.requests} requests, ${soak.errors} errors, server ${survived ? 'alive' : 'DEAD'}`,
    );
    return {
      policyEngine: mandate.policyEngine,
      connections,
      seconds,
      loadGenerator: 'autocannon in the benchmark process; each server in its own process',
      bareFastify: baseline,
      evaluation,
      ratioVsBare: round(evaluation.requestsPerSecond / baseline.requestsPerSecond, 3),
      p99RatioVsBare: round(evaluation.p99Ms / Math.max(baseline.p99Ms, 1), 2),
      batch: {
        size: cases.length,
        connections: batchConnections,
        ...batches,
        decisionsPerSecond: batches.requestsPerSecond * cases.length,
      },
      soak: { connections: soakConnections, seconds: soakSeconds, ...soak, serverAlive: survived },
    };
  } finally {
    const how = await mandate.stop();
    if (how.signal && how.signal !== 'SIGTERM') throw new Error(`the Mandate server died of ${how.signal}`);
  }
}
