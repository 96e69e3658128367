import { afterEach, describe, expect, it, vi } from 'vitest';
import { type TransactionDriver, WriteQueue } from '../../src/store/sqlite/write-queue.js';
import { gate } from './fixtures.js';

/** The transaction handle units receive: they note what they did in the shared call log. */
interface FakeTx {
  log: string[];
}

/** A driver that records every call and can be told to fail one of them. */
class FakeDriver implements TransactionDriver<FakeTx> {
  readonly log: string[] = [];
  readonly tx: FakeTx = { log: this.log };
  failNext: Partial<Record<'begin' | 'commit', Error>> = {};
  /** Runs inside commit(), before it returns. */
  onCommit: () => void = () => {};
  /** Set false to play a database that aborted the whole transaction. */
  open = true;

  private call(name: 'begin' | 'savepoint' | 'release' | 'rollbackToSavepoint' | 'commit' | 'rollback') {
    this.log.push(name);
    if (name === 'begin' || name === 'commit') {
      const error = this.failNext[name];
      if (error) {
        delete this.failNext[name];
        throw error;
      }
    }
  }
  begin() {
    this.call('begin');
  }
  savepoint() {
    this.call('savepoint');
  }
  release() {
    this.call('release');
  }
  rollbackToSavepoint() {
    this.call('rollbackToSavepoint');
  }
  commit() {
    this.call('commit');
    this.onCommit();
  }
  rollback() {
    this.call('rollback');
  }
  inTransaction() {
    return this.open;
  }
  transaction() {
    return this.tx;
  }

  /** The units (by the name they logged) of each transaction, in order. */
  groups(): string[][] {
    const groups: string[][] = [];
    for (const entry of this.log) {
      if (entry === 'begin') groups.push([]);
      else if (entry.startsWith('work:')) groups[groups.length - 1]?.push(entry.slice(5));
    }
    return groups;
  }
}

const unit =
  <T>(name: string, value: T) =>
  async (tx: FakeTx): Promise<T> => {
    tx.log.push(`work:${name}`);
    return value;
  };

const failing = (name: string, error: Error) => async (tx: FakeTx) => {
  tx.log.push(`work:${name}`);
  throw error;
};

