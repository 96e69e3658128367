/**
 * Cedar's extension types (decimal, ipaddr, datetime, duration), parsed and computed the way
 * cedar-policy-core/src/extensions/*.rs does: same accepted strings, same i64 overflow errors.
 * A parser returns `undefined` for a string Cedar refuses (the caller turns it into an error).
 */
import { checkI64, inI64 } from './i64.js';
import { asExt, asLong, asString, CedarEvalError, ExtValue, type Value } from './values.js';

// decimal: `^(-?\d+)\.(\d+)$` (Rust's `\d` is Unicode; non-ASCII digits then fail i64 parsing).
const DECIMAL = /^(-?[0-9]+)\.([0-9]+)$/;
export function parseDecimal(s: string): ExtValue | undefined {
  const m = DECIMAL.exec(s);
  if (!m) return undefined;
  const [, lStr, rStr] = m as unknown as [string, string, string];
  const l = BigInt(lStr);
  if (!inI64(l) || !inI64(l * 10000n) || rStr.length > 4) return undefined;
  const r = BigInt(rStr) * 10n ** BigInt(4 - rStr.length);
  const value = lStr.startsWith('-') ? l * 10000n - r : l * 10000n + r;
  return inI64(value) ? new ExtValue('decimal', value) : undefined;
}

// ipaddr: Rust's std IpAddr parsing plus Cedar's prefix rules.
const V4_PART = /^(0|[1-9][0-9]{0,2})$/;
const V6_GROUP = /^[0-9a-fA-F]{1,4}$/;
function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const part of parts) {
    if (!V4_PART.test(part) || Number(part) > 255) return undefined;
    n = (n << 8n) | BigInt(part);
  }
  return n;
}
function parseV6(s: string): bigint | undefined {
  const groups = (text: string) => (text === '' ? [] : text.split(':'));
  let all: string[];
  const gap = s.indexOf('::');
  if (gap >= 0) {
    if (s.indexOf('::', gap + 1) >= 0) return undefined;
    const head = groups(s.slice(0, gap));
    const tail = groups(s.slice(gap + 2));
    if (head.length + tail.length > 7) return undefined;
    all = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  } else {
    all = s.split(':');
    if (all.length !== 8) return undefined;
  }
  let n = 0n;
  for (const g of all) {
    if (!V6_GROUP.test(g)) return undefined;
    n = (n << 16n) | BigInt(`0x${g}`);
  }
  return n;
}
function parseAddr(s: string): { n: bigint; v6: boolean } | undefined {
  const v4 = parseV4(s);
  if (v4 !== undefined) return { n: v4, v6: false };
  const v6 = s.includes(':') ? parseV6(s) : undefined;
  return v6 === undefined ? undefined : { n: v6, v6: true };
}
const count = (s: string, c: string) => s.split(c).length - 1;
export function parseIp(s: string): ExtValue | undefined {
  // Byte length, as Rust's `str::len`.
  if (Buffer.byteLength(s, 'utf8') > 43) return undefined;
  if (count(s, ':') >= 2 && count(s, '.') >= 2) return undefined; // no IPv4 embedded in IPv6
  const slash = s.indexOf('/');
  if (slash < 0) {
    const a = parseAddr(s);
    return a && new ExtValue('ipaddr', a.n, a.v6 ? 128 : 32, a.v6);
  }
  const a = parseAddr(s.slice(0, slash));
  if (!a) return undefined;
  const p = s.slice(slash + 1);
  const max = a.v6 ? 128 : 32;
  if (p.length > (a.v6 ? 3 : 2) || !/^[0-9]+$/.test(p) || (p.startsWith('0') && p !== '0')) return undefined;
  const prefix = Number(p);
  return prefix > max ? undefined : new ExtValue('ipaddr', a.n, prefix, a.v6);
}

function ipRange(ip: ExtValue): [bigint, bigint] {
  const bits = ip.v6 ? 128n : 32n;
  const all = (1n << bits) - 1n;
  const host = all >> BigInt(ip.prefix);
  const net = all ^ host;
  return [ip.n & net, ip.n | host];
}
export function ipIsInRange(a: ExtValue, b: ExtValue): boolean {
  if (a.v6 !== b.v6) return false;
  const [aNet, aBroad] = ipRange(a);
  const [bNet, bBroad] = ipRange(b);
  return bNet <= aNet && aBroad <= bBroad;
}

