import { createHash } from 'node:crypto';
import {
  consistencyProof,
  equalBytes,
  inclusionProof,
  leafHash,
  MerkleFrontier,
  type NodeReader,
  nodesCompletedBy,
  ProofError,
  rootAt,
  rootOf,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from '@mandate/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * Property tests for the Merkle log (issue 3, "Must show": for random sizes up to 10,000, every
 * generated inclusion and consistency proof verifies, and every single-bit change to a record,
 * proof or root is rejected). One log of 10,000 leaves is built once; a tree of size n is its
 * prefix, whose stored nodes are a subset of the big log's (a node never changes once complete).
 * The reader for size n refuses any node that is not complete in a tree of n leaves, so a prover
 * that peeked past the end of the tree would fail here.
 */

const MAX = 10_000;
/** Runs per property; each run costs O(log n) reads (the naive RFC recursion below is memoised). */
const RUNS = 300;
const NAIVE_RUNS = 100;
const SMALL = 64;
const FLIP_ALL_RUNS = 4;
/** Fixed so that failures reproduce; FC_SEED=<n> explores other cases (and another log). */
const SEED = Number(process.env.FC_SEED ?? 0x9162);

// ---------------------------------------------------------------------------------------------
// The log

/** Records are distinct (a big-endian index prefix) so no two leaves ever hash alike. */
const records: Uint8Array[] = fc
  .sample(fc.uint8Array({ minLength: 0, maxLength: 60 }), { numRuns: MAX, seed: SEED })
  .map((payload, i) => {
    const record = new Uint8Array(4 + payload.length);
    new DataView(record.buffer).setUint32(0, i);
    record.set(payload, 4);
    return record;
  });
let leaves: Uint8Array[] = [];
const nodes = new Map<string, Uint8Array>();
/** prefixRoots[n]: the root of the first n leaves, from one streaming pass (an independent oracle). */
const prefixRoots: Uint8Array[] = [];

beforeAll(() => {
  leaves = records.map(leafHash);
  leaves.forEach((hash, index) => {
    const completed = nodesCompletedBy(index, hash, (level, i) => {
      const node = nodes.get(`${level}/${i}`);
      if (!node) throw new Error(`sibling ${level}/${i} was not stored before leaf ${index}`);
      return node;
    });
    for (const node of completed) {
      const key = `${node.level}/${node.index}`;
      if (nodes.has(key)) throw new Error(`node ${key} stored twice`);
      nodes.set(key, node.hash);
    }
  });
  const frontier = new MerkleFrontier();
  prefixRoots.push(frontier.root());
  for (const hash of leaves) {
    frontier.append(hash);
    prefixRoots.push(frontier.root());
  }
});

const rootOfPrefix = (n: number) => prefixRoots[n] as Uint8Array;

interface CountingReader {
  read: NodeReader;
  reads: () => number;
}

/** A NodeReader over the prefix of `size` leaves: only nodes complete in that tree exist. */
function readerFor(size: number): CountingReader {
  let reads = 0;
  const read: NodeReader = async (level, index) => {
    if (!(Number.isInteger(level) && Number.isInteger(index) && level >= 0 && index >= 0))
      throw new Error(`bad node address ${level}/${index}`);
    if ((index + 1) * 2 ** level > size)
      throw new Error(`node ${level}/${index} is not complete in a tree of ${size} leaves`);
    const hash = nodes.get(`${level}/${index}`);
    if (!hash) throw new Error(`node ${level}/${index} was never stored`);
    reads++;
    return hash;
  };
  return { read, reads: () => reads };
}

const rootOfSize = (size: number) => rootAt(readerFor(size).read, size);

// ---------------------------------------------------------------------------------------------
// RFC 9162 section 2.1, written out naively (node:crypto rather than the library's SHA-256)

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return new Uint8Array(h.digest());
};
const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);
/** The largest power of two smaller than n (n > 1). */
const splitOf = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

/** MTH(D[start:end]) from the raw records (memoised per range: the recursion is unchanged). */
const mthMemo = new Map<string, Uint8Array>();
function mth(start: number, end: number): Uint8Array {
  const key = `${start}/${end}`;
  let hash = mthMemo.get(key);
  if (hash) return hash;
  const n = end - start;
  if (n === 0) hash = sha256();
  else if (n === 1) hash = sha256(LEAF, records[start] as Uint8Array);
  else {
    const k = splitOf(n);
    hash = sha256(NODE, mth(start, start + k), mth(start + k, end));
  }
  mthMemo.set(key, hash);
  return hash;
}

/** PATH(m, D[start:end]) (section 2.1.3.1). */
function path(m: number, start: number, end: number): Uint8Array[] {
  const n = end - start;
  if (n === 1) return [];
  const k = splitOf(n);
  if (m < k) return [...path(m, start, start + k), mth(start + k, end)];
  return [...path(m - k, start + k, end), mth(start, start + k)];
}

