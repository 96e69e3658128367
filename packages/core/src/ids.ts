/**
 * Object ids: a type prefix and a ULID body (48-bit millisecond time, 80 random bits,
 * Crockford base32). Time-ordered ids make cursor pagination a plain `id > cursor` scan.
 * Written by hand because it is 20 lines and must run in any JS runtime (no node:crypto).
 */
export const ID_PREFIXES = {
  org: 'org',
  user: 'usr',
  agent: 'agt',
  apiKey: 'key',
  delegation: 'dlg',
  approval: 'apr',
  lock: 'lck',
  platformKey: 'pk',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;
export type IdPrefix = (typeof ID_PREFIXES)[IdKind];

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ID_PATTERN = /^(org|usr|agt|key|dlg|apr|lck|pk)_[0-9A-HJKMNP-TV-Z]{26}$/;

export function newId(kind: IdKind, now: number = Date.now()): string {
  if (!Number.isSafeInteger(Math.floor(now)) || now < 0 || now >= 2 ** 48) {
    throw new RangeError('newId: time must be milliseconds between 0 and 2^48');
  }
  let time = '';
  let t = Math.floor(now);
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const random = new Uint8Array(16);
  globalThis.crypto.getRandomValues(random);
  let body = '';
  for (const byte of random) body += CROCKFORD[byte % 32];
  return `${ID_PREFIXES[kind]}_${time}${body}`;
}

/** True when `value` is a well-formed id of the given kind. */
export function isId(kind: IdKind, value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value) && value.startsWith(`${ID_PREFIXES[kind]}_`);
}
