import fs from 'node:fs';
import path from 'node:path';
import {
  EMPTY_ROOT,
  ed25519Signer,
  equalBytes,
  leafHash,
  parseCheckpoint,
  parseVerifierKey,
  rootOf,
  toBase64,
  verifyNote,
} from '@mandate/core';
import { describe, expect, it } from 'vitest';
import { CONFORMANCE } from '../conformance-path.js';

/** A 15-entry tiled log written by transparency-dev/tessera, with a checkpoint at every size. */
const LOG = path.join(CONFORMANCE, 'tlog/tessera-log');
const VERIFIER_KEY = 'example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx';
const WORDS = 'one two three four five six seven eit nain ten ileven twelf threeten fourten fivten'.split(
  ' ',
);

/** An entry bundle is a sequence of big-endian uint16 length-prefixed entries (C2SP tlog-tiles). */
function entriesOf(bundle: Uint8Array): Uint8Array[] {
  const entries: Uint8Array[] = [];
  for (let at = 0; at < bundle.length; ) {
    const length = ((bundle[at] as number) << 8) | (bundle[at + 1] as number);
    entries.push(bundle.slice(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return entries;
}

const read = (...parts: string[]) => new Uint8Array(fs.readFileSync(path.join(LOG, ...parts)));
const verifier = parseVerifierKey(VERIFIER_KEY);

describe('tessera test log', () => {
  it('verifies and parses the checkpoint at every size, and reproduces its root from the entries', () => {
    for (let size = 0; size <= 15; size++) {
      const text = verifyNote(fs.readFileSync(path.join(LOG, `checkpoint.${size}`), 'utf8'), [verifier]);
      const checkpoint = parseCheckpoint(text);
      expect(checkpoint.origin).toBe('example.com/log/testdata');
      expect(checkpoint.size).toBe(size);
      if (size === 0) {
        expect(equalBytes(checkpoint.rootHash, EMPTY_ROOT)).toBe(true);
        continue;
      }
      const entries = entriesOf(read('tile/entries/000.p', String(size)));
      expect(entries.map((e) => new TextDecoder().decode(e))).toEqual(WORDS.slice(0, size));
      const hashes = entries.map(leafHash);
      // Level-0 tile: the leaf hashes, concatenated.
      const tile = read('tile/0/000.p', String(size));
      expect(toBase64(tile)).toBe(toBase64(new Uint8Array(hashes.flatMap((h) => [...h]))));
      expect(toBase64(rootOf(hashes))).toBe(toBase64(checkpoint.rootHash));
    }
  });

  it('the latest checkpoint is the one of size 15', () => {
    const text = verifyNote(fs.readFileSync(path.join(LOG, 'checkpoint'), 'utf8'), [verifier]);
    expect(parseCheckpoint(text).size).toBe(15);
  });

  it('rejects a checkpoint whose text was changed after signing', () => {
    const note = fs.readFileSync(path.join(LOG, 'checkpoint.3'), 'utf8').replace('\n3\n', '\n4\n');
    expect(() => verifyNote(note, [verifier])).toThrow(/invalid signature/);
  });

  it('rejects a verifier key whose hash does not match its name and key', () => {
    expect(() => parseVerifierKey(VERIFIER_KEY.replace('testdata+', 'other+'))).toThrow(
      /hash does not match/,
    );
  });

  it('rejects a checkpoint when only another key is trusted', () => {
    const other = ed25519Signer('example.com/log/testdata', new Uint8Array(32).fill(7));
    expect(() => verifyNote(fs.readFileSync(path.join(LOG, 'checkpoint.3'), 'utf8'), [other])).toThrow(
      /no signature by a trusted key/,
    );
  });
});