/** SUBPROOF(m, D[start:end], b) (section 2.1.4.1). */
function subproof(m: number, start: number, end: number, b: boolean): Uint8Array[] {
  const n = end - start;
  if (m === n) return b ? [] : [mth(start, end)];
  const k = splitOf(n);
  if (m <= k) return [...subproof(m, start, start + k, b), mth(start + k, end)];
  return [...subproof(m - k, start + k, end, false), mth(start, start + k)];
}
const proofRfc = (m: number, n: number): Uint8Array[] => (m === n ? [] : subproof(m, 0, n, true));

const hex = (list: Uint8Array[]) => list.map(toHex);

// ---------------------------------------------------------------------------------------------
// Tampering helpers

const flipBit = (bytes: Uint8Array, bit: number): Uint8Array => {
  const out = bytes.slice();
  const at = bit % (out.length * 8);
  out[at >> 3] = (out[at >> 3] as number) ^ (1 << (at & 7));
  return out;
};
const flipInList = (list: Uint8Array[], element: number, bit: number): Uint8Array[] =>
  list.map((hash, i) => (i === element % list.length ? flipBit(hash, bit) : hash));
const removeAt = (list: Uint8Array[], at: number): Uint8Array[] =>
  list.filter((_, i) => i !== at % list.length);
const insertAt = (list: Uint8Array[], at: number, extra: Uint8Array): Uint8Array[] => {
  const i = at % (list.length + 1);
  return [...list.slice(0, i), extra, ...list.slice(i)];
};
const rejects = (run: () => void) => expect(run).toThrow(ProofError);

// ---------------------------------------------------------------------------------------------
// Arbitraries

const size = fc.integer({ min: 1, max: MAX });
const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
/** A tree size and a leaf index in it. */
const leafIn = size.chain((n) =>
  fc.record({ size: fc.constant(n), index: fc.integer({ min: 0, max: n - 1 }) }),
);
/** Two sizes 1 ≤ m ≤ n. */
const sizePair = size.chain((n) => fc.record({ m: fc.integer({ min: 1, max: n }), n: fc.constant(n) }));
const params = { numRuns: RUNS, seed: SEED };

describe('the in-memory log', () => {
  it(`stores exactly 2·${MAX} − popcount(${MAX}) nodes, one per complete subtree`, () => {
    const popcount = MAX.toString(2).replace(/0/g, '').length;
    expect(nodes.size).toBe(2 * MAX - popcount);
  });
});

describe('roots', () => {
  it(`rootAt(n) = MerkleFrontier = naive RFC 9162 MTH (${NAIVE_RUNS} random sizes ≤ ${MAX}, plus 1..${SMALL} and ${MAX})`, async () => {
    const check = async (n: number) => {
      const reader = readerFor(n);
      const root = await rootAt(reader.read, n);
      // One read per complete subtree in the binary decomposition of n: O(log n).
      expect(reader.reads()).toBe(n.toString(2).replace(/0/g, '').length);
      expect(toHex(root)).toBe(toHex(rootOf(leaves.slice(0, n))));
      expect(toHex(root)).toBe(toHex(mth(0, n)));
    };
    await fc.assert(fc.asyncProperty(size, check), { numRuns: NAIVE_RUNS, seed: SEED });
    for (let n = 1; n <= SMALL; n++) await check(n);
    await check(MAX);
  });

  it(`rootAt(n) equals a streaming MerkleFrontier's root after n appends, for every n in 1..${MAX} (${MAX} cases)`, async () => {
    for (let n = 1; n <= MAX; n++) {
      const root = await rootOfSize(n);
      if (!equalBytes(root, rootOfPrefix(n))) expect.fail(`rootAt(${n}) differs from the frontier's root`);
    }
  });

  it('the empty tree has the root SHA-256("")', async () => {
    expect(toHex(await rootAt(readerFor(0).read, 0))).toBe(toHex(sha256()));
    expect(toHex(rootOf([]))).toBe(toHex(sha256()));
  });
});

