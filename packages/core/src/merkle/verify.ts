import { equalBytes } from '../bytes.js';
import { HASH_SIZE, nodeHash } from './hash.js';

/**
 * RFC 9162 inclusion and consistency proof verification (sections 2.1.3.2 and 2.1.4.2), in the
 * decomposed form of transparency-dev/merkle so that it accepts and rejects exactly what that
 * reference does (../shared/conformance/rfc9162). Sizes are bigint inside: JavaScript's bit
 * operators stop at 32 bits.
 */
export class ProofError extends Error {
  override readonly name = 'ProofError';
}

type Size = number | bigint;

function toBig(value: Size, name: string): bigint {
  if (typeof value === 'number' && (!Number.isSafeInteger(value) || value < 0)) {
    throw new ProofError(`${name} must be a non-negative safe integer`);
  }
  const big = BigInt(value);
  if (big < 0n) throw new ProofError(`${name} must be non-negative`);
  return big;
}

const bitLength = (x: bigint): number => (x === 0n ? 0 : x.toString(2).length);
const onesCount = (x: bigint): number => x.toString(2).replace(/0/g, '').length;
const trailingZeros = (x: bigint): number => {
  if (x === 0n) return 64;
  let n = 0;
  while (((x >> BigInt(n)) & 1n) === 0n) n++;
  return n;
};

/** How many proof hashes are inside the subtree where index and size-1 differ, and how many border it. */
function decompose(index: bigint, size: bigint): { inner: number; border: number } {
  const inner = bitLength(index ^ (size - 1n));
  return { inner, border: onesCount(index >> BigInt(inner)) };
}

function chainInner(seed: Uint8Array, proof: Uint8Array[], index: bigint): Uint8Array {
  let hash = seed;
  proof.forEach((sibling, i) => {
    hash = ((index >> BigInt(i)) & 1n) === 0n ? nodeHash(hash, sibling) : nodeHash(sibling, hash);
  });
  return hash;
}

function chainInnerRight(seed: Uint8Array, proof: Uint8Array[], index: bigint): Uint8Array {
  let hash = seed;
  proof.forEach((sibling, i) => {
    if (((index >> BigInt(i)) & 1n) === 1n) hash = nodeHash(sibling, hash);
  });
  return hash;
}

function chainBorderRight(seed: Uint8Array, proof: Uint8Array[]): Uint8Array {
  let hash = seed;
  for (const sibling of proof) hash = nodeHash(sibling, hash);
  return hash;
}

function expectMatch(computed: Uint8Array, expected: Uint8Array, what: string): void {
  if (!equalBytes(computed, expected)) throw new ProofError(`${what} does not match the computed root`);
}

/** The root an inclusion proof leads to; throws ProofError if the proof has the wrong shape. */
export function rootFromInclusionProof(
  index: Size,
  size: Size,
  leafHash: Uint8Array,
  proof: Uint8Array[],
): Uint8Array {
  const i = toBig(index, 'index');
  const n = toBig(size, 'size');
  if (i >= n) throw new ProofError(`index ${i} is beyond the tree size ${n}`);
  if (leafHash.length !== HASH_SIZE) throw new ProofError('leaf hash must be 32 bytes');
  const { inner, border } = decompose(i, n);
  if (proof.length !== inner + border) {
    throw new ProofError(`wrong proof size ${proof.length}, want ${inner + border}`);
  }
  const hash = chainInner(leafHash, proof.slice(0, inner), i);
  return chainBorderRight(hash, proof.slice(inner));
}

/** Throws ProofError unless `proof` shows the leaf at `index` is in the tree of `size` with `root`. */
export function verifyInclusion(
  index: Size,
  size: Size,
  leafHash: Uint8Array,
  proof: Uint8Array[],
  root: Uint8Array,
): void {
  expectMatch(rootFromInclusionProof(index, size, leafHash, proof), root, 'root');
}

/** Throws ProofError unless `proof` shows the tree (size1, root1) is a prefix of (size2, root2). */
export function verifyConsistency(
  size1: Size,
  size2: Size,
  proof: Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  const m = toBig(size1, 'size1');
  const n = toBig(size2, 'size2');
  if (n < m) throw new ProofError(`size2 (${n}) < size1 (${m})`);
  // Consistency with the empty tree proves nothing, so it is refused rather than vacuously true
  // (as the conformance vectors require).
  if (m === 0n) throw new ProofError('a consistency proof needs size1 > 0');
  if (m === n) {
    if (proof.length > 0) throw new ProofError('size1 = size2, but the proof is not empty');
    expectMatch(root1, root2, 'root1');
    return;
  }
  if (proof.length === 0) throw new ProofError('empty proof');
  let { inner, border } = decompose(m - 1n, n);
  const shift = trailingZeros(m);
  inner -= shift;
  // The proof starts with the root of the subtree of size 2^shift, unless size1 is exactly that.
  let seed = proof[0] as Uint8Array;
  let start = 1;
  if (m === 1n << BigInt(shift)) {
    seed = root1;
    start = 0;
  }
  if (proof.length !== start + inner + border) {
    throw new ProofError(`wrong proof size ${proof.length}, want ${start + inner + border}`);
  }
  const path = proof.slice(start);
  const mask = (m - 1n) >> BigInt(shift);
  const hash1 = chainBorderRight(chainInnerRight(seed, path.slice(0, inner), mask), path.slice(inner));
  expectMatch(hash1, root1, 'root1');
  const hash2 = chainBorderRight(chainInner(seed, path.slice(0, inner), mask), path.slice(inner));
  expectMatch(hash2, root2, 'root2');
}
