/**
 * Action and resource patterns: an exact name, a name ending in a `*` segment
 * (`email.*`, `mailbox:alice/*`), or `*` alone. The scope algebra (containment, attenuation)
 * builds on this syntax; here it is only validated, so nothing malformed is ever stored.
 */
const MAX_PATTERN_LENGTH = 256;
const ACTION = /^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?)$/;
// type:path, path segments separated by '/', optional trailing '*' segment.
const RESOURCE = /^(\*|[A-Za-z0-9_-]+:([A-Za-z0-9_.@:-]+(\/[A-Za-z0-9_.@:-]+)*(\/\*)?|\*))$/;

export function isActionPattern(value: string): boolean {
  return value.length <= MAX_PATTERN_LENGTH && ACTION.test(value);
}

export function isResourcePattern(value: string): boolean {
  return value.length <= MAX_PATTERN_LENGTH && RESOURCE.test(value);
}

/**
 * Matching and containment. A pattern is `*` (everything), an exact name, or a prefix followed
 * by a `*` segment: `email.*` matches every name that starts with `email.` and goes on
 * (`email.read`, `email.drafts.write`), never `email` itself; `mailbox:alice/*` likewise with
 * `/`, and `doc:*` every resource of type `doc`.
 */
function wildcardPrefix(pattern: string): string | undefined {
  return pattern.endsWith('*') && pattern !== '*' ? pattern.slice(0, -1) : undefined;
}

/** True when `name` (a concrete action or resource) is matched by `pattern`. */
export function patternMatches(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  const prefix = wildcardPrefix(pattern);
  if (prefix === undefined) return pattern === name;
  return name.length > prefix.length && name.startsWith(prefix);
}

/** True when every name `inner` matches is also matched by `outer`. */
export function patternContains(outer: string, inner: string): boolean {
  if (outer === '*') return true;
  if (inner === '*') return false;
  const outerPrefix = wildcardPrefix(outer);
  const innerPrefix = wildcardPrefix(inner);
  if (outerPrefix === undefined) return innerPrefix === undefined && outer === inner;
  if (innerPrefix === undefined) return patternMatches(outer, inner);
  return innerPrefix.startsWith(outerPrefix);
}

/**
 * True when every name matched by some pattern of `inner` is matched by some pattern of
 * `outer`. Checking each inner pattern against one outer pattern is exact for this language:
 * a wildcard matches names of unbounded length, which no finite set of exact names covers,
 * and two prefixes cover a third only if one of them does.
 */
export function patternSetContains(outer: readonly string[], inner: readonly string[]): boolean {
  return inner.every((pattern) => outer.some((candidate) => patternContains(candidate, pattern)));
}

/** True when some name is matched by both patterns. */
export function patternsOverlap(a: string, b: string): boolean {
  return patternContains(a, b) || patternContains(b, a);
}