// datetime: `YYYY-MM-DD` then optional `Thh:mm:ss` and `Z`, `.SSSZ`, `(+|-)hhmm`, `.SSS(+|-)hhmm`.
const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})/;
const HMS = /^T([0-9]{2}):([0-9]{2}):([0-9]{2})/;
const MS_OFFSET = /^(\.([0-9]{3}))?(Z|((\+|-)([0-9]{2})([0-9]{2})))$/;
const DAY_MS = 86_400_000n;
function daysFromCivil(y: number, m: number, d: number): number {
  // Howard Hinnant's algorithm (proleptic Gregorian, as chrono).
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] as number;
  return d <= days;
}
export function parseDatetime(s: string): ExtValue | undefined {
  const date = DATE.exec(s);
  if (!date) return undefined;
  const [y, mo, d] = [Number(date[1]), Number(date[2]), Number(date[3])];
  let ms = 0;
  let offsetSeconds = 0;
  if (date[0].length < s.length) {
    const rest = s.slice(date[0].length);
    const hms = HMS.exec(rest);
    if (!hms) return undefined;
    const tail = MS_OFFSET.exec(rest.slice(hms[0].length));
    if (!tail) return undefined;
    const [h, mi, sec] = [Number(hms[1]), Number(hms[2]), Number(hms[3])];
    if (h >= 24 || mi >= 60 || sec >= 60) return undefined;
    ms = ((h * 60 + mi) * 60 + sec) * 1000 + (tail[1] ? Number(tail[2]) : 0);
    if (tail[4]) {
      const [oh, om] = [Number(tail[6]), Number(tail[7])];
      if (oh >= 24 || om >= 60) return undefined;
      offsetSeconds = (tail[5] === '+' ? 1 : -1) * (oh * 3600 + om * 60);
    }
  }
  if (!validDate(y, mo, d)) return undefined;
  return new ExtValue(
    'datetime',
    BigInt(daysFromCivil(y, mo, d)) * DAY_MS + BigInt(ms - offsetSeconds * 1000),
  );
}

const DURATION = /^-?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$/;
const U64_MAX = 2n ** 64n - 1n;
export function parseDuration(s: string): ExtValue | undefined {
  if (s === '' || s === '-') return undefined;
  const m = DURATION.exec(s);
  if (!m) return undefined;
  const neg = s.startsWith('-');
  const num = (i: number) => (m[i] === undefined ? 0n : BigInt(m[i] as string));
  const parts = [num(10), num(8), num(6), num(4), num(2)];
  if (parts.some((p) => p > U64_MAX)) return undefined;
  let total = neg ? -(parts[0] as bigint) : (parts[0] as bigint);
  if (!inI64(total)) return undefined;
  const muls = [1000n, 60_000n, 3_600_000n, DAY_MS];
  for (let i = 0; i < 4; i++) {
    const y = parts[i + 1] as bigint;
    const product = y * (muls[i] as bigint);
    if (!inI64(y) || !inI64(product)) return undefined;
    total = neg ? total - product : total + product;
    if (!inI64(total)) return undefined;
  }
  return new ExtValue('duration', total);
}

const CONSTRUCTORS: Record<string, (s: string) => ExtValue | undefined> = {
  decimal: parseDecimal,
  ip: parseIp,
  datetime: parseDatetime,
  duration: parseDuration,
};

export const isConstructor = (name: string): boolean => name in CONSTRUCTORS;

/** `decimal("…")` and the like: from a string value, or undefined if Cedar refuses the string. */
export function construct(name: string, s: string): ExtValue | undefined {
  return CONSTRUCTORS[name]?.(s);
}

const fail = (name: string): never => {
  throw new CedarEvalError(`extension function ${name} failed`);
};

