import type { OrgReader, OrgTransaction } from '../ports/store.js';
import type { Approval } from './approval.js';

/** The latest approval filed for a digest (document `approval_ref`, id = the digest). */
export async function approvalForDigest(org: OrgReader, digest: string): Promise<Approval | undefined> {
  const ref = await org.getDocument<{ approvalId: string }>('approval_ref', digest);
  if (!ref) return undefined;
  return (await org.getDocument<Approval>('approval', ref.doc.approvalId))?.doc;
}

export async function getApproval(org: OrgReader, approvalId: string): Promise<Approval | undefined> {
  return (await org.getDocument<Approval>('approval', approvalId))?.doc;
}

/** Writes the approval (tagged with its status) and, for a new one, points its digest at it. */
export async function saveApproval(
  tx: OrgTransaction,
  approval: Approval,
  options: { isNew?: boolean } = {},
) {
  await tx.putDocument('approval', { id: approval.id, tag: approval.status, doc: approval });
  if (options.isNew)
    await tx.putDocument('approval_ref', {
      id: approval.digest,
      tag: 'ref',
      doc: { approvalId: approval.id },
    });
}
