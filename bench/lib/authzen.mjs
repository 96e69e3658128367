/**
 * Benchmark 5: the AuthZEN PDP over HTTP. `POST /access/v1/evaluation` of the real server (SQLite
 * store, the Todo scenario's policies and entities, every decision recorded durably before its
 * answer) against a bare Fastify JSON route answering `{ decision: true }` to the same body, both
 * loaded with autocannon at the same connection count in the same run; and decisions per second
 * through `/access/v1/evaluations` batches of 40. Everything listens on 127.0.0.1 only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Authenticator, createEngine, SqliteStore, systemClock } from '@mandate/engine';
import { buildApp } from '@mandate/server';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import pino from 'pino';
import { log, round } from './util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLE = path.join(here, '../../examples/authzen-todo');
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
  p50Ms: r.latency.p50,
  p99Ms: r.latency.p99,
  errors: r.errors + r.non2xx,
});

export async function runAuthzen({ dir, connections, seconds, batchConnections }) {
  const file = path.join(dir, 'authzen.db');
  const store = new SqliteStore({ file, clock: systemClock });
  const engine = createEngine(store, { clock: systemClock, oauth: { issuer: () => 'http://127.0.0.1' } });
  const { org, created } = await engine.orgs.ensureDefaultOrg({ withAdminKey: true });
  const admin = { kind: 'org', orgId: org.id, actor: { kind: 'api_key', id: 'bench' }, roles: ['admin'] };
  const authenticator = new Authenticator(engine, engine.users, { defaultOrgId: org.id });
  const { app } = await buildApp({
    engine,
    authenticator,
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: 1 << 20,
    version: 'bench',
  });
  const bare = Fastify({ logger: false });
  bare.post('/access/v1/evaluation', async () => ({ decision: true }));
  try {
    const entities = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'entities.json'), 'utf8')).entities;
    await engine.entities.put(admin, entities);
    await engine.policies.publish(admin, {
      policies: fs.readFileSync(path.join(EXAMPLE, 'policies.cedar'), 'utf8'),
      schema: fs.readFileSync(path.join(EXAMPLE, 'schema.cedarschema'), 'utf8'),
    });
    const pep = await engine.apiKeys.create(admin, { name: 'pep', roles: ['pep'] });
    const headers = { authorization: `Bearer ${pep.secret}` };
    const cases = JSON.parse(fs.readFileSync(TODO, 'utf8')).decisions.map((d) => d.request);
    const one = JSON.stringify(cases[4]); // an editor-owns-the-todo style request: entities with parents
    const batch = JSON.stringify({ evaluations: cases });

    const mandateUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
    // Warm up both (JIT, statement cache, parsed policies).
    await load(`${bareUrl}/access/v1/evaluation`, { body: one, connections: 10, seconds: 1 });
    await load(`${mandateUrl}/access/v1/evaluation`, { body: one, connections: 10, seconds: 1, headers });

    const baseline = summary(
      await load(`${bareUrl}/access/v1/evaluation`, { body: one, connections, seconds }),
    );
    const mandate = summary(
      await load(`${mandateUrl}/access/v1/evaluation`, { body: one, connections, seconds, headers }),
    );
    log(`authzen: ${mandate.requestsPerSecond} evaluations/s vs bare ${baseline.requestsPerSecond}/s`);
    const batches = summary(
      await load(`${mandateUrl}/access/v1/evaluations`, {
        body: batch,
        connections: batchConnections,
        seconds,
        headers,
      }),
    );
    log(`authzen: ${batches.requestsPerSecond * cases.length} decisions/s in batches of ${cases.length}`);
    return {
      connections,
      seconds,
      bareFastify: baseline,
      evaluation: mandate,
      ratioVsBare: round(mandate.requestsPerSecond / baseline.requestsPerSecond, 3),
      p99RatioVsBare: round(mandate.p99Ms / Math.max(baseline.p99Ms, 1), 2),
      batch: {
        size: cases.length,
        connections: batchConnections,
        ...batches,
        decisionsPerSecond: batches.requestsPerSecond * cases.length,
      },
      adminKeyCreated: Boolean(created),
    };
  } finally {
    await app.close();
    await bare.close();
    await store.close();
  }
}