describe('inclusion proofs', () => {
  it(`every generated proof verifies and equals RFC 9162 PATH (${NAIVE_RUNS} random (index, size ≤ ${MAX}))`, async () => {
    await fc.assert(
      fc.asyncProperty(leafIn, async ({ size: n, index }) => {
        const proof = await inclusionProof(readerFor(n).read, index, n);
        expect(hex(proof)).toEqual(hex(path(index, 0, n)));
        verifyInclusion(index, n, leafHash(records[index] as Uint8Array), proof, await rootOfSize(n));
      }),
      { numRuns: NAIVE_RUNS, seed: SEED },
    );
  });

  it(`every generated proof verifies with O(log n) reads (${RUNS} random (index, size ≤ ${MAX}))`, async () => {
    await fc.assert(
      fc.asyncProperty(leafIn, async ({ size: n, index }) => {
        const reader = readerFor(n);
        const proof = await inclusionProof(reader.read, index, n);
        expect(reader.reads()).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(n)) + 1);
        verifyInclusion(index, n, leaves[index] as Uint8Array, proof, await rootOfSize(n));
      }),
      params,
    );
  });

  it(`every proof in every tree of size 1..${SMALL} verifies and equals PATH (${(SMALL * (SMALL + 1)) / 2} cases)`, async () => {
    for (let n = 1; n <= SMALL; n++) {
      const root = await rootOfSize(n);
      for (let index = 0; index < n; index++) {
        const proof = await inclusionProof(readerFor(n).read, index, n);
        expect(hex(proof)).toEqual(hex(path(index, 0, n)));
        verifyInclusion(index, n, leaves[index] as Uint8Array, proof, root);
      }
    }
  });

  it(`a single-bit flip in the record, in any proof hash or in the root is rejected (${RUNS} random cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(leafIn, fc.nat(), fc.nat(), async ({ size: n, index }, element, bit) => {
        const proof = await inclusionProof(readerFor(n).read, index, n);
        const root = await rootOfSize(n);
        const record = records[index] as Uint8Array;
        const leaf = leafHash(record);
        verifyInclusion(index, n, leaf, proof, root);
        rejects(() => verifyInclusion(index, n, leafHash(flipBit(record, bit)), proof, root));
        rejects(() => verifyInclusion(index, n, flipBit(leaf, bit), proof, root));
        rejects(() => verifyInclusion(index, n, leaf, proof, flipBit(root, bit)));
        if (proof.length > 0)
          rejects(() => verifyInclusion(index, n, leaf, flipInList(proof, element, bit), root));
      }),
      params,
    );
  });

  it(`every single-bit flip of every proof hash is rejected (all ${32 * 8} bits of every hash, ${FLIP_ALL_RUNS} random proofs)`, async () => {
    await fc.assert(
      fc.asyncProperty(leafIn, async ({ size: n, index }) => {
        const proof = await inclusionProof(readerFor(n).read, index, n);
        const root = await rootOfSize(n);
        const leaf = leaves[index] as Uint8Array;
        for (let element = 0; element < proof.length; element++)
          for (let bit = 0; bit < 256; bit++)
            rejects(() => verifyInclusion(index, n, leaf, flipInList(proof, element, bit), root));
      }),
      { numRuns: FLIP_ALL_RUNS, seed: SEED },
    );
  });

  it(`a proof with one hash removed or one extra hash is rejected (${RUNS} random cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(leafIn, fc.nat(), hash32, async ({ size: n, index }, at, extra) => {
        const proof = await inclusionProof(readerFor(n).read, index, n);
        const root = await rootOfSize(n);
        const leaf = leaves[index] as Uint8Array;
        if (proof.length > 0) rejects(() => verifyInclusion(index, n, leaf, removeAt(proof, at), root));
        rejects(() => verifyInclusion(index, n, leaf, insertAt(proof, at, extra), root));
        // A duplicated real hash is no better than a random one.
        if (proof.length > 0)
          rejects(() =>
            verifyInclusion(
              index,
              n,
              leaf,
              insertAt(proof, at, proof[at % proof.length] as Uint8Array),
              root,
            ),
          );
      }),
      params,
    );
  });

  it(`a wrong index, or a wrong size with that size's root, is rejected (${RUNS} random cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(leafIn, size, fc.nat(), async ({ size: n, index }, otherSize, shift) => {
        const proof = await inclusionProof(readerFor(n).read, index, n);
        const root = await rootOfSize(n);
        const leaf = leaves[index] as Uint8Array;
        if (n > 1) {
          const otherIndex = (index + 1 + (shift % (n - 1))) % n;
          rejects(() => verifyInclusion(otherIndex, n, leaf, proof, root));
        }
        rejects(() => verifyInclusion(n + (shift % 100), n, leaf, proof, root)); // index beyond the tree
        if (otherSize !== n)
          rejects(() => verifyInclusion(index, otherSize, leaf, proof, rootOfPrefix(otherSize)));
      }),
      params,
    );
  });
});

describe('consistency proofs', () => {
  it(`every generated proof verifies and equals RFC 9162 PROOF (${NAIVE_RUNS} random 1 ≤ m ≤ n ≤ ${MAX})`, async () => {
    await fc.assert(
      fc.asyncProperty(sizePair, async ({ m, n }) => {
        const proof = await consistencyProof(readerFor(n).read, m, n);
        expect(hex(proof)).toEqual(hex(proofRfc(m, n)));
        verifyConsistency(m, n, proof, await rootOfSize(m), await rootOfSize(n));
      }),
      { numRuns: NAIVE_RUNS, seed: SEED },
    );
  });

  it(`every generated proof verifies with O(log n) reads (${RUNS} random 1 ≤ m ≤ n ≤ ${MAX})`, async () => {
    await fc.assert(
      fc.asyncProperty(sizePair, async ({ m, n }) => {
        const reader = readerFor(n);
        const proof = await consistencyProof(reader.read, m, n);
        expect(reader.reads()).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(n)) + 2);
        verifyConsistency(m, n, proof, await rootOfSize(m), await rootOfSize(n));
      }),
      params,
    );
  });

  it(`every proof between sizes 1 ≤ m ≤ n ≤ ${SMALL} verifies and equals PROOF (${(SMALL * (SMALL + 1)) / 2} cases)`, async () => {
    for (let n = 1; n <= SMALL; n++) {
      const root2 = await rootOfSize(n);
      for (let m = 1; m <= n; m++) {
        const proof = await consistencyProof(readerFor(n).read, m, n);
        expect(hex(proof)).toEqual(hex(proofRfc(m, n)));
        verifyConsistency(m, n, proof, await rootOfSize(m), root2);
      }
    }
  });

  it(`a single-bit flip in any proof hash or in either root is rejected (${RUNS} random cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(sizePair, fc.nat(), fc.nat(), async ({ m, n }, element, bit) => {
        const proof = await consistencyProof(readerFor(n).read, m, n);
        const root1 = await rootOfSize(m);
        const root2 = await rootOfSize(n);
        verifyConsistency(m, n, proof, root1, root2);
        rejects(() => verifyConsistency(m, n, proof, flipBit(root1, bit), root2));
        rejects(() => verifyConsistency(m, n, proof, root1, flipBit(root2, bit)));
        if (proof.length > 0)
          rejects(() => verifyConsistency(m, n, flipInList(proof, element, bit), root1, root2));
      }),
      params,
    );
  });

  it(`every single-bit flip of every proof hash is rejected (all ${32 * 8} bits of every hash, ${FLIP_ALL_RUNS} random proofs)`, async () => {
    await fc.assert(
      fc.asyncProperty(sizePair, async ({ m, n }) => {
        const proof = await consistencyProof(readerFor(n).read, m, n);
        const root1 = await rootOfSize(m);
        const root2 = await rootOfSize(n);
        for (let element = 0; element < proof.length; element++)
          for (let bit = 0; bit < 256; bit++)
            rejects(() => verifyConsistency(m, n, flipInList(proof, element, bit), root1, root2));
      }),
      { numRuns: FLIP_ALL_RUNS, seed: SEED },
    );
  });

  it(`a proof with one hash removed or one extra hash is rejected (${RUNS} random cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(sizePair, fc.nat(), hash32, async ({ m, n }, at, extra) => {
        const proof = await consistencyProof(readerFor(n).read, m, n);
        const root1 = await rootOfSize(m);
        const root2 = await rootOfSize(n);
        if (proof.length > 0) rejects(() => verifyConsistency(m, n, removeAt(proof, at), root1, root2));
        rejects(() => verifyConsistency(m, n, insertAt(proof, at, extra), root1, root2));
        if (proof.length > 0)
          rejects(() =>
            verifyConsistency(
              m,
              n,
              insertAt(proof, at, proof[at % proof.length] as Uint8Array),
              root1,
              root2,
            ),
          );
      }),
      params,
    );
  });

  it(`a wrong size1 or size2, each with that size's root, is rejected (${RUNS} random cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(sizePair, size, size, async ({ m, n }, otherM, otherN) => {
        const proof = await consistencyProof(readerFor(n).read, m, n);
        const root1 = await rootOfSize(m);
        const root2 = await rootOfSize(n);
        if (otherM !== m) rejects(() => verifyConsistency(otherM, n, proof, rootOfPrefix(otherM), root2));
        if (otherN !== n) rejects(() => verifyConsistency(m, otherN, proof, root1, rootOfPrefix(otherN)));
        // Swapped sizes and roots (n > m): a tree is not a prefix of a smaller one.
        if (m < n) rejects(() => verifyConsistency(n, m, proof, root2, root1));
      }),
      params,
    );
  });

  it('a consistency proof from the empty tree is refused (size1 = 0)', async () => {
    expect(await consistencyProof(readerFor(5).read, 0, 5)).toEqual([]);
    rejects(() => verifyConsistency(0, 5, [], mth(0, 0), rootOfPrefix(5)));
  });
});
