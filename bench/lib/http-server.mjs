/**
 * The server side of the HTTP benchmarks, run as its own process so that the load generator
 * (autocannon, in the parent) never shares a core's event loop with it.
 *   node http-server.mjs mandate <data dir>   the real app (SQLite, Todo policies and entities)
 *   node http-server.mjs bare                 a bare Fastify JSON route, the baseline
 *   node http-server.mjs agent <data dir>     the real app with an agent and its delegation
 *                                             (lib/agent-world.mjs); prints the agent's id, key
 *                                             and delegation, for clients in the parent (SDK)
 * Prints one JSON line `{ url, headers?, policyEngine? }` once listening; exits on SIGTERM.
 * Options through the environment: BENCH_POLICY_ENGINE (compiled | cedar-wasm).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Authenticator,
  createEngine,
  SqliteStore,
  setDefaultPolicyEngine,
  systemClock,
} from '@mandate/engine';
import { buildApp } from '@mandate/server';
import Fastify from 'fastify';
import pino from 'pino';
import { agentWorld } from './agent-world.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLE = path.join(here, '../../examples/authzen-todo');
const [kind, dir] = process.argv.slice(2);

async function bare() {
  const app = Fastify({ logger: false });
  app.post('/access/v1/evaluation', async () => ({ decision: true }));
  return { app, url: await app.listen({ host: '127.0.0.1', port: 0 }) };
}

async function mandate() {
  if (process.env.BENCH_POLICY_ENGINE) setDefaultPolicyEngine(process.env.BENCH_POLICY_ENGINE);
  const store = new SqliteStore({ file: path.join(dir, 'authzen.db'), clock: systemClock });
  const engine = createEngine(store, { clock: systemClock, oauth: { issuer: () => 'http://127.0.0.1' } });
  const { org } = await engine.orgs.ensureDefaultOrg({ withAdminKey: true });
  const admin = { kind: 'org', orgId: org.id, actor: { kind: 'api_key', id: 'bench' }, roles: ['admin'] };
  const authenticator = new Authenticator(engine, engine.users, { defaultOrgId: org.id });
  const { app } = await buildApp({
    engine,
    authenticator,
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: 1 << 20,
    version: 'bench',
  });
  const entities = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'entities.json'), 'utf8')).entities;
  await engine.entities.put(admin, entities);
  await engine.policies.publish(admin, {
    policies: fs.readFileSync(path.join(EXAMPLE, 'policies.cedar'), 'utf8'),
    schema: fs.readFileSync(path.join(EXAMPLE, 'schema.cedarschema'), 'utf8'),
  });
  const pep = await engine.apiKeys.create(admin, { name: 'pep', roles: ['pep'] });
  app.addHook('onClose', () => store.close());
  return {
    app,
    url: await app.listen({ host: '127.0.0.1', port: 0 }),
    headers: { authorization: `Bearer ${pep.secret}` },
    policyEngine: process.env.BENCH_POLICY_ENGINE ?? 'compiled',
    orgId: org.id,
  };
}

/** The real app with one agent: its public URL is the address it listens on (DPoP proofs name it). */
async function agent() {
  let url;
  const world = await agentWorld(dir, { name: 'sdk', issuer: () => url, dataClass: 'internal' });
  const authenticator = new Authenticator(world.engine, world.engine.users, { defaultOrgId: world.org.id });
  const { app } = await buildApp({
    engine: world.engine,
    authenticator,
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: 1 << 20,
    version: 'bench',
  });
  app.addHook('onClose', () => world.store.close());
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  // For enforcement points in the parent (the MCP gateway bench).
  const pep = await world.engine.apiKeys.create(world.admin, { name: 'pep', roles: ['pep'] });
  return {
    app,
    url,
    agentId: world.agent.id,
    privateJwk: world.privateJwk,
    delegationId: world.delegation.id,
    pepKey: pep.secret,
  };
}

const start = { bare, mandate, agent }[kind];
if (!start) throw new Error(`unknown server kind ${kind} (bare, mandate, agent)`);
const { app, ...ready } = await start();
process.on('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
process.stdout.write(`${JSON.stringify(ready)}\n`);
