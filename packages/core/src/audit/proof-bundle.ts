import type { AuditRecord } from './event.js';

/** What `GET /v1/audit/events/{seq}/proof` answers and `verifyProofBundle` checks offline. */
export interface ProofBundle {
  index: number;
  treeSize: number;
  /** The canonical record, exactly the bytes that were hashed. */
  record: string;
  leafHash: string;
  proof: string[];
  /** The signed checkpoint (C2SP signed note) the proof leads to. */
  checkpoint: string;
}

/** One record of a provenance tree, with its proof and the records it depends on. */
export interface ExplainNode {
  seq: number;
  /** Why this record is in the tree (`subject`, or how the parent depends on it). */
  relation: string;
  record: AuditRecord;
  proof: ProofBundle;
  dependsOn: ExplainNode[];
}
