/**
 * Cedar's runtime values, as the compiled engine holds them. Longs are BigInt so that every i64
 * result (also those beyond 2^53) is exact; the other kinds are small classes compared by a
 * canonical key, which gives Cedar's structural equality for sets, records and extension values.
 */

export type Value = boolean | bigint | string | EntityRef | CedarSet | CedarRecord | ExtValue;

/** An evaluation error: the policy is skipped and reported as erroring, as Cedar does. */
export class CedarEvalError extends Error {}

export class EntityRef {
  /** type + NUL + id: a type name cannot hold NUL, so the key is unambiguous. */
  readonly key: string;
  constructor(
    readonly type: string,
    readonly id: string,
  ) {
    this.key = `${type}\u0000${id}`;
  }
}

export class CedarSet {
  private keyCache?: string;
  /** Canonical keys of the (deduplicated) elements, for `contains`. */
  readonly keys: Set<string>;
  readonly items: Value[];
  constructor(items: Value[]) {
    this.keys = new Set();
    this.items = [];
    for (const item of items) {
      const k = valueKey(item);
      if (!this.keys.has(k)) {
        this.keys.add(k);
        this.items.push(item);
      }
    }
  }
  get key(): string {
    if (this.keyCache === undefined) this.keyCache = `[${[...this.keys].sort().join(',')}]`;
    return this.keyCache;
  }
}

export class CedarRecord {
  private keyCache?: string;
  constructor(readonly map: Map<string, Value>) {}
  get key(): string {
    if (this.keyCache === undefined) {
      const names = [...this.map.keys()].sort();
      this.keyCache = `{${names.map((n) => `${JSON.stringify(n)}:${valueKey(this.map.get(n) as Value)}`).join(',')}}`;
    }
    return this.keyCache;
  }
}

export type ExtKind = 'decimal' | 'ipaddr' | 'datetime' | 'duration';

/**
 * An extension value. `n` is the number Cedar compares: the decimal scaled by 10^4, the
 * datetime's epoch milliseconds, the duration's milliseconds; for an IP address, the address
 * (v4 or v6 as BigInt) with `prefix` and `v6`.
 */
export class ExtValue {
  readonly key: string;
  constructor(
    readonly kind: ExtKind,
    readonly n: bigint,
    readonly prefix = 0,
    readonly v6 = false,
  ) {
    this.key = `${kind}(${v6 ? '6' : '4'}:${n}/${prefix})`;
  }
}

/** A canonical string per value: equal keys exactly when Cedar's `==` says equal. */
export function valueKey(v: Value): string {
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return `${v}`;
    case 'string':
      return JSON.stringify(v);
    default:
      return v instanceof EntityRef ? `E${JSON.stringify(v.key)}` : v.key;
  }
}

export function valueEquals(a: Value, b: Value): boolean {
  if (a === b) return true;
  const ta = typeof a;
  if (ta !== 'object' || typeof b !== 'object') return false;
  if (a instanceof EntityRef) return b instanceof EntityRef && a.key === b.key;
  if (a.constructor !== b.constructor) return false;
  return (a as CedarSet).key === (b as CedarSet).key;
}

export function typeName(v: Value): string {
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'long';
    case 'string':
      return 'string';
    default:
      if (v instanceof EntityRef) return 'entity';
      if (v instanceof CedarSet) return 'set';
      if (v instanceof CedarRecord) return 'record';
      return v.kind;
  }
}

export const typeError = (expected: string, v: Value): CedarEvalError =>
  new CedarEvalError(`type error: expected ${expected}, got ${typeName(v)}`);

export function asBool(v: Value): boolean {
  if (typeof v !== 'boolean') throw typeError('bool', v);
  return v;
}
export function asLong(v: Value): bigint {
  if (typeof v !== 'bigint') throw typeError('long', v);
  return v;
}
export function asString(v: Value): string {
  if (typeof v !== 'string') throw typeError('string', v);
  return v;
}
export function asEntity(v: Value): EntityRef {
  if (!(v instanceof EntityRef)) throw typeError('entity', v);
  return v;
}
export function asSet(v: Value): CedarSet {
  if (!(v instanceof CedarSet)) throw typeError('set', v);
  return v;
}
export function asExt(v: Value, kind: ExtKind): ExtValue {
  if (!(v instanceof ExtValue) || v.kind !== kind) throw typeError(kind, v);
  return v;
}
