import path from 'node:path';
import {
  createEngine,
  type Engine,
  ensureDir,
  FileSignedHeadStore,
  LogSigningKey,
  MasterKey,
  SqliteStore,
  setDefaultPolicyEngine,
} from '@mandate/engine';
import { ConfigError } from '../config/load.js';
import type { MandateConfig } from '../config/schema.js';

/**
 * Opens the configured store (SQLite under `dataDir`) and the engine over it. `issuer` gives
 * the token issuer's URL once it is known (after the server listens).
 */
export function openEngine(
  config: MandateConfig,
  issuer: () => string = () => config.publicUrl ?? `http://${config.host}:${config.port}`,
): { engine: Engine; dataDir: string; file: string } {
  // Before any policy set is parsed: every evaluator made from here on uses this engine.
  setDefaultPolicyEngine(config.policyEngine);
  const dataDir = path.resolve(config.dataDir);
  try {
    ensureDir(dataDir);
  } catch (error) {
    throw new ConfigError(`data folder: ${(error as Error).message}`);
  }
  const file = path.join(dataDir, 'mandate.db');
  let store: SqliteStore;
  try {
    store = new SqliteStore({
      file,
      clock: { now: () => new Date() },
      writeQueue: { maxBatch: config.groupCommitMaxBatch, maxWaitMs: config.groupCommitMaxWaitMs },
    });
  } catch (error) {
    throw new ConfigError(`${file}: cannot open the database (${(error as Error).message})`);
  }
  try {
    // The log's key and the heads it signed live beside the database, not in it.
    const logKey = LogSigningKey.loadOrCreate(path.join(dataDir, 'log-signing-key'));
    const signedHeads = new FileSignedHeadStore(path.join(dataDir, 'log-signed-heads.json'));
    const masterKey = config.masterKey
      ? MasterKey.fromText(config.masterKey)
      : MasterKey.loadOrCreate(path.join(dataDir, 'master-key'));
    const engine = createEngine(store, {
      logKey,
      logOriginPrefix: config.logOrigin,
      signedHeads,
      oauth: { issuer, masterKey, tokenTtlSeconds: config.tokenTtlSeconds },
    });
    return { engine, dataDir, file };
  } catch (error) {
    void store.close();
    throw new ConfigError((error as Error).message);
  }
}
