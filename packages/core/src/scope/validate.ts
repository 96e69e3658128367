import { DATA_CLASSES } from '../data-class.js';
import { CONSTRAINT_OPERATORS } from './constraints.js';
import { isActionPattern, isResourcePattern } from './patterns.js';

/**
 * Structural check of a requested scope that did not come through the HTTP schemas (for
 * example an agent narrowing its own credential): every field of the right shape, so the
 * algebra never sees a string where it expects a list. Returns the problems, empty if none.
 */
export function scopeProblems(value: unknown, { requireWindow = false } = {}): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return ['scope: must be an object'];
  const s = value as Record<string, unknown>;
  const problems: string[] = [];
  const list = (name: string, valid: (item: string) => boolean) => {
    const field = s[name];
    if (field === undefined) return;
    if (
      !Array.isArray(field) ||
      field.length > 100 ||
      !field.every((item) => typeof item === 'string' && valid(item))
    ) {
      problems.push(`scope.${name}: must be a list of valid patterns`);
    }
  };
  list('actions', isActionPattern);
  list('resources', isResourcePattern);
  list('requireApproval', isActionPattern);
  list('environments', (item) => item.length > 0 && item.length <= 64);
  if (s.dataClass !== undefined && !(DATA_CLASSES as readonly unknown[]).includes(s.dataClass)) {
    problems.push('scope.dataClass: unknown data class');
  }
  for (const name of ['notBefore', 'expiresAt'] as const) {
    const field = s[name];
    if (
      field === undefined
        ? requireWindow && name === 'expiresAt'
        : typeof field !== 'string' || Number.isNaN(Date.parse(field))
    ) {
      problems.push(`scope.${name}: must be an ISO-8601 date-time`);
    }
  }
  if (
    s.maxDepth !== undefined &&
    !(Number.isInteger(s.maxDepth) && (s.maxDepth as number) >= 0 && (s.maxDepth as number) <= 10)
  ) {
    problems.push('scope.maxDepth: must be an integer from 0 to 10');
  }
  if (s.arguments !== undefined && !validArguments(s.arguments))
    problems.push('scope.arguments: malformed constraints');
  if (s.limits !== undefined && !validLimits(s.limits)) problems.push('scope.limits: malformed limits');
  const known = [
    'actions',
    'resources',
    'dataClass',
    'environments',
    'arguments',
    'limits',
    'notBefore',
    'expiresAt',
    'maxDepth',
    'requireApproval',
  ];
  for (const key of Object.keys(s)) if (!known.includes(key)) problems.push(`scope.${key}: unknown field`);
  return problems;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isArgumentValue = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

function validArguments(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  return Object.entries(value).every(
    ([pattern, constraints]) =>
      isActionPattern(pattern) &&
      isPlainObject(constraints) &&
      Object.values(constraints).every(
        (c) =>
          isPlainObject(c) &&
          Object.keys(c).length > 0 &&
          Object.entries(c).every(([op, v]) => {
            if (!(CONSTRAINT_OPERATORS as readonly string[]).includes(op)) return false;
            if (op === 'eq') return isArgumentValue(v);
            if (op === 'in') return Array.isArray(v) && v.length > 0 && v.every(isArgumentValue);
            if (op === 'min' || op === 'max') return typeof v === 'number' && Number.isFinite(v);
            if (op === 'maxLength') return Number.isInteger(v) && (v as number) >= 0;
            return typeof v === 'string';
          }),
      ),
  );
}

function validLimits(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  const positiveInt = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) >= 1);
  const budget = value.budget;
  const budgetOk =
    budget === undefined ||
    (isPlainObject(budget) &&
      typeof budget.argument === 'string' &&
      typeof budget.max === 'number' &&
      budget.max >= 0);
  return positiveInt(value.maxUses) && positiveInt(value.ratePerMinute) && budgetOk;
}
