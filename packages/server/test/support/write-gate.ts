import type { TestApp } from '../harness.js';

/** A promise with its resolve handle. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Holds the store's writer so that transactions queue up behind it in a known order: what a test
 * needs to make "a decision passed every step, then something committed, then the decision was
 * recorded" happen every time rather than by chance. Watches the queue from outside (no source
 * change): every transaction goes through `store.org(id).transact`, so counting those calls tells
 * when a unit is queued.
 */
export async function holdWriter(t: TestApp, orgId = t.defaultOrgId) {
  const store = t.engine.store;
  const originalOrg = store.org;
  let queued = 0;
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const gate = deferred();
  const gateHeld = deferred();
  const hold = store.org(orgId).transact(async () => {
    gateHeld.resolve();
    await gate.promise;
  });
  await gateHeld.promise;
  store.org = ((id: string) => {
    const org = originalOrg.call(store, id);
    const transact = org.transact.bind(org);
    org.transact = ((work: Parameters<typeof transact>[0]) => {
      const queuedWork = transact(work);
      queued++;
      for (const w of waiters) if (queued >= w.count) w.resolve();
      return queuedWork;
    }) as typeof org.transact;
    return org;
  }) as typeof store.org;
  // The wrapper is an own property over the prototype's method; deleting it restores that.
  const stopCounting = () => void delete (store as { org?: unknown }).org;
  return {
    /** Resolves once this many transactions were queued behind the held writer. */
    queuedAtLeast(count: number): Promise<void> {
      const d = deferred();
      waiters.push({ count, resolve: d.resolve });
      if (queued >= count) d.resolve();
      return d.promise;
    },
    get queued() {
      return queued;
    },
    /** Lets the queue run (idempotent). */
    async release(): Promise<void> {
      stopCounting();
      gate.resolve();
      await hold;
    },
  };
}
