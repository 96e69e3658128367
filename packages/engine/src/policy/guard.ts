/**
 * Bounds on what reaches Cedar. cedar-wasm is one WebAssembly instance for the whole process:
 * deeply nested or very long expressions overflow its internal stack and leave it unusable for
 * every org until restart (found in review: ~160 nested parentheses while parsing, ~400 chained
 * `+` while evaluating). Policy text, entity attributes and contexts are checked against these
 * bounds before Cedar sees them. Hand-written: no library measures Cedar syntax; this scans
 * tokens only, skipping strings and comments, and errs on the side of refusing.
 */
export const MAX_NESTING = 32;
/** Binary operators in one policy (between `;`): far above what readable policies use. */
export const MAX_OPERATORS_PER_POLICY = 128;
export const MAX_JSON_DEPTH = 32;

const OPERATOR = /&&|\|\||==|!=|<=|>=|[+\-*<>]|\b(?:in|has|like|is)\b/y;

/** A problem with policy text, or undefined when it is within the bounds. */
export function policyTextProblem(
  text: string,
  options: { countOperators?: boolean } = {},
): string | undefined {
  const countOperators = options.countOperators ?? true;
  let depth = 0;
  let operators = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      // Skip a string literal (with escapes).
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') {
      depth++;
      if (depth > MAX_NESTING) return `expressions nest deeper than ${MAX_NESTING} levels`;
      continue;
    }
    if (c === ')' || c === ']' || c === '}') {
      depth = Math.max(0, depth - 1);
      continue;
    }
    if (c === ';') {
      operators = 0;
      continue;
    }
    if (!countOperators) continue;
    OPERATOR.lastIndex = i;
    const match = OPERATOR.exec(text);
    if (match) {
      operators++;
      if (operators > MAX_OPERATORS_PER_POLICY)
        return `a policy has more than ${MAX_OPERATORS_PER_POLICY} operators: split it into several policies`;
      i += match[0].length - 1;
    }
  }
  return undefined;
}

/** The nesting depth of a JSON value (objects and arrays), stopping early past `limit`. */
export function jsonDepthExceeds(value: unknown, limit = MAX_JSON_DEPTH, depth = 0): boolean {
  if (depth > limit) return true;
  if (Array.isArray(value)) return value.some((v) => jsonDepthExceeds(v, limit, depth + 1));
  if (typeof value === 'object' && value !== null)
    return Object.values(value).some((v) => jsonDepthExceeds(v, limit, depth + 1));
  return false;
}
