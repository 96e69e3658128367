import { equalBytes, fromBase64, toBase64, utf8 } from '../bytes.js';
import { canonicalize } from '../canonical-json.js';
import { MerkleFrontier } from '../merkle/frontier.js';
import { leafHash } from '../merkle/hash.js';
import { ProofError, verifyInclusion } from '../merkle/verify.js';
import { type Checkpoint, parseCheckpoint } from '../note/checkpoint.js';
import { NoteError, parseVerifierKey, verifyNote } from '../note/signed-note.js';
import type { ProofBundle } from './proof-bundle.js';

/** A checkpoint whose signature has been verified: its size and root can be trusted. */
export function verifyCheckpoint(note: string, verifierKey: string): Checkpoint {
  const verifier = parseVerifierKey(verifierKey);
  const checkpoint = parseCheckpoint(verifyNote(note, [verifier]));
  if (checkpoint.origin !== verifier.name) {
    throw new NoteError(
      `the checkpoint's origin ${checkpoint.origin} is not the key's name ${verifier.name}`,
    );
  }
  return checkpoint;
}

/**
 * Verifies a proof bundle offline: the checkpoint is signed by `verifierKey`, the record hashes
 * to the leaf, the record's own seq is the leaf's index, and the path leads to the signed root.
 * Returns the verified checkpoint; throws ProofError or NoteError with the reason.
 */
export function verifyProofBundle(bundle: ProofBundle, verifierKey: string): Checkpoint {
  const checkpoint = verifyCheckpoint(bundle.checkpoint, verifierKey);
  if (bundle.treeSize !== checkpoint.size) {
    throw new ProofError(
      `the proof is for size ${bundle.treeSize}, the checkpoint is of size ${checkpoint.size}`,
    );
  }
  const hash = leafHash(utf8(bundle.record));
  if (toBase64(hash) !== bundle.leafHash)
    throw new ProofError('the record does not hash to the given leaf hash');
  let seq: unknown;
  try {
    seq = (JSON.parse(bundle.record) as { seq?: unknown }).seq;
  } catch {
    throw new ProofError('the record is not JSON');
  }
  if (seq !== bundle.index)
    throw new ProofError(`the record says seq ${String(seq)}, the proof is for ${bundle.index}`);
  let proof: Uint8Array[];
  try {
    proof = bundle.proof.map(fromBase64);
  } catch {
    throw new ProofError('a proof hash is not base64');
  }
  verifyInclusion(bundle.index, bundle.treeSize, hash, proof, checkpoint.rootHash);
  return checkpoint;
}

export type LogVerdict =
  | { ok: true; verifiedSize: number; records: number; uncovered: number }
  | { ok: false; firstBadSeq: number; reason: string; records: number };

/**
 * Re-hashes a whole exported log (canonical records, in order) against verified checkpoints,
 * streaming: O(log n) memory. It names the first bad sequence number: exactly, when a record is
 * out of place, not canonical, or differs from the leaf hash the log stored (`storedLeaf`);
 * otherwise the first record after the last checkpoint that still matched.
 */
export class LogVerifier {
  private readonly frontier = new MerkleFrontier();
  private readonly checkpoints: Checkpoint[];
  private nextCheckpoint = 0;
  private lastGoodSize = 0;
  private failure?: { firstBadSeq: number; reason: string };

  constructor(checkpoints: Checkpoint[]) {
    this.checkpoints = [...checkpoints].sort((a, b) => a.size - b.size);
    if (this.checkpoints.length === 0) throw new ProofError('at least one verified checkpoint is needed');
  }

  /** The size of the largest checkpoint: records beyond it are not covered by any signature. */
  get coveredSize(): number {
    return (this.checkpoints[this.checkpoints.length - 1] as Checkpoint).size;
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Feeds the next line; `storedLeaf` is the log's own leaf hash for it, if known. */
  push(line: string, storedLeaf?: Uint8Array): void {
    this.check(line, storedLeaf);
  }

  /** Returns false once a failure is recorded. */
  private check(line: string, storedLeaf?: Uint8Array): boolean {
    if (this.failure) return false;
    const seq = this.frontier.size;
    let record: unknown;
    try {
      record = JSON.parse(line);
      if (canonicalize(record) !== line) return this.fail(seq, 'the record is not in canonical form');
    } catch {
      return this.fail(seq, 'the record is not valid JSON');
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      return this.fail(seq, `expected the record with seq ${seq}, found a JSON value that is not a record`);
    }
    if ((record as { seq?: unknown }).seq !== seq) {
      return this.fail(
        seq,
        `expected the record with seq ${seq}, found seq ${String((record as { seq?: unknown }).seq)}`,
      );
    }
    const hash = leafHash(utf8(line));
    if (storedLeaf && !equalBytes(hash, storedLeaf)) {
      return this.fail(seq, 'the record does not match the leaf hash the log stored for it');
    }
    this.frontier.append(hash);
    return this.checkRoots();
  }

  private checkRoots(): boolean {
    while (this.nextCheckpoint < this.checkpoints.length) {
      const checkpoint = this.checkpoints[this.nextCheckpoint] as Checkpoint;
      if (checkpoint.size > this.frontier.size) return true;
      if (checkpoint.size === this.frontier.size && checkpoint.size > 0) {
        if (!equalBytes(this.frontier.root(), checkpoint.rootHash)) {
          return this.fail(
            this.lastGoodSize,
            `the log's root at size ${checkpoint.size} differs from the signed checkpoint; ` +
              `the first changed record is between seq ${this.lastGoodSize} and ${checkpoint.size - 1}`,
          );
        }
        this.lastGoodSize = checkpoint.size;
      }
      this.nextCheckpoint++;
    }
    return true;
  }

  private fail(firstBadSeq: number, reason: string): false {
    this.failure ??= { firstBadSeq, reason };
    return false;
  }

  finish(): LogVerdict {
    const records = this.frontier.size;
    if (this.failure) return { ok: false, ...this.failure, records };
    if (records < this.coveredSize) {
      return {
        ok: false,
        firstBadSeq: records,
        reason: `the log ends at ${records} records but a checkpoint covers ${this.coveredSize}`,
        records,
      };
    }
    return { ok: true, verifiedSize: this.coveredSize, records, uncovered: records - this.coveredSize };
  }
}
