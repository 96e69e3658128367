import { createHash } from 'node:crypto';
import { canonicalize, type ReasonCode } from '@mandate/core';
import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import { MandateError } from '../errors.js';
import { activeLocks, lockVerdict } from '../killswitch/locks.js';
import { type CedarValue, cedar } from '../policy/cedar.js';
import { loadEntities } from '../policy/entities.js';
import type { Evaluation } from '../policy/evaluator.js';
import type { ActivePolicy, PolicyService } from '../policy/policies.js';
import type { OrgReader, OrgTransaction } from '../ports/store.js';
import { UnauthenticatedDecision } from './pipeline.js';
import { type ActionRequest, type Decision, ProofMemo } from './types.js';

/** AuthZEN 1.0 subject / resource: `type` is the Cedar entity type verbatim, `id` its id. */
export interface AuthZenEntity {
  type: string;
  id: string;
  properties?: Record<string, unknown>;
  /** Earlier drafts put properties beside type and id; they are read as properties. */
  [member: string]: unknown;
}

export interface AuthZenRequest {
  subject: AuthZenEntity;
  action: { name: string; properties?: Record<string, unknown> };
  resource: AuthZenEntity;
  context?: Record<string, unknown>;
}

export interface AuthZenDecision {
  decision: boolean;
  context: {
    decision_id: string;
    reason?: ReasonCode;
    /** AuthZEN access-request profile: the denial can be resolved by a human's approval. */
    evaluation_id?: string;
    access_request?: { endpoint: string; expires_at: string; template: string; approval_id: string };
  };
}

/** The AuthZEN context key an enforcement point puts the agent's credential under. */
export const AGENT_CREDENTIAL = 'agent_credential';

export type EvaluationsSemantic = 'execute_all' | 'deny_on_first_deny' | 'permit_on_first_permit';

/** Context keys Mandate computes: a request that sets one is refused (identity comes from credentials). */
export const RESERVED_CONTEXT_KEYS = ['mandate'];
/**
 * Types a plain AuthZEN request cannot name: agents and orgs are decided with the agent's
 * credential (POST /v1/decisions), where their status, chain and lock are checked; named here,
 * with properties the caller makes up, they would skip all of that.
 */