type Fn = (args: Value[]) => Value;
const dec = (v: Value) => asExt(v, 'decimal').n;
const ip = (v: Value) => asExt(v, 'ipaddr');
const dt = (v: Value) => asExt(v, 'datetime').n;
const dur = (v: Value) => asExt(v, 'duration').n;
const i64Ext = (kind: 'datetime' | 'duration', n: bigint, name: string) => {
  if (!inI64(n)) fail(name);
  return new ExtValue(kind, n);
};

/** Every extension function by name, with its arity. Methods take the receiver first. */
export const EXTENSION_FUNCTIONS: Record<string, [number, Fn]> = {
  decimal: [1, ([a]) => construct('decimal', asString(a as Value)) ?? fail('decimal')],
  ip: [1, ([a]) => construct('ip', asString(a as Value)) ?? fail('ip')],
  datetime: [1, ([a]) => construct('datetime', asString(a as Value)) ?? fail('datetime')],
  duration: [1, ([a]) => construct('duration', asString(a as Value)) ?? fail('duration')],
  lessThan: [2, ([a, b]) => dec(a as Value) < dec(b as Value)],
  lessThanOrEqual: [2, ([a, b]) => dec(a as Value) <= dec(b as Value)],
  greaterThan: [2, ([a, b]) => dec(a as Value) > dec(b as Value)],
  greaterThanOrEqual: [2, ([a, b]) => dec(a as Value) >= dec(b as Value)],
  isIpv4: [1, ([a]) => !ip(a as Value).v6],
  isIpv6: [1, ([a]) => ip(a as Value).v6],
  isLoopback: [
    1,
    ([a]) => {
      const x = ip(a as Value);
      return x.v6 ? x.n === 1n && x.prefix >= 128 : x.n >> 24n === 127n && x.prefix >= 8;
    },
  ],
  isMulticast: [
    1,
    ([a]) => {
      const x = ip(a as Value);
      return x.v6 ? x.n >> 120n === 0xffn && x.prefix >= 8 : x.n >> 28n === 0xen && x.prefix >= 4;
    },
  ],
  isInRange: [
    2,
    ([a, b]) => {
      const x = ip(a as Value);
      return ipIsInRange(x, ip(b as Value));
    },
  ],
  offset: [
    2,
    ([a, b]) => {
      const x = dt(a as Value);
      return i64Ext('datetime', x + dur(b as Value), 'offset');
    },
  ],
  durationSince: [
    2,
    ([a, b]) => {
      const x = dt(a as Value);
      return i64Ext('duration', x - dt(b as Value), 'durationSince');
    },
  ],
  toDate: [
    1,
    ([a]) => {
      const x = dt(a as Value);
      const rem = ((x % DAY_MS) + DAY_MS) % DAY_MS;
      return i64Ext('datetime', x - rem, 'toDate');
    },
  ],
  toTime: [
    1,
    ([a]) => {
      const x = dt(a as Value);
      const rem = x % DAY_MS;
      return new ExtValue('duration', x < 0n && rem !== 0n ? rem + DAY_MS : rem);
    },
  ],
  toMilliseconds: [1, ([a]) => dur(a as Value)],
  toSeconds: [1, ([a]) => dur(a as Value) / 1000n],
  toMinutes: [1, ([a]) => dur(a as Value) / 1000n / 60n],
  toHours: [1, ([a]) => dur(a as Value) / 1000n / 60n / 60n],
  toDays: [1, ([a]) => dur(a as Value) / 1000n / 60n / 60n / 24n],
};

/** `<`/`<=` on Longs and on same-kind datetime/duration (Cedar's operator overloading). */
export function compareValues(a: Value, b: Value, strict: boolean): boolean {
  let x: bigint;
  let y: bigint;
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    x = a;
    y = b;
  } else if (
    a instanceof ExtValue &&
    b instanceof ExtValue &&
    a.kind === b.kind &&
    (a.kind === 'datetime' || a.kind === 'duration')
  ) {
    x = a.n;
    y = b.n;
  } else {
    // Which operand is blamed changes only the message.
    if (typeof a === 'bigint') asLong(b);
    throw new CedarEvalError('type error: comparison needs two longs, datetimes or durations');
  }
  return strict ? x < y : x <= y;
}

export { checkI64 };
