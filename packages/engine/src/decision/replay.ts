import type { AuditRecord } from '@mandate/core';
import type { CedarValue } from '../policy/cedar.js';
import type { PolicyEvaluator } from '../policy/evaluator.js';
import type { OrgReader } from '../ports/store.js';
import { agentEvaluationInput } from './agent-evaluation.js';
import { evaluatePlain } from './authzen.js';

/** How many of the most recent records are looked at, and how many allows are replayed. */
const SCAN = 2000;
const REPLAY = 100;

export interface ReplaySummary {
  /** Recent allowed decisions replayed against the candidate policy set. */
  replayed: number;
  stillAllowed: number;
  nowDenied: number;
  /** Could not be replayed (the agent or user is gone, or Cedar could not evaluate the request). */
  skipped: number;
  /** The candidate set would deny every recent allowed request it could replay. */
  deniesAllRecent: boolean;
  note: string;
}

interface AgentRecord {
  kind: 'agent';
  request: {
    action: string;
    resource: { type: string; id: string };
    dataClass: string;
    environment?: string;
  };
  chain: { rootUser?: string; agents: string[]; delegations: string[] };
  result: string;
  risk?: { score: number; factors: Array<{ name: string }> };
}
interface AuthZenRecord {
  kind: 'authzen';
  request: { subject: { type: string; id: string }; action: string; resource: { type: string; id: string } };
  result: string;
}

/**
 * The most recent allowed decisions, asked again of a candidate policy set before it is
 * published, against today's registry and entities. Only the Cedar step is replayed, and the
 * context an enforcement point sent is kept in records as a digest only, so a policy that reads
 * caller context replays against an empty one: the summary is a warning, not a proof.
 */
export async function replayRecentDecisions(
  org: OrgReader,
  evaluator: PolicyEvaluator,
): Promise<ReplaySummary> {
  const size = await org.auditLogSize();
  const from = Math.max(0, size - SCAN);
  const rows = await org.listAuditCanonical(from, size - from);
  const allowed = rows
    .map((row) => JSON.parse(row.canonical) as AuditRecord)
    .filter((r) => r.type === 'decision' && (r.after as { result?: string } | undefined)?.result === 'allow')
    .slice(-REPLAY);
  const active = { version: -1, hash: '', evaluator };
  let stillAllowed = 0;
  let nowDenied = 0;
  let skipped = 0;
  for (const record of allowed) {
    const outcome = await replayOne(org, active, record).catch(() => 'skipped' as const);
    if (outcome === 'allow') stillAllowed++;
    else if (outcome === 'deny') nowDenied++;
    else skipped++;
  }
  const replayed = stillAllowed + nowDenied;
  return {
    replayed,
    stillAllowed,
    nowDenied,
    skipped,
    deniesAllRecent: replayed > 0 && stillAllowed === 0,
    note: 'the policy step only, against current entities; caller context is replayed as empty',
  };
}

async function replayOne(
  org: OrgReader,
  active: Parameters<typeof evaluatePlain>[1],
  record: AuditRecord,
): Promise<'allow' | 'deny' | 'skipped'> {
  const after = record.after as AgentRecord | AuthZenRecord;
  if (after.kind === 'authzen') {
    const { evaluation, allow } = await evaluatePlain(org, active, {
      subject: after.request.subject,
      action: after.request.action,
      resource: after.request.resource,
    });
    if (!evaluation.ok) return 'skipped';
    return allow ? 'allow' : 'deny';
  }
  const agentId = after.chain.agents[after.chain.agents.length - 1];
  const delegationId = after.chain.delegations[after.chain.delegations.length - 1];
  const agent = agentId ? await org.getAgent(agentId) : undefined;
  const leaf = delegationId ? await org.getDelegation(delegationId) : undefined;
  if (!agent || !leaf) return 'skipped';
  const rootUser = await org.getUser(leaf.rootUserId);
  const mandate = {
    delegated: true,
    action: after.request.action,
    dataClass: after.request.dataClass,
    ...(after.request.environment ? { environment: after.request.environment } : {}),
    agent: agent.id,
    rootUser: leaf.rootUserId,
    delegation: leaf.id,
    chain: after.chain.agents,
    chainDepth: leaf.depth,
    autonomous: leaf.standing === true,
    // As the policy step passed it: policies that read the risk replay against the recorded one.
    ...(after.risk
      ? { risk: { score: after.risk.score, factors: after.risk.factors.map((f) => f.name) } }
      : {}),
    time: record.time,
  };
  const evaluation = active.evaluator.evaluate(
    await agentEvaluationInput(org, {
      agent,
      rootUser,
      action: after.request.action,
      resource: after.request.resource,
      context: { mandate } as Record<string, CedarValue>,
    }),
  );
  if (!evaluation.ok) return 'skipped';
  const failedForbid = evaluation.erroring.some((e) => active.evaluator.forbids.has(e.policyId));
  return evaluation.decision === 'allow' && !failedForbid ? 'allow' : 'deny';
}
