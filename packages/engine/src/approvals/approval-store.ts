import type { OrgReader, OrgTransaction } from '../ports/store.js';
import { type Approval, effectiveApprovalStatus } from './approval.js';

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

/** Most requests one sweep re-tags: the sweep runs inside a decision's transaction. */
const EXPIRE_BATCH = 200;

/**
 * Writes `expired` over pending requests whose time has passed, oldest first, so that the
 * `pending` tag lists only live requests and a scan of it stays bounded (an org that let 1,000
 * requests lapse could otherwise never file another). Ids sort by creation time and every request
 * lives equally long, so expired requests are a prefix of the pending list: the sweep stops at the
 * first live one. Returns how many it expired.
 */
export async function expireLapsedApprovals(tx: OrgTransaction, now: Date): Promise<number> {
  const page = await tx.listDocuments<Approval>('approval', 'pending', { limit: EXPIRE_BATCH });
  let expired = 0;
  for (const { doc } of page.items) {
    if (effectiveApprovalStatus(doc, now) !== 'expired') break;
    await saveApproval(tx, { ...doc, status: 'expired' });
    expired++;
  }
  return expired;
}
