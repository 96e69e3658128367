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