/** Tracks whether a promise has settled, without affecting it. */
function track<T>(promise: Promise<T>) {
  const state = { settled: false, promise };
  promise.then(
    () => {
      state.settled = true;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

describe('WriteQueue', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('commits units queued together in one transaction, each in its own savepoint', async () => {
    const driver = new FakeDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    const results = await Promise.all([
      queue.enqueue(unit('a', 1)),
      queue.enqueue(unit('b', 'two')),
      queue.enqueue(unit('c', { three: 3 })),
    ]);
    expect(results).toEqual([1, 'two', { three: 3 }]);
    expect(driver.log).toEqual([
      'begin',
      'savepoint',
      'work:a',
      'release',
      'savepoint',
      'work:b',
      'release',
      'savepoint',
      'work:c',
      'release',
      'commit',
    ]);
  });

  it('passes the driver’s transaction handle to every unit', async () => {
    const driver = new FakeDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    const seen = await Promise.all([queue.enqueue(async (tx) => tx), queue.enqueue(async (tx) => tx)]);
    expect(seen).toEqual([driver.tx, driver.tx]);
    expect(seen[0]).toBe(driver.tx);
  });

  it('rolls a failing unit back to its savepoint while the others of the group commit', async () => {
    const driver = new FakeDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    const boom = new Error('boom');
    const results = await Promise.allSettled([
      queue.enqueue(unit('a', 'A')),
      queue.enqueue(failing('b', boom)),
      queue.enqueue(unit('c', 'C')),
    ]);
    expect(results).toEqual([
      { status: 'fulfilled', value: 'A' },
      { status: 'rejected', reason: boom },
      { status: 'fulfilled', value: 'C' },
    ]);
    expect(driver.log).toEqual([
      'begin',
      'savepoint',
      'work:a',
      'release',
      'savepoint',
      'work:b',
      'rollbackToSavepoint',
      'savepoint',
      'work:c',
      'release',
      'commit',
    ]);
  });

  it('when the database aborts the whole transaction, runs nothing more and rejects the whole group', async () => {
    const driver = new FakeDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    const full = new Error('SQLITE_FULL');
    const results = await Promise.allSettled([
      queue.enqueue(unit('a', 'A')),
      queue.enqueue(async (tx) => {
        tx.log.push('work:b');
        driver.open = false; // the database rolled everything back
        throw full;
      }),
      queue.enqueue(unit('c', 'C')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toBe(full);
    // c never ran (it would have run in autocommit), and nothing was committed.
    expect(driver.log).not.toContain('work:c');
    expect(driver.log).not.toContain('commit');
    driver.open = true;
    await expect(queue.enqueue(unit('d', 'D'))).resolves.toBe('D');
  });

  it('rejects every unit of the group when COMMIT fails, rolls back, and keeps serving', async () => {
    const driver = new FakeDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    const diskFull = new Error('SQLITE_FULL');
    driver.failNext.commit = diskFull;
    const boom = new Error('unit failure');
    const results = await Promise.allSettled([
      queue.enqueue(unit('a', 'A')),
      queue.enqueue(failing('b', boom)),
      queue.enqueue(unit('c', 'C')),
    ]);
    expect(results).toEqual([
      { status: 'rejected', reason: diskFull },
      { status: 'rejected', reason: diskFull },
      { status: 'rejected', reason: diskFull },
    ]);
    expect(driver.log.slice(-2)).toEqual(['commit', 'rollback']);

    await expect(queue.enqueue(unit('d', 'D'))).resolves.toBe('D');
    expect(driver.groups()).toEqual([['a', 'b', 'c'], ['d']]);
    expect(driver.log.slice(-1)).toEqual(['commit']);
  });

  it('rejects the group when BEGIN fails, without running its units, and keeps serving', async () => {
    const driver = new FakeDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    const busy = new Error('SQLITE_BUSY');
    driver.failNext.begin = busy;
    const results = await Promise.allSettled([queue.enqueue(unit('a', 'A')), queue.enqueue(unit('b', 'B'))]);
    expect(results).toEqual([
      { status: 'rejected', reason: busy },
      { status: 'rejected', reason: busy },
    ]);
    expect(driver.log).toEqual(['begin']);
    await expect(queue.enqueue(unit('c', 'C'))).resolves.toBe('C');
    expect(driver.groups()).toEqual([[], ['c']]);
  });

  it('commits at most maxBatch units per transaction', async () => {
    const driver = new FakeDriver();
    const queue = new WriteQueue(driver, { maxBatch: 2, maxWaitMs: 0 });
    const names = ['a', 'b', 'c', 'd', 'e'];
    const results = await Promise.all(names.map((name) => queue.enqueue(unit(name, name.toUpperCase()))));
    expect(results).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(driver.groups()).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(driver.log.filter((entry) => entry === 'commit')).toHaveLength(3);
  });

  it('work queued while a group runs goes into the next group', async () => {
    const driver = new FakeDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    const reached = gate();
    const release = gate();
    const first = queue.enqueue(async (tx) => {
      tx.log.push('work:a');
      reached.open();
      await release.promise;
    });
    await reached.promise;
    const later = [queue.enqueue(unit('b', 'B')), queue.enqueue(unit('c', 'C'))];
    release.open();
    await first;
    expect(await Promise.all(later)).toEqual(['B', 'C']);
    expect(driver.groups()).toEqual([['a'], ['b', 'c']]);
  });

  it('settles a unit’s promise only after commit() of its group was called', async () => {
    const driver = new FakeDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    const order: string[] = [];
    const settledAtCommit: boolean[] = [];
    const reached = gate();
    const release = gate();
    const a = track(
      queue.enqueue(unit('a', 'A')).then((value) => {
        order.push('resolved a');
        return value;
      }),
    );
    const b = track(
      queue
        .enqueue(async (tx) => {
          tx.log.push('work:b');
          reached.open();
          await release.promise;
          return 'B';
        })
        .then((value) => {
          order.push('resolved b');
          return value;
        }),
    );
    const c = track(
      queue.enqueue(failing('c', new Error('c fails'))).catch((error: unknown) => {
        order.push('rejected c');
        throw error;
      }),
    );
    driver.onCommit = () => {
      order.push('commit');
      settledAtCommit.push(a.settled, b.settled, c.settled);
    };

    // Unit a has finished its work, but its group has not committed: its promise is pending.
    await reached.promise;
    await new Promise((resolve) => setImmediate(resolve));
    expect(driver.log).toContain('work:a');
    expect(driver.log).not.toContain('commit');
    expect(a.settled).toBe(false);

    release.open();
    await expect(a.promise).resolves.toBe('A');
    await expect(b.promise).resolves.toBe('B');
    await expect(c.promise).rejects.toThrow('c fails');
    expect(settledAtCommit).toEqual([false, false, false]);
    expect(order[0]).toBe('commit');
    expect([...order].sort()).toEqual(['commit', 'rejected c', 'resolved a', 'resolved b']);
  });

  it('close() waits for queued work to finish, then refuses new work', async () => {
    const driver = new FakeDriver();
    const queue = new WriteQueue(driver, { maxBatch: 1, maxWaitMs: 0 });
    const reached = gate();
    const release = gate();
    const order: string[] = [];
    const first = queue
      .enqueue(async (tx) => {
        tx.log.push('work:a');
        reached.open();
        await release.promise;
        return 'A';
      })
      .then((value) => {
        order.push('a done');
        return value;
      });
    const second = queue.enqueue(unit('b', 'B')).then((value) => {
      order.push('b done');
      return value;
    });
    await reached.promise;
    const closing = track(
      queue.close().then(() => {
        order.push('closed');
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(closing.settled).toBe(false);

    // Work enqueued after close() was called is refused at once.
    await expect(queue.enqueue(unit('late', 'L'))).rejects.toThrow(/closed/);

    release.open();
    await closing.promise;
    expect(await first).toBe('A');
    expect(await second).toBe('B');
    expect(order).toEqual(['a done', 'b done', 'closed']);
    expect(driver.groups()).toEqual([['a'], ['b']]);

    await expect(queue.enqueue(unit('after', 'X'))).rejects.toThrow(/closed/);
    expect(driver.groups()).toEqual([['a'], ['b']]);
  });

  it('close() on an idle queue resolves and refuses new work', async () => {
    const driver = new FakeDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    await queue.close();
    await expect(queue.enqueue(unit('a', 'A'))).rejects.toThrow(/closed/);
    expect(driver.log).toEqual([]);
  });

  it('with maxWaitMs > 0, holds the first group open for more units before it begins', async () => {
    vi.useFakeTimers();
    const driver = new FakeDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 50 });
    const a = queue.enqueue(unit('a', 'A'));
    await vi.advanceTimersByTimeAsync(20);
    expect(driver.log).toEqual([]);
    const b = queue.enqueue(unit('b', 'B'));
    await vi.advanceTimersByTimeAsync(30);
    expect(await Promise.all([a, b])).toEqual(['A', 'B']);
    expect(driver.groups()).toEqual([['a', 'b']]);
  });
});

/** A driver whose flushes to disk wait until the test lets each one finish (or fail). */
class SyncingDriver extends FakeDriver {
  readonly flushes: Array<{ finish: () => void; fail: (error: Error) => void }> = [];
  sync(): Promise<void> {
    this.log.push('sync');
    return new Promise<void>((resolve, reject) => {
      this.flushes.push({ finish: resolve, fail: reject });
    });
  }
}

describe('WriteQueue with a flush to disk after COMMIT', () => {
  const settle = () => new Promise((r) => setTimeout(r, 5));

  it('tells no caller before the flush of its group finished', async () => {
    const driver = new SyncingDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    const first = track(queue.enqueue(unit('a', 1)));
    await settle();
    expect(driver.log).toEqual(['begin', 'savepoint', 'work:a', 'release', 'commit', 'sync']);
    expect(first.settled).toBe(false);
    driver.flushes[0]?.finish();
    await expect(first.promise).resolves.toBe(1);
  });

  it('runs the next group while a flush is in flight, and settles groups in commit order', async () => {
    const driver = new SyncingDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    const first = track(queue.enqueue(unit('a', 1)));
    await settle();
    const second = track(queue.enqueue(unit('b', 2)));
    await settle();
    // The second group committed while the first flush is still running; its own flush waits.
    expect(driver.groups()).toEqual([['a'], ['b']]);
    expect(driver.log.filter((e) => e === 'sync')).toHaveLength(1);
    expect([first.settled, second.settled]).toEqual([false, false]);
    driver.flushes[0]?.finish();
    await first.promise;
    await settle();
    expect(second.settled).toBe(false);
    driver.flushes[1]?.finish();
    await expect(second.promise).resolves.toBe(2);
  });

  it('a failed flush fails its group and every write after it, and the queue refuses more', async () => {
    const driver = new SyncingDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    const first = queue.enqueue(unit('a', 1));
    await settle();
    const second = queue.enqueue(unit('b', 2));
    await settle();
    driver.flushes[0]?.fail(new Error('EIO'));
    await expect(first).rejects.toThrow(/could not be flushed/);
    await expect(second).rejects.toThrow(/could not be flushed/);
    await expect(queue.enqueue(unit('c', 3))).rejects.toThrow(/could not be flushed/);
  });
});

describe('WriteQueue flush coalescing', () => {
  it('the groups committed during one flush share the next flush', async () => {
    const driver = new SyncingDriver();
    const queue = new WriteQueue(driver, { maxBatch: 256, maxWaitMs: 0 });
    const settle = () => new Promise((r) => setTimeout(r, 5));
    const first = queue.enqueue(unit('a', 1));
    await settle();
    const later = [];
    for (const name of ['b', 'c', 'd']) {
      later.push(track(queue.enqueue(unit(name, name))));
      await settle(); // each its own group, committed while the first flush runs
    }
    expect(driver.groups()).toEqual([['a'], ['b'], ['c'], ['d']]);
    expect(driver.flushes).toHaveLength(1);
    driver.flushes[0]?.finish();
    await first;
    await settle();
    expect(driver.flushes).toHaveLength(2);
    expect(later.some((t) => t.settled)).toBe(false);
    driver.flushes[1]?.finish();
    expect(await Promise.all(later.map((t) => t.promise))).toEqual(['b', 'c', 'd']);
    expect(driver.flushes).toHaveLength(2);
  });
});
