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
  constructor(
    /** Where in the value the problem is, as `$.a.b[2]`. */
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

export function canonicalize(value: unknown): string {
  // Every audit record is canonicalised on the decision path: the fast pass builds no paths and
  // keeps no ancestor set (a depth bound catches cycles). Only when it refuses a value does the
  // careful pass run, to say where and why with the same errors.
  try {
    return fast(value, 0);
  } catch (error) {
    if (error !== REFUSED) throw error;
    return canonicalizeCarefully(value);
  }
}

/** The careful pass alone (paths, cycle detection): the reference the fast pass is tested against. */
export function canonicalizeCarefully(value: unknown): string {
  return serialize(value, '$', new Set());
}

/** Thrown by the fast pass for anything it will not serialise; never escapes `canonicalize`. */
const REFUSED = Symbol('refused');
/** Deeper than this, the fast pass hands over (a cycle, or a value no record has). */
const FAST_DEPTH = 64;

function fast(value: unknown, depth: number): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) throw REFUSED;
      return JSON.stringify(value);
    case 'string':
      if (LONE_SURROGATE.test(value)) throw REFUSED;
      return JSON.stringify(value);
    case 'object': {
      if (depth >= FAST_DEPTH) throw REFUSED;
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) throw REFUSED;
          out += (i === 0 ? '' : ',') + fast(value[i], depth + 1);
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw REFUSED;
      const object = value as Record<string, unknown>;
      let out = '{';
      let first = true;
      for (const key of Object.keys(object).sort()) {
        const member = object[key];
        if (member === undefined) continue;
        if (LONE_SURROGATE.test(key)) throw REFUSED;
        out += `${first ? '' : ','}${JSON.stringify(key)}:${fast(member, depth + 1)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw REFUSED;
  }
}

const encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The canonical UTF-8 bytes of a value (what the audit log hashes). */
export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalize(value));
}

/**
 * Integers at or beyond 2^53 are refused even where a double holds them exactly (1e30): the
 * value was most likely rounded on its way in, and an audit record must not silently differ
 * from what was meant. Cedar's integration corpus needs the same rule.
 */
function serialize(value: unknown, path: string, ancestors: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return serializeNumber(value, path);
    case 'string':
      return serializeString(value, path);
    case 'object': {
      if (ancestors.has(value)) throw new CanonicalJsonError(path, `circular reference`);
      ancestors.add(value);
      try {
        if (Array.isArray(value)) return serializeArray(value, path, ancestors);
        return serializeObject(value as Record<string, unknown>, path, ancestors);
      } finally {
        ancestors.delete(value);
      }
    }
    default:
      throw new CanonicalJsonError(path, `${typeof value} has no JSON representation`);
  }
}

function serializeNumber(value: number, path: string): string {
  if (!Number.isFinite(value)) throw new CanonicalJsonError(path, `non-finite number`);
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
    throw new CanonicalJsonError(path, `integer beyond 2^53 cannot be represented exactly`);
  }
  // ECMAScript Number-to-String is exactly the serialization RFC 8785 section 3.2.2.3 requires.
  return JSON.stringify(value);
}

function serializeString(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) throw new CanonicalJsonError(path, `string has a lone surrogate`);
  // JSON.stringify escapes exactly as RFC 8785 section 3.2.2.2 requires.
  return JSON.stringify(value);
}

function serializeArray(array: unknown[], path: string, ancestors: Set<object>): string {
  const items: string[] = [];
  for (let i = 0; i < array.length; i++) {
    if (!(i in array)) throw new CanonicalJsonError(`${path}[${i}]`, `hole in a sparse array`);
    items.push(serialize(array[i], `${path}[${i}]`, ancestors));
  }
  return `[${items.join(',')}]`;
}

function serializeObject(object: Record<string, unknown>, path: string, ancestors: Set<object>): string {
  const proto = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    if (object instanceof Date) {
      if (Number.isNaN(object.getTime())) throw new CanonicalJsonError(path, `invalid date`);
      return serializeString(object.toISOString(), path);
    }
    throw new CanonicalJsonError(path, `only plain objects can be canonicalised`);
  }
  const parts: string[] = [];
  // RFC 8785 sorts keys by UTF-16 code units, which is JavaScript's default string order.
  for (const key of Object.keys(object).sort()) {
    const member = object[key];
    if (member === undefined) continue; // as JSON.stringify: absent, not null
    parts.push(`${serializeString(key, path)}:${serialize(member, `${path}.${key}`, ancestors)}`);
  }
  return `{${parts.join(',')}}`;
}
