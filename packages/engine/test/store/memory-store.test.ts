import { MemoryStore } from '@mandate/engine';
import { storeContract } from './contract.js';

storeContract('MemoryStore', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});
