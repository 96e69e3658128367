import { leafHash, nodeHash, utf8 } from '@mandate/core';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { nativeLeafHash, nativeNodeHash } from '../../src/audit/native-hash.js';

it('the native leaf and node hashes are core’s RFC 9162 hashes', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.uint8Array(), fc.uint8Array(), (text, left, right) => {
      expect(nativeLeafHash(text)).toEqual(leafHash(utf8(text)));
      expect(nativeLeafHash(left)).toEqual(leafHash(left));
      expect(nativeNodeHash(left, right)).toEqual(nodeHash(left, right));
    }),
    { numRuns: 2000 },
  );
});
