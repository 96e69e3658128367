import { equalBytes, formatCheckpoint, fromBase64, rootAt, signNote, toBase64 } from '@mandate/core';
import type { EngineContext } from '../context.js';
import { MandateError } from '../errors.js';
import { DuplicateError, type OrgReader, type StoredCheckpoint } from '../ports/store.js';
import type { LogSigningKey } from './log-key.js';
import { MemorySignedHeadStore, type SignedHeadStore } from './signed-heads.js';

/** Reads stored subtree roots for proofs and roots; a missing node means the store is damaged. */
export function nodeReader(org: OrgReader) {
  return async (level: number, index: number): Promise<Uint8Array> => {
    const hash = await org.getMerkleNode(level, index);
    if (!hash) throw new Error(`merkle node ${level}/${index} is missing`);
    return hash;
  };
}

/**
 * Signs C2SP checkpoints of each org's log. A checkpoint is stored under its size, and a size
 * is signed at most once. Before signing, the signer checks that the stored log still has the
 * root it last signed (kept outside the database, in `heads`) and has not shrunk, so a log
 * rewritten behind the server's back is never signed: two different roots are never signed
 * for one size, and a signed history is never contradicted.
 */
export class CheckpointService {
  private readonly signing = new Map<string, Promise<unknown>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly key: LogSigningKey,
    private readonly originPrefix = 'mandate',
    private readonly heads: SignedHeadStore = new MemorySignedHeadStore(),
  ) {}

  origin(orgId: string): string {
    return `${this.originPrefix}/${orgId}`;
  }

  verifierKey(orgId: string): string {
    return this.key.verifierKey(this.origin(orgId));
  }

  /** The latest checkpoint, signing one first if the log grew since (or none exists). */
  async current(orgId: string): Promise<StoredCheckpoint> {
    const org = this.ctx.store.org(orgId);
    const [latest, size] = await Promise.all([org.latestCheckpoint(), org.auditLogSize()]);
    if (latest && latest.size >= size) return latest;
    return this.signAt(orgId, size);
  }

  /** Signs the log at its current size if it grew since the last checkpoint; returns what it signed. */
  async signIfGrown(orgId: string): Promise<StoredCheckpoint | undefined> {
    const org = this.ctx.store.org(orgId);
    const [latest, size] = await Promise.all([org.latestCheckpoint(), org.auditLogSize()]);
    if (latest && latest.size >= size) return undefined;
    return this.signAt(orgId, size);
  }

  /** One signer per org at a time, so heads only move forward in order. */
  private signAt(orgId: string, size: number): Promise<StoredCheckpoint> {
    const previous = this.signing.get(orgId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.signAtSerialised(orgId, size));
    this.signing.set(orgId, run);
    return run;
  }

  private async signAtSerialised(orgId: string, size: number): Promise<StoredCheckpoint> {
    const org = this.ctx.store.org(orgId);
    // `size` was read from committed state, which may not be flushed to disk yet: an empty
    // transaction settles only after a flush that covers every earlier commit, so no head is
    // remembered (below, outside the database) for records a power cut could still take back.
    await org.transact(async () => undefined);
    await this.assertLogMatchesLastSignedHead(orgId, size);
    const existing = await org.getCheckpoint(size);
    if (existing) return existing;
    const root = await rootAt(nodeReader(org), size);
    const origin = this.origin(orgId);
    const note = signNote(formatCheckpoint({ origin, size, rootHash: root, extensions: [] }), [
      this.key.signer(origin),
    ]);
    const checkpoint: StoredCheckpoint = { size, root, note, signedAt: this.ctx.clock.now().toISOString() };
    // Remember it before anyone can see it: a crash here only means the same note is signed again.
    this.heads.advance(orgId, { size, root: toBase64(root) });
    try {
      await org.transact((tx) => tx.insertCheckpoint(checkpoint));
      return checkpoint;
    } catch (error) {
      // Another signer got there first; the stored one is the checkpoint of this size.
      if (error instanceof DuplicateError) return (await org.getCheckpoint(size)) as StoredCheckpoint;
      throw error;
    }
  }

  private async assertLogMatchesLastSignedHead(orgId: string, size: number): Promise<void> {
    const head = this.heads.get(orgId);
    if (!head) return;
    const refuse = (why: string): never => {
      throw new MandateError(
        'unavailable',
        `the audit log ${why} (last signed size ${head.size}); refusing to sign: it may have been tampered with`,
      );
    };
    if (size < head.size) refuse('is shorter than its last signed checkpoint');
    let stored: Uint8Array;
    try {
      stored = await rootAt(nodeReader(this.ctx.store.org(orgId)), head.size);
    } catch {
      return refuse('has lost Merkle nodes of its last signed checkpoint');
    }
    if (!equalBytes(stored, fromBase64(head.root)))
      refuse('no longer has the root of its last signed checkpoint');
  }
}
