import { randomUUID } from 'node:crypto';
import {
  type CedarDetailedError,
  type CedarEntity,
  type CedarEntityUid,
  type CedarSchema,
  type CedarValue,
  cedar,
  describeCedarErrors,
} from './cedar.js';
import { NotCompilable } from './compiled/compiler.js';
import { type CompiledPolicySet, compilePolicySet } from './compiled/policy-set.js';
import { schemaTypes } from './compiled/schema-types.js';
import { policyTextProblem } from './guard.js';

/** Which engine evaluates: the compiled closures (default) or cedar-wasm for every request. */
export type PolicyEngine = 'compiled' | 'cedar-wasm';

let defaultEngine: PolicyEngine = 'compiled';

/** The engine new PolicyEvaluators use when their options do not say (a server-wide switch). */
export function setDefaultPolicyEngine(engine: PolicyEngine): void {
  if (engine !== 'compiled' && engine !== 'cedar-wasm')
    throw new Error(`unknown policy engine ${String(engine)}`);
  defaultEngine = engine;
}

export function getDefaultPolicyEngine(): PolicyEngine {
  return defaultEngine;
}

/** How many requests each engine answered, and why requests went to cedar-wasm. */
export interface EngineStats {
  compiled: number;
  wasm: number;
  reasons: Record<string, number>;
}

/** An empty policy set: asking cedar-wasm about it tells whether it would refuse a request. */
const ORACLE_SET = 'ps-compiled-oracle-empty';
let oracleReady = false;

export interface EvaluationRequest {
  principal: CedarEntityUid;
  action: CedarEntityUid;
  resource: CedarEntityUid;
  context: Record<string, CedarValue>;
  entities: CedarEntity[];
  /** Check the request against the schema first (needs a schema). */
  validateRequest?: boolean;
}

export type Evaluation =
  | {
      ok: true;
      decision: 'allow' | 'deny';
      /** The policies that determined the decision (Cedar's `reason`). */
      determining: string[];
      /** Policies that raised an error while evaluating (they are skipped, as Cedar does). */
      erroring: Array<{ policyId: string; message: string }>;
    }
  /** The request itself could not be evaluated (bad entities, context, schema mismatch): deny. */
  | { ok: false; errors: string[] };

export class PolicyParseError extends Error {
  override readonly name = 'PolicyParseError';
  constructor(readonly errors: string[]) {
    super(`the policy set does not parse: ${errors.join('; ')}`);
  }
}

/**
 * One parsed Cedar policy set (and optional schema), kept parsed inside the engine: parsing is
 * paid once per version, each evaluation passes only the request and its entities. Policy ids
 * are Cedar's for a policy set given as text: `policy0`, `policy1`, … in text order (an `@id`
 * annotation does not rename them), which is what the conformance corpus expects.
 */
export class PolicyEvaluator {
  private readonly policySetId: string;
  private readonly schemaName?: string;
  /** The ids of the forbid policies: an error in one of them must not become an allow. */
  readonly forbids: ReadonlySet<string>;
  /** Each policy's annotations by policy id (absent: none). */
  readonly annotations: ReadonlyMap<string, Record<string, string>>;

  /** The engine that evaluates this set: `cedar-wasm` when asked, or when the set cannot be compiled. */
  readonly engine: PolicyEngine;
  /** Why the set stays on cedar-wasm although the compiled engine was asked for. */
  readonly fallbackReason?: string;
  /** Requests answered by each engine (the compiled engine sends some requests to cedar-wasm). */
  readonly stats: EngineStats = { compiled: 0, wasm: 0, reasons: {} };
  private readonly compiled?: CompiledPolicySet;

  /**
   * `slot` names where the engine keeps the parsed set: cedar-wasm caches parsed sets by name
   * for the life of the process (it has no way to drop one), so a caller that makes many
   * evaluators (a policy version per org, a test corpus) reuses slots rather than leak them.
   * Evaluators sharing a slot replace each other: only the newest may be used.
   */
  constructor(
    readonly policies: string,
    schema?: CedarSchema,
    options: { slot?: string; engine?: PolicyEngine } = {},
  ) {
    this.policySetId = `ps-${options.slot ?? randomUUID()}`;
    const problem = policyTextProblem(policies);
    if (problem) throw new PolicyParseError([problem]);
    const parsed = cedar.preparsePolicySet(this.policySetId, { staticPolicies: policies });
    if (parsed.type !== 'success') throw new PolicyParseError(describeCedarErrors(parsed.errors));
    const described = describePolicies(policies);
    this.forbids = described.forbids;
    this.annotations = described.annotations;
    if (schema !== undefined) {
      this.schemaName = `schema-${options.slot ?? randomUUID()}`;
      const schemaParsed = cedar.preparseSchema(this.schemaName, schema);
      if (schemaParsed.type !== 'success')
        throw new PolicyParseError(describeCedarErrors(schemaParsed.errors).map((e) => `schema: ${e}`));
    }
    let engine = options.engine ?? defaultEngine;
    if (engine === 'compiled') {
      let result: ReturnType<typeof compilePolicySet>;
      try {
        result = compilePolicySet(policies, schema === undefined ? undefined : schemaTypes(schema));
      } catch (error) {
        if (!(error instanceof NotCompilable)) throw error;
        result = { ok: false, reason: `not compilable: ${error.message}` };
      }
      if (result.ok) this.compiled = result.set;
      else {
        engine = 'cedar-wasm';
        this.fallbackReason = result.reason;
      }
    }
    this.engine = engine;
  }

