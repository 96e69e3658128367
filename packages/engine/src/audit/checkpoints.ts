import { formatCheckpoint, rootAt, signNote } from '@mandate/core';
import type { EngineContext } from '../context.js';
import { DuplicateError, type OrgReader, type StoredCheckpoint } from '../ports/store.js';
import type { LogSigningKey } from './log-key.js';

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
 * is signed at most once, so two different roots can never be signed for one size.
 */
export class CheckpointService {
  constructor(
    private readonly ctx: EngineContext,
    private readonly key: LogSigningKey,
    private readonly originPrefix = 'mandate',
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

  private async signAt(orgId: string, size: number): Promise<StoredCheckpoint> {
    const org = this.ctx.store.org(orgId);
    const existing = await org.getCheckpoint(size);
    if (existing) return existing;
    const root = await rootAt(nodeReader(org), size);
    const origin = this.origin(orgId);
    const note = signNote(formatCheckpoint({ origin, size, rootHash: root, extensions: [] }), [
      this.key.signer(origin),
    ]);
    const checkpoint: StoredCheckpoint = { size, root, note, signedAt: this.ctx.clock.now().toISOString() };
    try {
      await org.transact((tx) => tx.insertCheckpoint(checkpoint));
      return checkpoint;
    } catch (error) {
      // Another signer got there first; the stored one is the checkpoint of this size.
      if (error instanceof DuplicateError) return (await org.getCheckpoint(size)) as StoredCheckpoint;
      throw error;
    }
  }
}
