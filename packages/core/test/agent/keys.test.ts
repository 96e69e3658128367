import { type AgentKey, wouldRetireLastKey } from '@mandate/core';
import { describe, expect, it } from 'vitest';

function key(kid: string, status: AgentKey['status']): AgentKey {
  return {
    kid,
    jwk: { kty: 'OKP', crv: 'Ed25519', x: `x-${kid}` },
    status,
    addedAt: '2030-01-01T00:00:00.000Z',
    ...(status === 'retired' ? { retiredAt: '2030-02-01T00:00:00.000Z' } : {}),
  };
}

describe('wouldRetireLastKey', () => {
  it('is true for the only active key', () => {
    expect(wouldRetireLastKey([key('k1', 'active')], 'k1')).toBe(true);
  });

  it('is false for either of two active keys', () => {
    const keys = [key('k1', 'active'), key('k2', 'active')];
    expect(wouldRetireLastKey(keys, 'k1')).toBe(false);
    expect(wouldRetireLastKey(keys, 'k2')).toBe(false);
  });

  it('is true for the only active key among retired ones', () => {
    const keys = [key('old1', 'retired'), key('k1', 'active'), key('old2', 'retired')];
    expect(wouldRetireLastKey(keys, 'k1')).toBe(true);
  });

  it('is false when retiring an already-retired key leaves the active key in place', () => {
    const keys = [key('old1', 'retired'), key('k1', 'active'), key('old2', 'retired')];
    expect(wouldRetireLastKey(keys, 'old1')).toBe(false);
    expect(wouldRetireLastKey(keys, 'old2')).toBe(false);
  });

  it('is false for an unknown kid while an active key exists', () => {
    expect(wouldRetireLastKey([key('k1', 'active')], 'nope')).toBe(false);
  });

  it('does not modify the keys it is given', () => {
    const keys = Object.freeze([Object.freeze(key('k1', 'active')), Object.freeze(key('k2', 'active'))]);
    wouldRetireLastKey(keys, 'k1');
    expect(keys.map((k) => k.status)).toEqual(['active', 'active']);
  });
});
