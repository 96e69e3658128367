import type { AuditRecord, ExplainNode } from '@mandate/core';
import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import type { AuditProofService } from './proofs.js';

export type { ExplainNode };

const MAX_NODES = 50;
/** The one relation that points forward in the log: what happened after a decision. */
const OUTCOME = 'what happened (the outcome)';

/**
 * Provenance: the records a record depends on, each with its inclusion proof. For an admin
 * change: the record that created the acting key (or user) and, recursively, who created that;
 * for a change to an agent: the agent's registration; for a decision: the credential it was
 * made with, every delegation of the chain (with its scope) and every agent's registration, the
 * policy version in force, the approval that let it through (with its approver), and the outcome
 * recorded after it. The decision record itself holds the risk score with its factors and the
 * limits the use consumed.
 */
export class AuditExplainer {
  constructor(
    private readonly ctx: EngineContext,
    private readonly proofs: AuditProofService,
  ) {}

  async explain(principal: OrgPrincipal, seq: number): Promise<ExplainNode> {
    requirePermission(principal, 'audit.read');
    const visited = new Set<number>();
    const root = await this.node(principal.orgId, seq, 'subject', visited);
    return root;
  }

  private async node(
    orgId: string,
    seq: number,
    relation: string,
    visited: Set<number>,
  ): Promise<ExplainNode> {
    visited.add(seq);
    const proof = await this.proofs.bundle(orgId, seq);
    const record = JSON.parse(proof.record) as AuditRecord;
    const dependsOn: ExplainNode[] = [];
    for (const [why, dependency] of await this.dependencies(orgId, record)) {
      const forward = why === OUTCOME && dependency.seq > seq;
      if ((dependency.seq >= seq && !forward) || visited.has(dependency.seq) || visited.size >= MAX_NODES)
        continue;
      dependsOn.push(await this.node(orgId, dependency.seq, why, visited));
    }
    return { seq, relation, record, proof, dependsOn };
  }

  private async dependencies(orgId: string, record: AuditRecord): Promise<Array<[string, AuditRecord]>> {
    const found: Array<[string, AuditRecord | undefined]> = [];
    const actor = record.actor;
    if (actor.kind === 'api_key' && !actor.id.startsWith('env:')) {
      found.push(['acting API key was created', await this.first(orgId, 'api_key.created', actor.id)]);
    }
    if (actor.kind === 'user')
      found.push(['acting user was created', await this.first(orgId, 'user.created', actor.id)]);
    if (actor.kind === 'api_key' && actor.userId) {
      found.push(['acting key acts for this user', await this.first(orgId, 'user.created', actor.userId)]);
    }
    if (record.target.type === 'agent' && record.type !== 'agent.registered') {
      found.push(['agent was registered', await this.first(orgId, 'agent.registered', record.target.id)]);
    }
    if (record.type === 'decision') found.push(...(await this.decisionDependencies(orgId, record)));
    return found.filter((entry): entry is [string, AuditRecord] => entry[1] !== undefined);
  }

  private async decisionDependencies(
    orgId: string,
    record: AuditRecord,
  ): Promise<Array<[string, AuditRecord | undefined]>> {
    const after = record.after as {
      chain?: { delegations?: string[]; agents?: string[]; token?: string };
      policyVersion?: number;
    };
    const found: Array<[string, AuditRecord | undefined]> = [];
    if (after.chain?.token)
      found.push([
        'the credential presented',
        await this.first(orgId, 'credential.issued', after.chain.token),
      ]);
    for (const id of after.chain?.delegations ?? [])
      found.push([
        'a delegation of the chain, with its scope',
        await this.first(orgId, 'delegation.granted', id),
      ]);
    for (const id of after.chain?.agents ?? [])
      found.push(['an agent of the chain was registered', await this.first(orgId, 'agent.registered', id)]);
    if (after.policyVersion !== undefined && after.policyVersion > 0)
      found.push([
        'the policy version in force',
        await this.first(orgId, 'policy.published', String(after.policyVersion)),
      ]);
    // The human's yes that let this one call through (who approved it, and when).
    const approval = (record.after as { approval?: { id?: string; status?: string } }).approval;
    if (approval?.id && approval.status === 'used')
      found.push([
        'the approval that allowed it, with its approver',
        await this.first(orgId, 'approval.approved', approval.id),
      ]);
    const outcome = await this.ctx.store
      .org(orgId)
      .listAuditRecords({ type: 'decision.outcome', decisionId: String(record.seq) }, { limit: 1 });
    found.push([OUTCOME, outcome.items[0]]);
    return found;
  }

  private async first(orgId: string, type: string, targetId: string): Promise<AuditRecord | undefined> {
    const page = await this.ctx.store.org(orgId).listAuditRecords({ type, targetId }, { limit: 1 });
    return page.items[0];
  }
}
