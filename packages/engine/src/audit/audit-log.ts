import type { AuditEventInput, AuditRecord } from '@mandate/core';
import type { Clock } from '../ports/clock.js';
import type { OrgTransaction } from '../ports/store.js';

/**
 * The port every change writes its audit record through, inside the change's own transaction,
 * so the record is durable exactly when the change is. The Merkle log builds on this.
 */
export interface AuditLog {
  append(tx: OrgTransaction, event: AuditEventInput): Promise<AuditRecord>;
}

export class StoreAuditLog implements AuditLog {
  constructor(private readonly clock: Clock) {}

  append(tx: OrgTransaction, event: AuditEventInput): Promise<AuditRecord> {
    return tx.appendAudit(event, this.clock.now().toISOString());
  }
}
