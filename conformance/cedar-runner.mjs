/**
 * Runs one Cedar integration test file (cedar-policy/cedar-integration-tests format) through
 * Mandate's policy evaluator (`@mandate/engine` PolicyEvaluator, validatePolicies) and says,
 * for every request, whether the decision, the determining policies and the erroring policies
 * are the reference engine's. Files whose integers JavaScript cannot hold exactly must be
 * refused (UnsafeIntegerError), never evaluated on rounded numbers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { assertExactIntegers, parseJsonExact, UnsafeIntegerError } from '@mandate/core';
import { PolicyEvaluator, validatePolicies } from '@mandate/engine';

const sorted = (list) => [...list].sort();
const same = (a, b) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));

/**
 * @param file   the test's JSON file
 * @param root   the folder its `policies`, `entities` and `schema` paths are relative to
 * @param expect { overflow: boolean (the file must be refused), validationDrift: boolean }
 * @returns { file, requests, passed, failures: string[], refused?: string (why it was refused),
 *            engine?: { set: 'compiled'|'cedar-wasm', fallbackReason?, stats: { compiled, wasm, reasons } } }
 */
export function runCedarTestFile(file, root, expect = {}) {
  const name = path.relative(root, file);
  const result = { file: name, requests: 0, passed: 0, failures: [] };
  const read = (relative) => fs.readFileSync(path.join(root, relative), 'utf8');
  let test;
  let entities;
  try {
    const text = fs.readFileSync(file, 'utf8');
    test = JSON.parse(text);
    assertExactIntegers(text);
    entities = parseJsonExact(read(test.entities));
  } catch (error) {
    if (error instanceof UnsafeIntegerError) {
      // Refusing is right for every such file, listed or not: the README lists the 21 whose
      // integers are i64's extremes; others hold integers above 2^53 that would round silently.
      result.refused = error.message;
      return result;
    }
    throw error;
  }
  if (expect.overflow) result.failures.push('listed as an overflow file, but nothing was refused');
  const policies = read(test.policies);
  const schema = read(test.schema);

  const validation = validatePolicies(policies, schema);
  const shouldValidate = expect.validationDrift ? !test.shouldValidate : test.shouldValidate;
  if (validation.valid !== shouldValidate) {
    result.failures.push(
      `validation: expected ${shouldValidate ? 'valid' : 'invalid'}, got ${validation.valid ? 'valid' : `invalid (${validation.errors[0]})`}`,
    );
  }

  const evaluator = new PolicyEvaluator(policies, schema, { slot: 'conformance' });
  // Which engine answered: the compiled one, or cedar-wasm (a set it could not compile, or a request it deferred).
  result.engine = { set: evaluator.engine, fallbackReason: evaluator.fallbackReason, stats: evaluator.stats };
  for (const [i, request] of test.requests.entries()) {
    result.requests++;
    const evaluation = evaluator.evaluate({
      principal: request.principal,
      action: request.action,
      resource: request.resource,
      context: request.context ?? {},
      entities,
      validateRequest: request.validateRequest === true,
    });
    // A request that cannot be evaluated is denied by no policy (the reference harness's view).
    const got = evaluation.ok
      ? {
          decision: evaluation.decision,
          reason: evaluation.determining,
          errors: evaluation.erroring.map((e) => e.policyId),
        }
      : { decision: 'deny', reason: [], errors: [] };
    const ok =
      got.decision === request.decision &&
      same(got.reason, request.reason) &&
      same(got.errors, request.errors ?? []);
    if (ok) result.passed++;
    else {
      result.failures.push(
        `request ${i} (${request.description}): expected ${request.decision} by [${sorted(request.reason)}] ` +
          `errors [${sorted(request.errors ?? [])}], got ${got.decision} by [${sorted(got.reason)}] errors [${sorted(got.errors)}]` +
          (evaluation.ok ? '' : ` (${evaluation.errors[0]})`),
      );
    }
  }
  return result;
}

/** The lists of the conformance README: files refused for their integers, files whose validation changed in cedar-wasm 4.13. */
export function readLists(cedarDir) {
  const list = (name) =>
    new Set(
      fs
        .readFileSync(path.join(cedarDir, name), 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith('#')),
    );
  return { overflow: list('i64-overflow-files.txt'), drift: list('validation-drift-4.13-files.txt') };
}
