/**
 * What an append needs to know about each org's log, kept in memory by the one writer: the log
 * size and, per level, the last subtree root written (the left sibling the next append at that
 * level hashes with). Saves the size read and the node reads of every append. Anything not held
 * here is read from the database. Cleared whenever a transaction or savepoint rolls back (what it
 * holds may then describe writes that were undone); the log-size update checks the expected size,
 * so a stale head can fail an append but never write a wrong record.
 */
export class LogHeads {
  private readonly heads = new Map<
    string,
    { size: number; last: Map<number, { index: number; hash: Uint8Array }> }
  >();

  size(orgId: string): number | undefined {
    return this.heads.get(orgId)?.size;
  }

  /** The stored node (level, index), if it is the last one written at its level. */
  node(orgId: string, level: number, index: number): Uint8Array | undefined {
    const last = this.heads.get(orgId)?.last.get(level);
    return last?.index === index ? last.hash : undefined;
  }

  /** After an append wrote `nodes` and the log grew to `size`. */
  appended(
    orgId: string,
    size: number,
    nodes: ReadonlyArray<{ level: number; index: number; hash: Uint8Array }>,
  ) {
    let head = this.heads.get(orgId);
    if (!head) {
      head = { size, last: new Map() };
      this.heads.set(orgId, head);
    }
    head.size = size;
    for (const node of nodes) head.last.set(node.level, { index: node.index, hash: node.hash });
  }

  clear(): void {
    this.heads.clear();
  }
}
