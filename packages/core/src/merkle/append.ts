import { nodeHash } from './hash.js';

export interface MerkleNode {
  level: number;
  index: number;
  hash: Uint8Array;
}

/**
 * The nodes a log must store when leaf `index` is appended: the leaf itself and every subtree
 * root it completes (while the node is a right child, its parent is now complete). One new
 * leaf completes on average one parent, so appends stay O(1) amortised.
 * `sibling(level, index)` returns an already stored node (always complete, never missing).
 * `hashNode` is RFC 9162's node hash; a runtime with native SHA-256 may pass its own.
 */
export function nodesCompletedBy(
  index: number,
  leafHash: Uint8Array,
  sibling: (level: number, index: number) => Uint8Array,
  hashNode: (left: Uint8Array, right: Uint8Array) => Uint8Array = nodeHash,
): MerkleNode[] {
  const nodes: MerkleNode[] = [{ level: 0, index, hash: leafHash }];
  let node = nodes[0] as MerkleNode;
  while (node.index % 2 === 1) {
    const left = sibling(node.level, node.index - 1);
    node = { level: node.level + 1, index: (node.index - 1) / 2, hash: hashNode(left, node.hash) };
    nodes.push(node);
  }
  return nodes;
}
