import type { AuditRecord } from '@mandate/core';
import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import { notFound } from '../errors.js';
import type { AuditFilter, Page, PageRequest } from '../ports/store.js';

/** Reading an org's audit log (role auditor or admin). */
export class AuditReader {
  constructor(private readonly ctx: EngineContext) {}

  list(principal: OrgPrincipal, filter: AuditFilter, page: PageRequest): Promise<Page<AuditRecord>> {
    requirePermission(principal, 'audit.read');
    return this.ctx.store.org(principal.orgId).listAuditRecords(filter, page);
  }

  async get(principal: OrgPrincipal, seq: number): Promise<AuditRecord> {
    requirePermission(principal, 'audit.read');
    const record = await this.ctx.store.org(principal.orgId).getAuditRecord(seq);
    if (!record) throw notFound('audit event');
    return record;
  }
}
