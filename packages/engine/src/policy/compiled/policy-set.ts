/**
 * A Cedar policy set compiled once: each policy's scope and conditions as closures, indexed by
 * action. `evaluate` gives Cedar's answer (forbid wins, default deny, determining and erroring
 * policies), or `undefined` when this request must go to cedar-wasm (see store.ts: Defer).
 */
import { cedar } from '../cedar.js';
import { type Compiled, compileExpr, type Env, NotCompilable } from './compiler.js';
import { ActionIndex, actionScope, compileScope, type ScopeCheck } from './scope.js';
import { Defer, EntityStore, type EntityTypes, readUid, readValue } from './store.js';
import { CedarEvalError, CedarRecord } from './values.js';

interface CompiledPolicy {
  id: string;
  forbid: boolean;
  principal: ScopeCheck;
  resource: ScopeCheck;
  /** `when` bodies as they are, `unless` bodies negated; all must be true. */
  conditions: Array<{ body: Compiled; unless: boolean }>;
}

export interface CompiledRequest {
  principal: unknown;
  action: unknown;
  resource: unknown;
  context: unknown;
  entities: unknown;
}

export type CompiledAnswer = {
  ok: true;
  decision: 'allow' | 'deny';
  determining: string[];
  erroring: Array<{ policyId: string; message: string }>;
};

export type CompileResult = { ok: true; set: CompiledPolicySet } | { ok: false; reason: string };

/** Compiles Cedar policy text (already accepted by cedar-wasm); `reason` says why it could not. */
export function compilePolicySet(text: string, types?: EntityTypes): CompileResult {
  try {
    const parts = cedar.policySetTextToParts(text);
    if (parts.type !== 'success')
      return { ok: false, reason: 'not compilable: the text does not split into policies' };
    if (parts.policy_templates.length > 0)
      return { ok: false, reason: 'not compilable: the set has templates' };
    const policies = parts.policies.map((part, i) => {
      const json = cedar.policyToJson(part);
      if (json.type !== 'success') throw new NotCompilable(`policy${i} has no JSON form`);
      return compilePolicy(`policy${i}`, json.json as unknown as Record<string, unknown>);
    });
    return { ok: true, set: new CompiledPolicySet(policies, types) };
  } catch (error) {
    if (error instanceof NotCompilable) return { ok: false, reason: `not compilable: ${error.message}` };
    throw error;
  }
}

function compilePolicy(id: string, json: Record<string, unknown>): CompiledPolicy & { action: unknown } {
  if (json.effect !== 'permit' && json.effect !== 'forbid') throw new NotCompilable(`${id} effect`);
  const conditions = json.conditions;
  if (!Array.isArray(conditions)) throw new NotCompilable(`${id} conditions`);
  return {
    id,
    forbid: json.effect === 'forbid',
    principal: compileScope(json.principal, 'principal'),
    resource: compileScope(json.resource, 'resource'),
    action: actionScope(json.action),
    conditions: conditions.map((c) => {
      if (c.kind !== 'when' && c.kind !== 'unless') throw new NotCompilable(`${id} condition kind`);
      return { body: compileExpr(c.body), unless: c.kind === 'unless' };
    }),
  };
}

export class CompiledPolicySet {
  private readonly policies: CompiledPolicy[];
  private readonly index: ActionIndex;

  constructor(
    policies: Array<CompiledPolicy & { action: unknown }>,
    private readonly types?: EntityTypes,
  ) {
    this.policies = policies;
    this.index = new ActionIndex(policies.map((p) => p.action as ReturnType<typeof actionScope>));
  }

  get size(): number {
    return this.policies.length;
  }

  /** Cedar's answer, or a string: why this request must be evaluated by cedar-wasm. */
  evaluate(request: CompiledRequest): CompiledAnswer | string {
    let env: Env;
    try {
      const store = new EntityStore(request.entities, this.types);
      store.checkAcyclic();
      const action = readUid(request.action);
      const ctxType = this.types ? this.types.contexts.get(action.key) : undefined;
      if (this.types && !ctxType) throw new Defer('action not in the schema');
      const context = readValue(request.context, ctxType);
      if (!(context instanceof CedarRecord)) throw new Defer('context is not a record');
      env = {
        principal: readUid(request.principal),
        action,
        resource: readUid(request.resource),
        context,
        store,
      };
    } catch (error) {
      if (error instanceof Defer) return error.message;
      throw error;
    }
    const permits: string[] = [];
    const forbids: string[] = [];
    const erroring: Array<{ policyId: string; message: string }> = [];
    try {
      for (const i of this.index.candidates(env)) {
        const p = this.policies[i] as CompiledPolicy;
        if (p.principal && !p.principal(env, env.principal)) continue;
        if (p.resource && !p.resource(env, env.resource)) continue;
        let satisfied = true;
        try {
          for (const c of p.conditions) {
            const v = c.body(env);
            if (typeof v !== 'boolean') throw new CedarEvalError('type error: a condition must be a boolean');
            if (v === c.unless) {
              satisfied = false;
              break;
            }
          }
        } catch (error) {
          if (!(error instanceof CedarEvalError)) throw error;
          erroring.push({ policyId: p.id, message: error.message });
          continue;
        }
        if (satisfied) (p.forbid ? forbids : permits).push(p.id);
      }
    } catch (error) {
      // A Defer (cycle found late) or anything unforeseen (deep recursion): let Cedar answer.
      return error instanceof Defer ? error.message : `unexpected ${(error as Error).name}`;
    }
    const deny = forbids.length > 0 || permits.length === 0;
    return {
      ok: true,
      decision: deny ? 'deny' : 'allow',
      determining: (forbids.length > 0 ? forbids : permits).sort(),
      erroring,
    };
  }
}
