/** Runs the same request through the compiled engine and cedar-wasm, for comparison. */
import { type EvaluationRequest, PolicyEvaluator } from '../../../src/policy/evaluator.js';

export type Outcome = { decision: string; determining: string[]; erroring: string[] } | { refused: true };

export function outcome(evaluator: PolicyEvaluator, request: EvaluationRequest): Outcome {
  const e = evaluator.evaluate(request);
  if (!e.ok) return { refused: true };
  return {
    decision: e.decision,
    determining: [...e.determining].sort(),
    erroring: e.erroring.map((x) => x.policyId).sort(),
  };
}

export const uid = (type: string, id: string) => ({ type, id });

/** Both engines' outcomes for one request, and the compiled evaluator (to check its engine). */
export function both(policies: string, request: Partial<EvaluationRequest>, schema?: string) {
  const full: EvaluationRequest = {
    principal: uid('User', 'alice'),
    action: uid('Action', 'read'),
    resource: uid('Doc', 'd1'),
    context: {},
    entities: [],
    ...request,
  };
  const compiled = new PolicyEvaluator(policies, schema, { slot: 'unit-compiled', engine: 'compiled' });
  const wasm = new PolicyEvaluator(policies, schema, { slot: 'unit-wasm', engine: 'cedar-wasm' });
  return { compiled: outcome(compiled, full), wasm: outcome(wasm, full), evaluator: compiled };
}
