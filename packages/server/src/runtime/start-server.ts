import { Authenticator, type Engine, OidcVerifier } from '@mandate/engine';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { ConfigError } from '../config/load.js';
import type { MandateConfig } from '../config/schema.js';
import { buildApp } from '../http/app.js';
import { VERSION } from '../version.js';
import { openEngine } from './open-engine.js';

export interface RunningServer {
  app: FastifyInstance;
  engine: Engine;
  url: string;
  defaultOrgId: string;
  /** The admin key generated on this start, if one was (also printed once). */
  generatedAdminKey?: string;
  close(): Promise<void>;
}

/**
 * Opens the store, makes sure the default org exists, and listens. On the very first start
 * without `MANDATE_ADMIN_KEY`, an admin key is generated and printed once through `print`.
 */
export async function startServer(
  config: MandateConfig,
  print: (line: string) => void,
): Promise<RunningServer> {
  const logger = pino({ level: config.logLevel, base: { service: 'mandate' } }, pino.destination(2));
  // The issuer is this server's public URL, known for sure only once it listens (port 0).
  let issuer = config.publicUrl;
  const { engine, dataDir } = openEngine(config, () => issuer ?? `http://${config.host}:${config.port}`);
  try {
    try {
      await engine.oauth.keys.load();
    } catch (error) {
      throw new ConfigError(
        `${(error as Error).message} (check MANDATE_MASTER_KEY or ${dataDir}/master-key)`,
      );
    }
    const { org, created } = await engine.orgs.ensureDefaultOrg({ withAdminKey: !config.adminKey });
    const oidc = await oidcVerifier(config, engine);
    const authenticator = new Authenticator(engine, engine.users, {
      adminKey: config.adminKey,
      platformKey: config.platformKey,
      defaultOrgId: org.id,
      oidc,
    });
    const { app } = await buildApp({
      engine,
      authenticator,
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      version: VERSION,
    });
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    issuer ??= url;

    print(`Mandate ${VERSION}: SQLite store in ${dataDir}`);
    const generatedAdminKey = created?.adminKey?.secret;
    if (generatedAdminKey) {
      print(`Created the default org ${org.id}. Its admin API key, shown only this once:`);
      print(`  ${generatedAdminKey}`);
    }
    print(`Listening on ${url}`);

    const sweep = every(config.expirySweepMs, () => sweepExpiries(engine, logger));
    const checkpointTimer = every(config.checkpointIntervalMs, () => signCheckpoints(engine, logger));
    return {
      app,
      engine,
      url,
      defaultOrgId: org.id,
      generatedAdminKey,
      close: async () => {
        sweep.stop();
        checkpointTimer.stop();
        await Promise.all([sweep.idle(), checkpointTimer.idle()]);
        await app.close();
        await engine.store.close();
      },
    };
  } catch (error) {
    await engine.store.close().catch(() => undefined);
    throw error;
  }
}

/** The trusted issuers, checked at start: a bad org or JWKS file stops the start with one line. */
async function oidcVerifier(config: MandateConfig, engine: Engine): Promise<OidcVerifier | undefined> {
  if (config.oidc.length === 0) return undefined;
  for (const [i, issuer] of config.oidc.entries()) {
    if (issuer.orgId && !(await engine.store.platform.getOrg(issuer.orgId))) {
      throw new ConfigError(`oidc[${i}].orgId: there is no org ${issuer.orgId}`);
    }
  }
  try {
    return new OidcVerifier(config.oidc);
  } catch (error) {
    throw new ConfigError(
      `oidc: cannot load an issuer's JWKS file (${(error as Error).message.split('\n')[0]})`,
    );
  }
}

/** Runs `work` now and then every `ms`, never two runs at once (a slow run delays the next). */
function every(ms: number, work: () => Promise<void>) {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = work().finally(() => {
      running = undefined;
    });
  };
  const timer = setInterval(tick, ms);
  timer.unref();
  tick();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
    idle: () => running ?? Promise.resolve(),
  };
}

/** Signs a checkpoint of every org's log that grew since its last one. */
async function signCheckpoints(engine: Engine, logger: pino.Logger): Promise<void> {
  try {
    await forEachOrg(engine, (orgId) => engine.checkpoints.signIfGrown(orgId));
  } catch (error) {
    logger.error({ err: error }, 'checkpoint signing failed');
  }
}

async function forEachOrg(engine: Engine, work: (orgId: string) => Promise<unknown>): Promise<void> {
  let after: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await engine.store.platform.listOrgs({ limit: 200, after });
    for (const org of page.items) await work(org.id);
    if (!page.nextCursor) return;
    after = page.nextCursor;
  }
}

/** Records, once, the expiry of every agent whose expiry passed (see AgentService.recordExpiries). */
async function sweepExpiries(engine: Engine, logger: pino.Logger): Promise<void> {
  try {
    await forEachOrg(engine, (orgId) => engine.agents.recordExpiries(orgId));
  } catch (error) {
    logger.error({ err: error }, 'expiry sweep failed');
  }
}
