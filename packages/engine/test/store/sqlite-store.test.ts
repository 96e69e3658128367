import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '@mandate/engine';
import { storeContract } from './contract.js';
import { fixedClock } from './fixtures.js';

storeContract(
  'SqliteStore',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-store-contract-'));
    const store = new SqliteStore({ file: path.join(dir, 'mandate.db'), clock: fixedClock() });
    return {
      store,
      cleanup: async () => {
        await store.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  {
    knownBugs: [
      // SqliteOrgTransaction.updateOrg never checks org.id against the scoped org.
      "updateOrg through another org's store throws and changes nothing",
      // SqlitePlatformStore.insertPlatformKey lets the raw SqliteError (PRIMARYKEY) escape.
      'insertPlatformKey with an existing id throws DuplicateError',
      // SqliteOrgReader.listAgents compares substr(name, 1, prefix.length): SQLite counts
      // characters, JavaScript's length counts UTF-16 code units.
      'namePrefix matches names starting with characters outside the BMP',
    ],
  },
);
