import { EMPTY_ROOT, nodeHash } from './hash.js';

/**
 * Proof generation (RFC 9162 sections 2.1.3.1 and 2.1.4.1) over stored subtree hashes.
 * `node(level, index)` returns the root of the complete subtree holding leaves
 * [index·2^level, (index+1)·2^level); the log stores every such node as it completes, so any
 * root or proof here costs O(log n) node reads (memoised per call).
 */
export type NodeReader = (level: number, index: number) => Promise<Uint8Array>;

const largestPowerOfTwoBelow = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

const isPowerOfTwo = (n: number): boolean => n > 0 && 2 ** Math.round(Math.log2(n)) === n;

function memoise(read: NodeReader): NodeReader {
  const cache = new Map<string, Promise<Uint8Array>>();
  return (level, index) => {
    const key = `${level}/${index}`;
    let hit = cache.get(key);
    if (!hit) {
      hit = read(level, index);
      cache.set(key, hit);
    }
    return hit;
  };
}

/** MTH(D[start:end]) per the RFC's recursion; start is always aligned where the recursion splits. */
async function subtreeRoot(read: NodeReader, start: number, end: number): Promise<Uint8Array> {
  const width = end - start;
  if (isPowerOfTwo(width) && start % width === 0) return read(Math.log2(width), start / width);
  const k = largestPowerOfTwoBelow(width);
  const [left, right] = await Promise.all([
    subtreeRoot(read, start, start + k),
    subtreeRoot(read, start + k, end),
  ]);
  return nodeHash(left, right);
}

export async function rootAt(read: NodeReader, size: number): Promise<Uint8Array> {
  if (size === 0) return EMPTY_ROOT;
  return subtreeRoot(memoise(read), 0, size);
}

/** The audit path of leaf `index` in the tree of `size` leaves, leaf-side first. */
export async function inclusionProof(read: NodeReader, index: number, size: number): Promise<Uint8Array[]> {
  if (!(index >= 0 && index < size)) throw new RangeError(`index ${index} is not in a tree of size ${size}`);
  const cached = memoise(read);
  const path: Uint8Array[] = [];
  let start = 0;
  let end = size;
  const siblings: Array<Promise<Uint8Array>> = [];
  while (end - start > 1) {
    const k = largestPowerOfTwoBelow(end - start);
    if (index < start + k) {
      siblings.push(subtreeRoot(cached, start + k, end));
      end = start + k;
    } else {
      siblings.push(subtreeRoot(cached, start, start + k));
      start += k;
    }
  }
  // Collected top-down; the proof lists them bottom-up.
  for (const sibling of siblings.reverse()) path.push(await sibling);
  return path;
}

/** The consistency proof between the trees of sizes `from` and `to` (0 < from ≤ to). */
export async function consistencyProof(read: NodeReader, from: number, to: number): Promise<Uint8Array[]> {
  if (!(from >= 0 && from <= to)) throw new RangeError(`cannot prove ${from} → ${to}`);
  if (from === 0 || from === to) return [];
  const cached = memoise(read);
  const parts: Array<Promise<Uint8Array>> = [];
  // SUBPROOF(m, D[start:end], b), iteratively: each step appends one hash after the deeper ones.
  let m = from;
  let start = 0;
  let end = to;
  let complete = true;
  while (m !== end - start) {
    const k = largestPowerOfTwoBelow(end - start);
    if (m <= k) {
      parts.push(subtreeRoot(cached, start + k, end));
      end = start + k;
    } else {
      parts.push(subtreeRoot(cached, start, start + k));
      m -= k;
      start += k;
      complete = false;
    }
  }
  if (!complete) parts.push(subtreeRoot(cached, start, end));
  const proof: Uint8Array[] = [];
  for (const part of parts.reverse()) proof.push(await part);
  return proof;
}
