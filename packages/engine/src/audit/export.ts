import type { AuditRecord } from '@mandate/core';
import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';

const BATCH = 1000;

/**
 * The org's log as canonical records from `from` on, in batches, up to the log's size when the
 * export started (a consistent cut). Resumable: pass the next seq as `from`.
 */
export async function* exportCanonical(
  ctx: EngineContext,
  principal: OrgPrincipal,
  from = 0,
): AsyncGenerator<{ seq: number; canonical: string }> {
  requirePermission(principal, 'audit.read');
  const org = ctx.store.org(principal.orgId);
  const end = await org.auditLogSize();
  for (let next = from; next < end; ) {
    const rows = await org.listAuditCanonical(next, Math.min(BATCH, end - next));
    if (rows.length === 0) return;
    for (const row of rows) yield row;
    next = (rows[rows.length - 1] as { seq: number }).seq + 1;
  }
}

/** OCSF 1.3 activity ids of API Activity (class 6003), by the verb of our event type. */
const ACTIVITY: Array<[RegExp, number, string]> = [
  [/\.(created|registered|key_added)$/, 1, 'Create'],
  [/\.(read|viewed)$/, 2, 'Read'],
  [
    /\.(updated|activated|suspended|resumed|renewed|owner_transferred|key_retired|offboarded|expired)$/,
    3,
    'Update',
  ],
  [/\.(revoked|deleted)$/, 4, 'Delete'],
];

/**
 * One audit record as an OCSF API Activity event (class 6003). Field choice (see
 * docs/audit-export.md): `actor.user` is whoever acted (API key, user, platform, system),
 * `api.operation` our event type, `resources` the object acted on plus the agent and user it
 * concerns, `metadata.sequence` our seq; the whole canonical record rides in `unmapped`, so
 * nothing is lost.
 */
export function toOcsf(record: AuditRecord, origin: string): Record<string, unknown> {
  const match = ACTIVITY.find(([pattern]) => pattern.test(record.type));
  const activityId = match?.[1] ?? 99;
  const activityName = match?.[2] ?? 'Other';
  const resources: Array<Record<string, string>> = [{ uid: record.target.id, type: record.target.type }];
  if (record.refs?.agentId && record.refs.agentId !== record.target.id) {
    resources.push({ uid: record.refs.agentId, type: 'agent' });
  }
  if (record.refs?.userId && record.refs.userId !== record.target.id) {
    resources.push({ uid: record.refs.userId, type: 'user' });
  }
  return {
    class_uid: 6003,
    class_name: 'API Activity',
    category_uid: 6,
    category_name: 'Application Activity',
    activity_id: activityId,
    activity_name: activityName,
    type_uid: 600300 + activityId,
    time: Date.parse(record.time),
    severity_id: 1,
    status_id: 1,
    status: 'Success',
    message: record.reason,
    actor: {
      user: {
        uid: record.actor.id,
        type: record.actor.kind,
        ...('userId' in record.actor && record.actor.userId ? { account: { uid: record.actor.userId } } : {}),
      },
    },
    api: { operation: record.type, service: { name: 'mandate' } },
    resources,
    metadata: {
      version: '1.3.0',
      product: { name: 'Mandate', vendor_name: 'Mandate' },
      log_name: origin,
      sequence: record.seq,
      uid: `${record.orgId}:${record.seq}`,
      tenant_uid: record.orgId,
    },
    unmapped: { mandate_record: record },
  };
}
