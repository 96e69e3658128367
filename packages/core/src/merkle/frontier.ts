import { EMPTY_ROOT, nodeHash } from './hash.js';

/**
 * Streaming Merkle root: append leaf hashes one by one, holding only O(log n) hashes (the roots
 * of the complete subtrees so far, the "compact range"). Used to re-hash a whole exported log
 * without loading it.
 */
export class MerkleFrontier {
  /** roots[i] is the root of a complete subtree of 2^level leaves; highest level first. */
  private readonly stack: Array<{ level: number; hash: Uint8Array }> = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  append(leafHash: Uint8Array): void {
    let node = { level: 0, hash: leafHash };
    while (
      this.stack.length > 0 &&
      (this.stack[this.stack.length - 1] as { level: number }).level === node.level
    ) {
      const left = this.stack.pop() as { level: number; hash: Uint8Array };
      node = { level: node.level + 1, hash: nodeHash(left.hash, node.hash) };
    }
    this.stack.push(node);
    this.count++;
  }

  /** RFC 9162 MTH of the leaves appended so far: fold the subtree roots right to left. */
  root(): Uint8Array {
    if (this.stack.length === 0) return EMPTY_ROOT;
    let hash = (this.stack[this.stack.length - 1] as { hash: Uint8Array }).hash;
    for (let i = this.stack.length - 2; i >= 0; i--)
      hash = nodeHash((this.stack[i] as { hash: Uint8Array }).hash, hash);
    return hash;
  }
}

/** MTH of a list of leaf hashes. */
export function rootOf(leafHashes: Iterable<Uint8Array>): Uint8Array {
  const frontier = new MerkleFrontier();
  for (const hash of leafHashes) frontier.append(hash);
  return frontier.root();
}
