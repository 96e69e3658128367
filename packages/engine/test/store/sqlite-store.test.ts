import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '@mandate/engine';
import { storeContract } from './contract.js';
import { fixedClock } from './fixtures.js';

storeContract('SqliteStore', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-store-contract-'));
  const store = new SqliteStore({ file: path.join(dir, 'mandate.db'), clock: fixedClock() });
  return {
    store,
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
