/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * Hand-written rather than taken from a package because audit records must fail closed:
 * the available packages silently accept values JCS cannot represent exactly (NaN, Infinity,
 * lone surrogates, undefined, integers beyond 2^53 that would be rounded). Here each of those
 * throws a CanonicalJsonError instead of producing bytes that would later fail to verify.
 */
export class CanonicalJsonError extends Error {
  override readonly name = 'CanonicalJsonError';
}

export function canonicalize(value: unknown): string {
  return serialize(value, '$');
}

const encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The canonical UTF-8 bytes of a value (what the audit log hashes). */
export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalize(value));
}

function serialize(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return serializeNumber(value, path);
    case 'string':
      return serializeString(value, path);
    case 'object':
      if (Array.isArray(value)) {
        return `[${value.map((item, i) => serialize(item, `${path}[${i}]`)).join(',')}]`;
      }
      return serializeObject(value as Record<string, unknown>, path);
    default:
      throw new CanonicalJsonError(`${path}: ${typeof value} has no JSON representation`);
  }
}

function serializeNumber(value: number, path: string): string {
  if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path}: non-finite number`);
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
    throw new CanonicalJsonError(`${path}: integer beyond 2^53 cannot be represented exactly`);
  }
  // ECMAScript Number-to-String is exactly the serialization RFC 8785 section 3.2.2.3 requires.
  return JSON.stringify(value);
}

function serializeString(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) throw new CanonicalJsonError(`${path}: string has a lone surrogate`);
  // JSON.stringify escapes exactly as RFC 8785 section 3.2.2.2 requires.
  return JSON.stringify(value);
}

function serializeObject(object: Record<string, unknown>, path: string): string {
  const proto = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    if (object instanceof Date) return serializeString(object.toISOString(), path);
    throw new CanonicalJsonError(`${path}: only plain objects can be canonicalised`);
  }
  const parts: string[] = [];
  // RFC 8785 sorts keys by UTF-16 code units, which is JavaScript's default string order.
  for (const key of Object.keys(object).sort()) {
    const member = object[key];
    if (member === undefined) continue; // as JSON.stringify: absent, not null
    parts.push(`${serializeString(key, path)}:${serialize(member, `${path}.${key}`)}`);
  }
  return `{${parts.join(',')}}`;
}