  evaluate(request: EvaluationRequest): Evaluation {
    if (this.compiled) {
      const refused = this.schemaName ? this.refusal(request) : undefined;
      if (refused) return refused;
      let answer: ReturnType<CompiledPolicySet['evaluate']>;
      try {
        answer = this.compiled.evaluate(request);
      } catch (error) {
        answer = `unexpected ${(error as Error).name}`; // a bug of ours must not decide: Cedar answers
      }
      if (typeof answer !== 'string') {
        this.stats.compiled++;
        return answer;
      }
      this.count(`request deferred: ${answer}`);
    } else if (this.fallbackReason) this.count(this.fallbackReason);
    else this.stats.wasm++;
    return this.evaluateWasm(request);
  }

  private count(reason: string): void {
    this.stats.wasm++;
    this.stats.reasons[reason] = (this.stats.reasons[reason] ?? 0) + 1;
  }

  /**
   * With a schema, whether cedar-wasm would refuse the request (entities or context not
   * conforming, request validation failing): asked of an empty policy set, which refuses exactly
   * the requests the real set would, with the same errors.
   */
  private refusal(request: EvaluationRequest): Evaluation | undefined {
    if (!oracleReady) {
      const parsed = cedar.preparsePolicySet(ORACLE_SET, { staticPolicies: '' });
      if (parsed.type !== 'success') throw new Error('cedar-wasm refused an empty policy set');
      oracleReady = true;
    }
    const answer = this.callWasm(request, ORACLE_SET);
    return answer.ok ? undefined : answer;
  }

  private evaluateWasm(request: EvaluationRequest): Evaluation {
    return this.callWasm(request, this.policySetId);
  }

  private callWasm(request: EvaluationRequest, policySetId: string): Evaluation {
    let answer: ReturnType<typeof cedar.statefulIsAuthorized>;
    try {
      answer = cedar.statefulIsAuthorized({
        principal: request.principal,
        action: request.action,
        resource: request.resource,
        context: request.context,
        entities: request.entities,
        preparsedPolicySetId: policySetId,
        ...(this.schemaName ? { preparsedSchemaName: this.schemaName } : {}),
        validateRequest: request.validateRequest === true && this.schemaName !== undefined,
      });
    } catch (error) {
      // Fail closed: anything the engine throws is a request that could not be evaluated.
      return { ok: false, errors: [`the policy engine failed: ${(error as Error).message}`] };
    }
    if (answer.type !== 'success') return { ok: false, errors: describeCedarErrors(answer.errors) };
    const { decision, diagnostics } = answer.response;
    return {
      ok: true,
      decision,
      determining: [...diagnostics.reason].sort(),
      erroring: diagnostics.errors.map((e) => ({ policyId: e.policyId, message: e.error.message })),
    };
  }
}

/** `policyN` for each forbid, in Cedar's text order (the ids Cedar gives a text policy set). */
/** The forbid policies' ids, and each policy's annotations (`@mandate_approval(...)` and the like). */
function describePolicies(policies: string): {
  forbids: Set<string>;
  annotations: Map<string, Record<string, string>>;
} {
  const parts = cedar.policySetTextToParts(policies);
  if (parts.type !== 'success') throw new PolicyParseError(describeCedarErrors(parts.errors));
  const forbids = new Set<string>();
  const annotations = new Map<string, Record<string, string>>();
  parts.policies.forEach((text, i) => {
    const json = cedar.policyToJson(text);
    // A policy whose effect cannot be read is treated as a forbid (its errors then deny).
    if (json.type !== 'success' || json.json.effect === 'forbid') forbids.add(`policy${i}`);
    if (json.type === 'success' && json.json.annotations)
      annotations.set(`policy${i}`, json.json.annotations as Record<string, string>);
  });
  return { forbids, annotations };
}

export interface ValidationResult {
  valid: boolean;
  errors: string[];
  warnings: string[];
}

/** Strict validation of policy text against a schema (Cedar's own messages). */
export function validatePolicies(policies: string, schema: CedarSchema): ValidationResult {
  const answer = cedar.validate({
    schema,
    policies: { staticPolicies: policies },
    validationSettings: { mode: 'strict' },
  });
  if (answer.type !== 'success')
    return { valid: false, errors: describeCedarErrors(answer.errors), warnings: [] };
  const errors = answer.validationErrors.map((e) => `${e.policyId}: ${message(e.error)}`);
  const warnings = answer.validationWarnings.map((e) => `${e.policyId}: ${message(e.error)}`);
  return { valid: errors.length === 0, errors, warnings };
}

const message = (e: CedarDetailedError) => (e.help ? `${e.message} (${e.help})` : e.message);
