import { consistencyProof, inclusionProof, leafHash, type ProofBundle, toBase64, utf8 } from '@mandate/core';
import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import { invalid, MandateError, notFound } from '../errors.js';
import { type CheckpointService, nodeReader } from './checkpoints.js';

export type { ProofBundle };

export interface ConsistencyAnswer {
  from: number;
  to: number;
  proof: string[];
}

/** Inclusion and consistency proofs of an org's log (role auditor or admin). */
export class AuditProofService {
  constructor(
    private readonly ctx: EngineContext,
    private readonly checkpoints: CheckpointService,
  ) {}

  async checkpoint(principal: OrgPrincipal): Promise<string> {
    requirePermission(principal, 'audit.read');
    return (await this.checkpoints.current(principal.orgId)).note;
  }

  verifierKey(principal: OrgPrincipal): string {
    requirePermission(principal, 'audit.read');
    return this.checkpoints.verifierKey(principal.orgId);
  }

  async inclusion(principal: OrgPrincipal, seq: number): Promise<ProofBundle> {
    requirePermission(principal, 'audit.read');
    return this.bundle(principal.orgId, seq);
  }

  /** A proof bundle for one record against the current checkpoint (no permission check: callers check). */
  async bundle(orgId: string, seq: number): Promise<ProofBundle> {
    const org = this.ctx.store.org(orgId);
    const record = await org.getAuditCanonical(seq);
    if (record === undefined) throw notFound('audit event');
    const checkpoint = await this.checkpoints.current(orgId);
    if (seq >= checkpoint.size)
      throw new MandateError('conflict', 'the record is not in a checkpoint yet; retry');
    const proof = await inclusionProof(nodeReader(org), seq, checkpoint.size);
    return {
      index: seq,
      treeSize: checkpoint.size,
      record,
      leafHash: toBase64(leafHash(utf8(record))),
      proof: proof.map(toBase64),
      checkpoint: checkpoint.note,
    };
  }

  /** Proof that the log at size `from` is a prefix of the log at `to` (default: the current checkpoint). */
  async consistency(principal: OrgPrincipal, from: number, to?: number): Promise<ConsistencyAnswer> {
    requirePermission(principal, 'audit.read');
    const org = this.ctx.store.org(principal.orgId);
    const size = to ?? (await this.checkpoints.current(principal.orgId)).size;
    const logSize = await org.auditLogSize();
    if (size > logSize) throw invalid('to', `the log has only ${logSize} records`);
    if (from < 1 || from > size) throw invalid('from', `must be between 1 and ${size}`);
    const proof = await consistencyProof(nodeReader(org), from, size);
    return { from, to: size, proof: proof.map(toBase64) };
  }
}
