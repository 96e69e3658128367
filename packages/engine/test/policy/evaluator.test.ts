import { parseJsonExact, UnsafeIntegerError } from '@mandate/core';
import { PolicyEvaluator, PolicyParseError, validatePolicies } from '@mandate/engine';
import { describe, expect, it } from 'vitest';

const request = (overrides: Record<string, unknown> = {}) => ({
  principal: { type: 'User', id: 'alice' },
  action: { type: 'Action', id: 'read' },
  resource: { type: 'Doc', id: 'd1' },
  context: {},
  entities: [],
  ...overrides,
});

describe('PolicyEvaluator', () => {
  it('allows by the permitting policies, denies by a forbid, and names them (policyN in text order)', () => {
    const evaluator = new PolicyEvaluator(`
      @id("readers") permit(principal == User::"alice", action == Action::"read", resource);
      permit(principal, action == Action::"read", resource) when { context.ok == true };
      forbid(principal, action, resource == Doc::"secret");
    `);
    expect(evaluator.evaluate(request({ context: { ok: true } }))).toEqual({
      ok: true,
      decision: 'allow',
      determining: ['policy0', 'policy1'],
      erroring: [],
    });
    const secret = evaluator.evaluate(request({ resource: { type: 'Doc', id: 'secret' } }));
    expect(secret).toMatchObject({ ok: true, decision: 'deny', determining: ['policy2'] });
  });

  it('denies when no policy permits (no determining policy)', () => {
    const evaluator = new PolicyEvaluator('permit(principal, action == Action::"write", resource);');
    expect(evaluator.evaluate(request())).toEqual({
      ok: true,
      decision: 'deny',
      determining: [],
      erroring: [],
    });
  });

  it('skips a policy that errors, and names it', () => {
    const evaluator = new PolicyEvaluator(
      'permit(principal, action, resource) when { context.missing == 1 };',
    );
    const result = evaluator.evaluate(request());
    expect(result).toMatchObject({ ok: true, decision: 'deny', determining: [] });
    expect(result.ok && result.erroring.map((e) => e.policyId)).toEqual(['policy0']);
  });

  it('refuses policy text that does not parse, with Cedar’s own message', () => {
    expect(() => new PolicyEvaluator('permit(principal, action, resource')).toThrow(PolicyParseError);
    try {
      new PolicyEvaluator('permit(principal, action, resource) when { 1 + };');
    } catch (error) {
      expect((error as PolicyParseError).errors.join(' ')).toMatch(/unexpected token|parse/i);
    }
  });

  it('a request it cannot evaluate (malformed entities) is not an allow', () => {
    const evaluator = new PolicyEvaluator('permit(principal, action, resource);');
    const result = evaluator.evaluate(
      request({ entities: [{ uid: { type: 'User' }, attrs: {}, parents: [] }] }),
    );
    expect(result.ok).toBe(false);
  });
});

describe('validatePolicies', () => {
  const schema = 'entity User; entity Doc; action read appliesTo { principal: User, resource: Doc };';
  it('accepts policies that fit the schema and refuses others with Cedar’s messages', () => {
    expect(validatePolicies('permit(principal, action == Action::"read", resource);', schema)).toMatchObject({
      valid: true,
    });
    const bad = validatePolicies('permit(principal, action == Action::"fly", resource);', schema);
    expect(bad.valid).toBe(false);
    expect(bad.errors.join(' ')).toMatch(/fly/);
  });
});

describe('parseJsonExact', () => {
  it('parses ordinary JSON, including the largest exact integers', () => {
    expect(parseJsonExact('{"a":[1,-2,3.5,"9223372036854775807"],"b":9007199254740991}')).toEqual({
      a: [1, -2, 3.5, '9223372036854775807'],
      b: 9007199254740991,
    });
  });
  it.each([
    '9223372036854775807',
    '-9223372036854775808',
    '9007199254740992',
    '9007199254740993',
    '1e300',
    '2e400',
  ])('refuses %s instead of rounding it', (literal) => {
    expect(() => parseJsonExact(`{"x": [${literal}]}`)).toThrow(UnsafeIntegerError);
  });
});
