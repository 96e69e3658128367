import { ID_PREFIXES, type IdKind, isId, newId } from '@mandate/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// Written out independently of the implementation.
const PREFIXES: Record<IdKind, string> = {
  org: 'org',
  user: 'usr',
  agent: 'agt',
  apiKey: 'key',
  delegation: 'dlg',
  approval: 'apr',
  lock: 'lck',
  platformKey: 'pk',
};
const KINDS = Object.keys(PREFIXES) as IdKind[];
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const MAX_TIME = 2 ** 48 - 1;

/** The millisecond time encoded in the first 10 characters of an id's body. */
function decodeTime(id: string): number {
  const body = id.slice(id.indexOf('_') + 1);
  let time = 0;
  for (const char of body.slice(0, 10)) time = time * 32 + CROCKFORD.indexOf(char);
  return time;
}

describe('ID_PREFIXES', () => {
  it('has one distinct prefix per kind', () => {
    expect(ID_PREFIXES).toEqual(PREFIXES);
    expect(new Set(Object.values(ID_PREFIXES)).size).toBe(KINDS.length);
  });
});

describe('newId', () => {
  it.each(KINDS)('makes %s ids: prefix, underscore, 26 Crockford base32 characters', (kind) => {
    const id = newId(kind);
    expect(id).toMatch(new RegExp(`^${PREFIXES[kind]}_[${CROCKFORD}]{26}$`));
    expect(isId(kind, id)).toBe(true);
  });

  it('encodes the time in the first 10 characters (ULID layout)', () => {
    expect(newId('agent', 0).slice(4, 14)).toBe('0000000000');
    expect(newId('agent', 1469918176385).slice(4, 14)).toBe('01ARYZ6S41'); // the ULID spec's example
    expect(newId('agent', MAX_TIME).slice(4, 14)).toBe('7ZZZZZZZZZ');
    for (const now of [1, 31, 32, 1_700_000_000_000, MAX_TIME]) {
      expect(decodeTime(newId('org', now))).toBe(now);
    }
  });

  it('uses the current time by default', () => {
    const before = Date.now();
    const id = newId('org');
    const after = Date.now();
    expect(decodeTime(id)).toBeGreaterThanOrEqual(before);
    expect(decodeTime(id)).toBeLessThanOrEqual(after);
  });

  it('sorts ids in the order of their times', () => {
    const times = [0, 1, 31, 32, 33, 1023, 1024, 1_000_000, 1_700_000_000_000, 1_700_000_000_001, MAX_TIME];
    const ids = times.map((now) => newId('delegation', now));
    expect([...ids].sort()).toEqual(ids);
    expect([...ids].reverse().sort()).toEqual(ids);
  });

  it('orders any two ids made at different times as strings', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_TIME }), fc.integer({ min: 0, max: MAX_TIME }), (a, b) => {
        fc.pre(a !== b);
        const [early, late] = a < b ? [a, b] : [b, a];
        expect(newId('agent', early) < newId('agent', late)).toBe(true);
      }),
    );
  });

  it('makes 10,000 distinct ids within the same millisecond', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newId('agent', 1_700_000_000_000)));
    expect(ids.size).toBe(10_000);
  });
});

describe('isId', () => {
  const body = '01ARYZ6S41TSV4RRFFQ69G5FAV';

  it.each(KINDS)('accepts a well-formed %s id and rejects it as any other kind', (kind) => {
    const id = `${PREFIXES[kind]}_${body}`;
    expect(isId(kind, id)).toBe(true);
    for (const other of KINDS.filter((k) => k !== kind)) {
      expect(isId(other, id), `as ${other}`).toBe(false);
    }
  });

  it('accepts every Crockford character in every position', () => {
    expect(isId('agent', `agt_${CROCKFORD.slice(0, 26)}`)).toBe(true);
    expect(isId('agent', `agt_${CROCKFORD.slice(6)}`)).toBe(true);
  });

  it.each([
    ['a wrong prefix', `usr_${body}`],
    ['an unknown prefix', `xyz_${body}`],
    ['an upper-case prefix', `AGT_${body}`],
    ['no prefix', body],
    ['no underscore', `agt${body}`],
    ['a hyphen for the underscore', `agt-${body}`],
    ['a lower-case body', `agt_${body.toLowerCase()}`],
    ['one lower-case character', `agt_${body.slice(0, 25)}v`],
    ['the letter I', `agt_${body.slice(0, 25)}I`],
    ['the letter L', `agt_${body.slice(0, 25)}L`],
    ['the letter O', `agt_${body.slice(0, 25)}O`],
    ['the letter U', `agt_${body.slice(0, 25)}U`],
    ['a 25-character body', `agt_${body.slice(0, 25)}`],
    ['a 27-character body', `agt_${body}0`],
    ['an empty body', 'agt_'],
    ['leading whitespace', ` agt_${body}`],
    ['trailing whitespace', `agt_${body} `],
    ['a trailing newline', `agt_${body}\n`],
    ['the empty string', ''],
  ])('rejects %s', (_label, value) => {
    expect(isId('agent', value)).toBe(false);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object that prints as an id', { toString: () => `agt_${body}` }],
    ['an array holding an id', [`agt_${body}`]],
  ])('rejects %s', (_label, value) => {
    expect(isId('agent', value)).toBe(false);
  });
});
