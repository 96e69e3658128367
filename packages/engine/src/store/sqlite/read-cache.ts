/**
 * What the decision path reads on every request (the org, agents, users, delegations, revoked
 * token ids, policy versions, entities, documents such as locks, settings and baselines, API
 * keys), kept in memory so that a decision reads each from the database only once after it
 * changes. Written by hand: the invalidation must follow this store's commits exactly, which no
 * general cache library knows about.
 *
 * Exactness: this process's write queue is the only writer. A write deletes its keys when it is
 * made and again right after its transaction's COMMIT returns (`afterCommit`, run synchronously
 * by the queue before any other JS), and a read fills a key in the same synchronous step as its
 * database read. So a read either ran before the COMMIT (and its entry is deleted by it) or after
 * (and saw the new row): nothing stale survives a commit. Values are frozen, so a caller cannot
 * change what the next caller gets. A read inside a write transaction goes through the cache
 * only for keys no unit of that transaction wrote (`getInTransaction`).
 *
 * A change made to the database file by another process is not seen until restart: run
 * `mandate` administration through the server's API while it runs.
 */
const MISSING = Symbol('missing');

export class ReadCache {
  private readonly entries = new Map<string, unknown>();
  /** Cached lists (of documents by kind and tag), by org and kind: any write of the kind drops them. */
  private readonly lists = new Map<string, Map<string, unknown>>();
  private readonly dirty = new Set<string>();
  private readonly dirtyLists = new Set<string>();

  constructor(private readonly maxEntries = 100_000) {}

  /** The cached value of `key`, or `read()` (synchronous: see the class comment), cached. */
  get<T>(key: string, read: () => T): T {
    const hit = this.entries.get(key);
    if (hit !== undefined) return (hit === MISSING ? undefined : hit) as T;
    const value = read();
    if (this.entries.size >= this.maxEntries) this.evict();
    this.entries.set(key, value === undefined ? MISSING : deepFreeze(value));
    return value;
  }

  /**
   * For a read inside a write transaction (on the writer's connection): through the cache unless
   * this transaction wrote the key. A key it did not write holds the same in the transaction as
   * after the last COMMIT, which is what the cache holds (and may be filled with).
   */
  getInTransaction<T>(key: string, read: () => T): T {
    return this.dirty.has(key) ? read() : this.get(key, read);
  }

  /** As `getInTransaction`, for a cached list. */
  listInTransaction<T>(group: string, key: string, read: () => T): T {
    return this.dirtyLists.has(group) ? read() : this.list(group, key, read);
  }

  /** A cached list of `group` (org and kind), keyed within it by `key`. */
  list<T>(group: string, key: string, read: () => T): T {
    let lists = this.lists.get(group);
    const hit = lists?.get(key);
    if (hit !== undefined) return hit as T;
    const value = deepFreeze(read());
    if (!lists) {
      lists = new Map();
      this.lists.set(group, lists);
    }
    if (lists.size < 64) lists.set(key, value);
    return value;
  }

  /** A write of `key` in an open transaction: dropped now, and again when it commits. */
  invalidate(key: string): void {
    this.entries.delete(key);
    this.dirty.add(key);
  }

  invalidateLists(group: string): void {
    this.lists.delete(group);
    this.dirtyLists.add(group);
  }

  /** Right after a COMMIT returned: drop everything its transaction wrote. */
  afterCommit(): void {
    for (const key of this.dirty) this.entries.delete(key);
    for (const group of this.dirtyLists) this.lists.delete(group);
    this.dirty.clear();
    this.dirtyLists.clear();
  }

  clear(): void {
    this.entries.clear();
    this.lists.clear();
  }

  /** Drops the oldest tenth (insertion order): a bound on memory, not a policy that matters. */
  private evict(): void {
    let drop = Math.ceil(this.maxEntries / 10);
    for (const key of this.entries.keys()) {
      this.entries.delete(key);
      if (--drop === 0) break;
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
