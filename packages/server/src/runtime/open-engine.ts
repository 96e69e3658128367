import fs from 'node:fs';
import path from 'node:path';
import { createEngine, type Engine, LogSigningKey, SqliteStore } from '@mandate/engine';
import type { MandateConfig } from '../config/schema.js';

/** Opens the configured store (SQLite under `dataDir`) and the engine over it. */
export function openEngine(config: MandateConfig): { engine: Engine; dataDir: string; file: string } {
  const dataDir = path.resolve(config.dataDir);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, 'mandate.db');
  const store = new SqliteStore({
    file,
    clock: { now: () => new Date() },
    writeQueue: { maxBatch: config.groupCommitMaxBatch, maxWaitMs: config.groupCommitMaxWaitMs },
  });
  try {
    const logKey = LogSigningKey.loadOrCreate(path.join(dataDir, 'log-signing-key'));
    return { engine: createEngine(store, { logKey, logOriginPrefix: config.logOrigin }), dataDir, file };
  } catch (error) {
    void store.close();
    throw error;
  }
}