export const RESERVED_AUTHZEN_TYPES = ['Agent', 'Org'];

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * The AuthZEN Authorization API 1.0 PDP for requests without an agent credential: the named
 * subject, action and resource are decided by the org's active Cedar policies over the stored
 * entities (with the request's properties merged over them), as any AuthZEN PDP does. Every
 * decision is appended to the org's audit log before it is returned; its sequence number is
 * the decision id.
 */
export class AuthZenService {
  constructor(
    private readonly ctx: EngineContext,
    private readonly policies: PolicyService,
    /** The agent pipeline, for requests carrying an agent credential. */
    private readonly decide?: (request: ActionRequest) => Promise<Decision>,
    /** This server's public URL of a path (for the access-request endpoint). */
    private readonly url: (path: string) => string = (path) => path,
  ) {}

  async evaluate(principal: OrgPrincipal, request: AuthZenRequest): Promise<AuthZenDecision> {
    const [decision] = await this.evaluateMany(principal, [request], 'execute_all');
    return decision as AuthZenDecision;
  }

  /**
   * Several evaluations (AuthZEN §7): decided in order; `deny_on_first_deny` and
   * `permit_on_first_permit` stop at the first such decision. All recorded in one transaction.
   */
  async evaluateMany(
    principal: OrgPrincipal,
    requests: AuthZenRequest[],
    semantic: EvaluationsSemantic,
    options: { probe?: boolean } = {},
  ): Promise<AuthZenDecision[]> {
    requirePermission(principal, 'decisions.evaluate');
    for (const [i, request] of requests.entries()) {
      assertNoReservedContext(request.context);
      if (!request.action?.name)
        throw new MandateError('invalid_request', `evaluations.${i}.action.name is required`);
      const carriesCredential = request.context?.[AGENT_CREDENTIAL] !== undefined;
      for (const part of ['subject', 'resource'] as const) {
        const type = request[part]?.type;
        const agentSubject = carriesCredential && part === 'subject' && type === 'Agent';
        if (RESERVED_AUTHZEN_TYPES.includes(type) && !agentSubject)
          throw new MandateError(
            'invalid_request',
            `${part}.type ${type}: an agent is decided with its access token (context.${AGENT_CREDENTIAL}, or POST /v1/decisions)`,
            `${part}.type`,
          );
      }
      if (carriesCredential && request.subject?.type !== 'Agent')
        throw new MandateError(
          'invalid_request',
          `with context.${AGENT_CREDENTIAL} the subject is the Agent`,
          'subject.type',
        );
    }
    const org = this.ctx.store.org(principal.orgId);
    const active = await this.policies.active(principal.orgId);
    const outcomes: Array<{ request: AuthZenRequest; allow: boolean; reason?: ReasonCode; record: unknown }> =
      [];
    // Decisions the agent pipeline made (and recorded itself), by position in `outcomes`.
    const agentDecisions = new Map<number, AuthZenDecision>();
    // One enforcement-point call carries one DPoP proof, for one HTTP request of the agent; items
    // of this batch with that identical credential share its verification (and only they).
    const proofMemo = new ProofMemo();
    for (const request of requests) {
      if (request.context?.[AGENT_CREDENTIAL] !== undefined) {
        const decided = await this.decideForAgent(principal, request, proofMemo, options.probe === true);
        agentDecisions.set(outcomes.length, decided.answer);
        outcomes.push({
          request,
          allow: decided.answer.decision,
          reason: decided.answer.context.reason,
          record: decided.record,
        });
        if (semantic === 'deny_on_first_deny' && !decided.answer.decision) break;
        if (semantic === 'permit_on_first_permit' && decided.answer.decision) break;
        continue;
      }
      const { evaluation, allow, failedForbid } = await evaluatePlain(org, active, {
        subject: request.subject,
        action: request.action.name,
        resource: request.resource,
        context: request.context,
      });
      const reason: ReasonCode | undefined = allow
        ? undefined
        : !evaluation.ok || failedForbid
          ? 'internal_error'
          : evaluation.determining.length > 0
            ? 'policy_denied'
            : 'no_policy_permits';
      outcomes.push({
        request,
        allow,
        reason,
        record: {
          kind: 'authzen',
          request: {
            subject: uidOf(request.subject),
            action: request.action.name,
            resource: uidOf(request.resource),
            // What was sent, as a digest: properties and context may hold data the log should not copy.
            digest: sha256(canonicalize(request)),
          },
          result: allow ? 'allow' : 'deny',
          reasons: reason ? [reason] : [],
          policyVersion: active.version,
          policyHash: active.hash,
          determining: evaluation.ok ? evaluation.determining : [],
          erroring: evaluation.ok ? evaluation.erroring.map((e) => e.policyId) : [],
          ...(evaluation.ok ? {} : { evaluationErrors: evaluation.errors.slice(0, 5) }),
        },
      });
      if (semantic === 'deny_on_first_deny' && !allow) break;
      if (semantic === 'permit_on_first_permit' && allow) break;
    }
    const seqs = await org.transact(async (tx: OrgTransaction) => {
      // The kill switch holds plain evaluations too, checked where they are recorded: once an org
      // lock has committed, nothing recorded after it is an allow.
      const locked = lockVerdict(await activeLocks(tx), principal.orgId, []);
      const out: number[] = [];
      for (const [i, outcome] of outcomes.entries()) {
        if (agentDecisions.has(i) && outcome.record === undefined) {
          out.push(-1);
          continue;
        }
        if (locked && !agentDecisions.has(i)) {
          outcome.allow = false;
          outcome.reason = 'org_locked';
          Object.assign(outcome.record as object, { result: 'deny', reasons: ['org_locked'] });
        }
        const record = await this.ctx.audit.append(tx, {
          type: 'decision',
          actor: principal.actor,
          target: { type: 'decision', id: `${outcome.request.action.name}` },
          after: outcome.record,
        });
        out.push(record.seq);
      }
      return out;
    });
    return outcomes.map(
      (o, i) =>
        (agentDecisions.has(i) && o.record === undefined ? agentDecisions.get(i) : undefined) ?? {
          decision: o.allow,
          context: { decision_id: String(seqs[i]), ...(o.reason ? { reason: o.reason } : {}) },
        },
    );
  }

  /**
   * An AuthZEN request that carries the agent's credential (`context.agent_credential`: its
   * token, and the DPoP proof the agent sent the enforcement point with that request's method
   * and URL) runs the whole agent pipeline, as POST /v1/decisions does. The subject must be the
   * token's agent. A credential that does not authenticate is a deny recorded in the asking
   * enforcement point's org (there is no other org it can be trusted to belong to).
   */
  private async decideForAgent(
    principal: OrgPrincipal,
    request: AuthZenRequest,
    proofMemo: ProofMemo,
    probe: boolean,
  ): Promise<{ answer: AuthZenDecision; record?: unknown }> {
    const {
      [AGENT_CREDENTIAL]: raw,
      data_class,
      environment,
      untrusted_input,
      ...context
    } = request.context ?? {};
    const credential = raw as { token?: unknown; dpop?: unknown; method?: unknown; url?: unknown };
    if (typeof credential !== 'object' || credential === null || typeof credential.token !== 'string')
      throw new MandateError('invalid_request', `context.${AGENT_CREDENTIAL}.token is required`);
    if (
      credential.dpop !== undefined &&
      (typeof credential.method !== 'string' || typeof credential.url !== 'string')
    )
      throw new MandateError(
        'invalid_request',
        `context.${AGENT_CREDENTIAL}: a dpop proof needs the method and url it was made for`,
      );
    const decide = this.decide;
    if (!decide) throw new MandateError('unavailable', 'the decision pipeline is not available');
    const scheme: 'DPoP' | 'Bearer' = credential.dpop === undefined ? 'Bearer' : 'DPoP';
    try {
      const decision = await decide({
        token: credential.token,
        scheme,
        dpop: typeof credential.dpop === 'string' ? credential.dpop : undefined,
        proofMethod: typeof credential.method === 'string' ? credential.method : undefined,
        proofUrl: typeof credential.url === 'string' ? credential.url : undefined,
        action: request.action.name,
        resource: {
          type: request.resource.type,
          id: request.resource.id,
          properties: propertiesOf(request.resource),
        },
        ...(typeof data_class === 'string' ? { dataClass: data_class as never } : {}),
        ...(typeof environment === 'string' ? { environment } : {}),
        arguments: request.action.properties,
        context,
        ...(untrusted_input === true ? { signals: { untrustedInput: true } } : {}),
        expectedOrgId: principal.orgId,
        expectedAgentId: request.subject.id,
        proofMemo,
        ...(probe ? { probe: true } : {}),
        askedBy: principal.actor,
      });
      const reason = decision.reasons[0]?.code;
      // A pending approval makes the denial requestable (openid/authzen access-request profile):
      // still a denial; the PEP submits it, waits for the task, then evaluates again.
      const pending = decision.approval?.status === 'pending' ? decision.approval : undefined;
      return {
        answer: {
          decision: decision.decision === 'allow',
          context: {
            decision_id: decision.decisionId,
            ...(reason ? { reason } : {}),
            ...(pending
              ? {
                  evaluation_id: decision.decisionId,
                  access_request: {
                    endpoint: this.url('/access/v1/requests'),
                    expires_at: pending.expiresAt,
                    template: 'mandate_approval',
                    approval_id: pending.id,
                  },
                }
              : {}),
          },
        },
      };
    } catch (error) {
      if (!(error instanceof UnauthenticatedDecision)) throw error;
      // Recorded with the batch, in the enforcement point's own org.
      return {
        answer: { decision: false, context: { decision_id: '', reason: error.reason.code } },
        record: {
          kind: 'authzen-agent',
          request: {
            subject: uidOf(request.subject),
            action: request.action.name,
            resource: uidOf(request.resource),
          },
          result: 'deny',
          reasons: [error.reason],
        },
      };
    }
  }

  /**
   * AuthZEN search (§8): which subjects (or resources, or actions) the active policies allow with
   * the rest of the request fixed. Candidates are the stored entities of the asked type, or the
   * actions the active version's schema declares; each is evaluated; one audit record holds the
   * search and what it found.
   */
  async search(
    principal: OrgPrincipal,
    kind: SearchKind,
    request: AuthZenSearchRequest,
  ): Promise<SearchAnswer> {
    requirePermission(principal, 'decisions.evaluate');
    assertNoReservedContext(request.context);
    for (const part of ['subject', 'resource'] as const) {
      if (RESERVED_AUTHZEN_TYPES.includes(request[part]?.type))
        throw new MandateError(
          'invalid_request',
          `${part}.type: agents and orgs are decided through POST /v1/decisions`,
        );
    }
    const org = this.ctx.store.org(principal.orgId);
    const active = await this.policies.active(principal.orgId);
    const candidates = await this.candidates(principal.orgId, kind, request);
    const results: SearchAnswer['results'] = [];
    for (const candidate of candidates) {
      const subject = (kind === 'subject' ? candidate : request.subject) as AuthZenEntity;
      const resource = (kind === 'resource' ? candidate : request.resource) as AuthZenEntity;
      const action = kind === 'action' ? (candidate as { name: string }).name : request.action?.name;
      if (!action || subject.id === undefined || resource.id === undefined)
        throw new MandateError('invalid_request', `a ${kind} search needs the other parts with their ids`);
      const { allow } = await evaluatePlain(org, active, {
        subject,
        action,
        resource,
        context: request.context,
      });
      if (allow) results.push(candidate);
    }
    const { record, found } = await org.transact(async (tx) => {
      // Under an org lock nothing is allowed, so a search finds nothing.
      const locked = lockVerdict(await activeLocks(tx), principal.orgId, []);
      const found = locked ? [] : results;
      const record = await this.ctx.audit.append(tx, {
        type: 'decision.search',
        actor: principal.actor,
        target: { type: 'search', id: kind },
        after: {
          kind,
          digest: sha256(canonicalize(request)),
          candidates: candidates.length,
          found: found.length,
          ...(locked ? { reasons: ['org_locked'] } : {}),
          policyVersion: active.version,
          policyHash: active.hash,
        },
      });
      return { record, found };
    });
    return {
      results: found,
      context: { decision_id: String(record.seq), candidates: candidates.length },
    };
  }

  private async candidates(
    orgId: string,
    kind: SearchKind,
    request: AuthZenSearchRequest,
  ): Promise<Array<{ type: string; id: string } | { name: string }>> {
    if (kind === 'action') {
      const version = await this.policies.activeVersion(orgId);
      const actions = version.schema ? declaredActions(version.schema) : [];
      if (actions.length === 0)
        throw new MandateError(
          'invalid_request',
          'an action search needs the actions declared in the active policy version’s schema',
        );
      return actions.slice(0, MAX_CANDIDATES + 1).map((name) => ({ name }));
    }
    const type = (kind === 'subject' ? request.subject : request.resource).type;
    const page = await this.ctx.store.org(orgId).listEntities(type, { limit: MAX_CANDIDATES });
    if (page.nextCursor)
      throw new MandateError(
        'invalid_request',
        `more than ${MAX_CANDIDATES} ${type} entities: search a narrower type`,
      );
    return page.items.map((e) => ({ type: e.uid.type, id: e.uid.id }));
  }
}

/** The action names a Cedar schema declares (its default namespace). */
function declaredActions(schema: string): string[] {
  const parsed = cedar.schemaToJson(schema);
  if (parsed.type !== 'success') return [];
  return Object.keys(parsed.json['']?.actions ?? {}).sort();
}

export type SearchKind = 'subject' | 'resource' | 'action';

/** Most candidates one search evaluates; more stored candidates are refused, not cut silently. */
const MAX_CANDIDATES = 1000;

export interface AuthZenSearchRequest {
  subject: AuthZenEntity | { type: string };
  action?: { name: string };
  resource: AuthZenEntity | { type: string };
  context?: Record<string, unknown>;
}

export interface SearchAnswer {
  results: Array<{ type: string; id: string } | { name: string }>;
  context: { decision_id: string; candidates: number };
}

const uidOf = (entity: AuthZenEntity) => ({ type: entity.type, id: entity.id });

/** `properties`, plus (for earlier drafts of the API) any member other than type, id and properties. */
function propertiesOf(entity: AuthZenEntity): Record<string, unknown> {
  const { type: _t, id: _i, properties, ...rest } = entity;
  return { ...rest, ...(properties ?? {}) };
}

/** Refuses a context that sets a key Mandate computes (the acting identity comes only from credentials). */
export function assertNoReservedContext(context: Record<string, unknown> | undefined): void {
  for (const key of Object.keys(context ?? {})) {
    if (RESERVED_CONTEXT_KEYS.includes(key))
      throw new MandateError(
        'invalid_request',
        `context.${key} is reserved: Mandate sets it`,
        `context.${key}`,
      );
  }
}

/**
 * One plain AuthZEN evaluation: the named subject and resource (with their stored ancestors) under
 * the active policies. Anything that goes wrong is a deny, never a throw; a forbid that Cedar
 * skipped because it errored is a deny too.
 */
export async function evaluatePlain(
  org: OrgReader,
  active: ActivePolicy,
  request: {
    subject: AuthZenEntity;
    action: string;
    resource: AuthZenEntity;
    context?: Record<string, unknown>;
  },
): Promise<{ evaluation: Evaluation; allow: boolean; failedForbid: boolean }> {
  let evaluation: Evaluation;
  try {
    const entities = await loadEntities(org, [
      { uid: uidOf(request.subject), properties: propertiesOf(request.subject) },
      { uid: uidOf(request.resource), properties: propertiesOf(request.resource) },
    ]);
    evaluation = active.evaluator.evaluate({
      principal: uidOf(request.subject),
      action: { type: 'Action', id: request.action },
      resource: uidOf(request.resource),
      context: (request.context ?? {}) as Record<string, CedarValue>,
      entities,
    });
  } catch (error) {
    evaluation = { ok: false, errors: [`the request could not be evaluated (${(error as Error).message})`] };
  }
  const failedForbid =
    evaluation.ok && evaluation.erroring.some((e) => active.evaluator.forbids.has(e.policyId));
  return {
    evaluation,
    allow: evaluation.ok && evaluation.decision === 'allow' && !failedForbid,
    failedForbid,
  };
}
