import { scopeProblems } from '@mandate/core';
import { describe, expect, it } from 'vitest';

describe('scopeProblems', () => {
  it('accepts a well-formed requested scope, including an empty one (inherit everything)', () => {
    expect(scopeProblems({})).toEqual([]);
    expect(
      scopeProblems({
        actions: ['email.read'],
        resources: ['mailbox:alice/*'],
        dataClass: 'internal',
        environments: ['prod'],
        arguments: { 'email.send': { to: { suffix: '@example.com' }, amount: { max: 10, in: [1, 2] } } },
        limits: { maxUses: 3, budget: { argument: 'amount', max: 50 } },
        expiresAt: '2026-01-01T00:00:00Z',
        maxDepth: 0,
      }),
    ).toEqual([]);
  });

  it.each([
    ['a string where a list belongs', { actions: 'email.read' }, 'scope.actions'],
    ['a bad pattern', { resources: ['mailbox alice'] }, 'scope.resources'],
    ['an unknown data class', { dataClass: 'secret' }, 'scope.dataClass'],
    ['a null constraint', { arguments: { 'email.send': { to: null } } }, 'scope.arguments'],
    ['an unknown operator', { arguments: { 'email.send': { to: { regex: '.*' } } } }, 'scope.arguments'],
    ['a NaN bound', { arguments: { 'email.send': { n: { max: Number.NaN } } } }, 'scope.arguments'],
    ['a fractional maxUses', { limits: { maxUses: 1.5 } }, 'scope.limits'],
    ['an unreadable date', { expiresAt: 'tomorrow' }, 'scope.expiresAt'],
    ['a negative depth', { maxDepth: -1 }, 'scope.maxDepth'],
    ['an unknown field', { everything: true }, 'scope.everything'],
  ])('refuses %s', (_what, scope, field) => {
    expect(scopeProblems(scope).join(' ')).toContain(field);
  });

  it('refuses what is not an object at all', () => {
    expect(scopeProblems('all')).toEqual(['scope: must be an object']);
    expect(scopeProblems(null)).toEqual(['scope: must be an object']);
  });
});
