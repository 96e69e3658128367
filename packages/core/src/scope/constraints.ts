/**
 * Argument constraints: what a tool call's named arguments must satisfy. No regular
 * expressions: every operator has a simple, decidable containment rule.
 */
export type ArgumentValue = string | number | boolean | null;

export interface ArgumentConstraint {
  eq?: ArgumentValue;
  in?: ArgumentValue[];
  /** Numbers only, inclusive. */
  min?: number;
  max?: number;
  /** Strings only. */
  prefix?: string;
  suffix?: string;
  maxLength?: number;
}

export const CONSTRAINT_OPERATORS = ['eq', 'in', 'min', 'max', 'prefix', 'suffix', 'maxLength'] as const;

/** True when `value` satisfies every operator of `constraint` (an absent argument satisfies none). */
export function satisfies(constraint: ArgumentConstraint, value: unknown): boolean {
  if (value === undefined) return false;
  if (constraint.eq !== undefined && value !== constraint.eq) return false;
  if (constraint.in !== undefined && !constraint.in.some((allowed) => allowed === value)) return false;
  if (constraint.min !== undefined && !(typeof value === 'number' && value >= constraint.min)) return false;
  if (constraint.max !== undefined && !(typeof value === 'number' && value <= constraint.max)) return false;
  if (
    constraint.prefix !== undefined &&
    !(typeof value === 'string' && value.startsWith(constraint.prefix))
  ) {
    return false;
  }
  if (constraint.suffix !== undefined && !(typeof value === 'string' && value.endsWith(constraint.suffix))) {
    return false;
  }
  if (
    constraint.maxLength !== undefined &&
    !(typeof value === 'string' && value.length <= constraint.maxLength)
  ) {
    return false;
  }
  return true;
}

/**
 * True when every value that satisfies `inner` also satisfies `outer` (a sufficient test:
 * it may say false for an `inner` that happens to be empty, never true wrongly). When `inner`
 * pins the value to a finite set (`eq` or `in`), the test is exact: each value is checked.
 */
export function constraintContains(outer: ArgumentConstraint, inner: ArgumentConstraint): boolean {
  const finite = finiteValues(inner);
  if (finite) return finite.every((value) => (satisfies(inner, value) ? satisfies(outer, value) : true));
  // inner admits infinitely many values: each operator of outer must be implied by inner's.
  if (outer.eq !== undefined || outer.in !== undefined) return false;
  if (outer.min !== undefined && !(inner.min !== undefined && inner.min >= outer.min && isNumeric(inner)))
    return false;
  if (outer.max !== undefined && !(inner.max !== undefined && inner.max <= outer.max && isNumeric(inner)))
    return false;
  if (outer.prefix !== undefined && !(inner.prefix?.startsWith(outer.prefix) && isTextual(inner)))
    return false;
  if (outer.suffix !== undefined && !(inner.suffix?.endsWith(outer.suffix) && isTextual(inner))) return false;
  if (
    outer.maxLength !== undefined &&
    !(inner.maxLength !== undefined && inner.maxLength <= outer.maxLength)
  ) {
    return false;
  }
  return true;
}

/** The values `c` allows when it lists them (`eq`, `in`); undefined when it allows infinitely many. */
function finiteValues(c: ArgumentConstraint): ArgumentValue[] | undefined {
  if (c.eq !== undefined) return [c.eq];
  if (c.in !== undefined) return c.in;
  return undefined;
}

// A numeric bound admits only numbers, a textual one only strings; mixing them admits nothing.
const isNumeric = (c: ArgumentConstraint) =>
  c.prefix === undefined && c.suffix === undefined && c.maxLength === undefined;
const isTextual = (c: ArgumentConstraint) => c.min === undefined && c.max === undefined;
