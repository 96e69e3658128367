/**
 * Serialises transactions onto one connection and commits them in groups: work that queues
 * while a commit is in progress runs in the next transaction together, each unit inside its own
 * savepoint so one unit's failure undoes only its writes. A unit's promise settles only after
 * its group is durable: the COMMIT returned and, where the driver has `sync`, a flush to disk that
 * started after that COMMIT finished. The flush runs off the event loop, so the next groups run
 * while the disk works; one flush covers every group committed before it started, so the groups
 * committed during a flush share the next one (the disk, not the group size, sets the pace), and
 * groups become durable (and their callers hear of it) in commit order.
 * If the COMMIT fails, every unit of the group fails; if a flush fails, the queue is broken:
 * what it covered and everything after is refused (nobody may be told a write is durable that
 * the disk may not have).
 */
export interface TransactionDriver<Tx> {
  begin(): void;
  savepoint(): void;
  release(): void;
  rollbackToSavepoint(): void;
  commit(): void;
  rollback(): void;
  /** False once the database itself aborted the transaction (disk full, I/O error). */
  inTransaction(): boolean;
  transaction(): Tx;
  /** Runs synchronously right after a COMMIT returned (before any other JS): cache invalidation. */
  afterCommit?(): void;
  /** Runs synchronously after a rollback (of a unit's savepoint or the whole transaction). */
  afterRollback?(): void;
  /** Makes every committed transaction durable (an fdatasync off the event loop). */
  sync?(): Promise<void>;
}

export interface WriteQueueOptions {
  /** Most units committed by one transaction. */
  maxBatch: number;
  /** How long a group may wait for more units before it commits (0: commit as soon as possible). */
  maxWaitMs: number;
}

interface Unit<Tx> {
  work: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class WriteQueue<Tx> {
  private readonly pending: Unit<Tx>[] = [];
  private running = false;
  private closed = false;
  /** Groups committed since the running flush started: the next flush settles them. */
  private unflushed: Array<(error?: Error) => void> = [];
  /** The running flush, if any. */
  private flushing?: Promise<void>;
  /** Set once a flush failed: nothing after it can be acknowledged. */
  private broken?: Error;

  constructor(
    private readonly driver: TransactionDriver<Tx>,
    private readonly options: WriteQueueOptions,
  ) {}

  enqueue<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.running) {
        this.running = true;
        const start = () => void this.drain();
        if (this.options.maxWaitMs > 0) setTimeout(start, this.options.maxWaitMs);
        else setImmediate(start);
      }
    });
  }

  /** Waits for queued work to finish, then refuses more. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await new Promise((r) => setTimeout(r, 5));
    while (this.flushing) await this.flushing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const group = this.pending.splice(0, this.options.maxBatch);
        await this.commitGroup(group);
      }
    } finally {
      this.running = false;
    }
  }

  private async commitGroup(group: Unit<Tx>[]): Promise<void> {
    if (this.broken) {
      for (const unit of group) unit.reject(this.broken);
      return;
    }
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.driver.begin();
    } catch (error) {
      for (const unit of group) unit.reject(error);
      return;
    }
    const tx = this.driver.transaction();
    let aborted: Error | undefined;
    for (const unit of group) {
      if (aborted) {
        outcomes.push({ ok: false, error: aborted });
        continue;
      }
      try {
        this.driver.savepoint();
        const value = await unit.work(tx);
        this.driver.release();
        outcomes.push({ ok: true, value });
      } catch (error) {
        try {
          this.driver.rollbackToSavepoint();
        } catch {
          // The savepoint is gone only if the whole transaction was aborted; handled below.
        }
        this.driver.afterRollback?.();
        outcomes.push({ ok: false, error });
        // If the database rolled the whole transaction back, any further statement would run
        // in autocommit and be durable while its caller is told it failed: stop the group.
        if (!this.driver.inTransaction()) {
          aborted = new Error('the transaction was aborted by the database; nothing in it was written', {
            cause: error,
          });
        }
      }
    }
    if (aborted) {
      this.driver.afterRollback?.();
      const cause = aborted;
      group.forEach((unit, i) => {
        const outcome = outcomes[i];
        unit.reject(outcome && !outcome.ok ? outcome.error : cause);
      });
      return;
    }
    try {
      this.driver.commit();
    } catch (error) {
      try {
        this.driver.rollback();
      } catch {
        // Nothing to roll back.
      }
      this.driver.afterRollback?.();
      for (const unit of group) unit.reject(error);
      return;
    }
    this.driver.afterCommit?.();
    const settle = () =>
      group.forEach((unit, i) => {
        const outcome = outcomes[i];
        if (outcome?.ok) unit.resolve(outcome.value);
        else unit.reject(outcome?.error);
      });
    const sync = this.driver.sync?.bind(this.driver);
    if (!sync) return settle();
    this.unflushed.push((error) => {
      if (error) for (const unit of group) unit.reject(error);
      else settle();
    });
    if (!this.flushing) this.flushing = this.flush(sync);
  }

  /** Flushes until no committed group waits: each flush settles the groups committed before it began. */
  private async flush(sync: () => Promise<void>): Promise<void> {
    await Promise.resolve(); // `flushing` is set before this loop can end (and clear it)
    while (this.unflushed.length > 0) {
      const batch = this.unflushed.splice(0);
      if (!this.broken) {
        try {
          await sync();
        } catch (error) {
          this.broken = new Error('the database could not be flushed to disk; the store refuses writes', {
            cause: error,
          });
        }
      }
      for (const settle of batch) settle(this.broken);
    }
    this.flushing = undefined;
  }
}
