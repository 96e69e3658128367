import { createHash } from 'node:crypto';
import {
  type Checkpoint,
  ed25519KeyHash,
  ed25519Signer,
  formatCheckpoint,
  formatVerifierKey,
  fromBase64,
  NoteError,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  signNote,
  toBase64,
  toHex,
  verifyNote,
} from '@mandate/core';
import { describe, expect, it } from 'vitest';

/** C2SP signed-note (https://c2sp.org/signed-note) and tlog-checkpoint (https://c2sp.org/tlog-checkpoint). */

const seed = (byte: number) => new Uint8Array(32).fill(byte);
const alice = ed25519Signer('example.com/log', seed(1));
const bob = ed25519Signer('example.com/witness', seed(2));
/** Same name as alice, another key: a different key hash. */
const impostor = ed25519Signer('example.com/log', seed(3));
const verifierOf = (signer: { name: string; publicKey: Uint8Array }) =>
  parseVerifierKey(formatVerifierKey(signer.name, signer.publicKey));

const TEXT = 'example.com/log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';
const EM = '\u2014';

/** Rewrites the base64 of the first signature line with `edit(raw)`. */
function editSignature(note: string, edit: (raw: Uint8Array) => Uint8Array): string {
  const lines = note.split('\n');
  const at = lines.findIndex((line) => line.startsWith(`${EM} `));
  const parts = (lines[at] as string).split(' ');
  parts[2] = toBase64(edit(fromBase64(parts[2] as string)));
  lines[at] = parts.join(' ');
  return lines.join('\n');
}

/** Independent C2SP key id: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]. */
const c2spKeyHash = (name: string, publicKey: Uint8Array) =>
  createHash('sha256')
    .update(Buffer.from(name, 'utf8'))
    .update(Buffer.from([0x0a, 0x01]))
    .update(publicKey)
    .digest()
    .subarray(0, 4)
    .toString('hex');

describe('golang.org/x/mod/sumdb/note reference vector', () => {
  // From the package documentation and note_test.go: Ed25519 signatures are deterministic, so the
  // same seed must give the published note byte for byte.
  const skey = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
  const vkey = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
  const text =
    'If you think cryptography is the answer to your problem,\n' +
    "then you don't know what your problem is.\n";
  const note = `${text}\n${EM} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;
  const signer = ed25519Signer('PeterNeumann', fromBase64(skey.split('+').slice(4).join('+')).slice(1));

  it('signs exactly as Go does, formats the same verifier key, and verifies the Go note', () => {
    expect(signNote(text, [signer])).toBe(note);
    expect(formatVerifierKey(signer.name, signer.publicKey)).toBe(vkey);
    expect(verifyNote(note, [parseVerifierKey(vkey)])).toBe(text);
  });

  it('rejects the Go note with one character of the text changed', () => {
    expect(() => verifyNote(note.replace('cryptography', 'cryptographY'), [parseVerifierKey(vkey)])).toThrow(
      /invalid signature/,
    );
  });
});

describe('signNote / verifyNote', () => {
  it('round-trips: the verified text is the signed text', () => {
    const note = signNote(TEXT, [alice]);
    expect(note.startsWith(`${TEXT}\n${EM} example.com/log `)).toBe(true);
    expect(note.endsWith('\n')).toBe(true);
    expect(verifyNote(note, [verifierOf(alice)])).toBe(TEXT);
    const parsed = parseNote(note);
    expect(parsed.text).toBe(TEXT);
    expect(parsed.signatures).toHaveLength(1);
    expect(parsed.signatures[0]?.keyHash).toBe(alice.keyHash);
    expect(parsed.signatures[0]?.signature).toHaveLength(64);
  });

  it('round-trips a text with non-ASCII characters', () => {
    const text = 'héllo — wörld ✓\nsecond line\n';
    expect(verifyNote(signNote(text, [alice]), [verifierOf(alice)])).toBe(text);
  });

  it('a note signed by two keys verifies with either key, or both', () => {
    const note = signNote(TEXT, [alice, bob]);
    expect(parseNote(note).signatures.map((s) => s.name)).toEqual(['example.com/log', 'example.com/witness']);
    expect(verifyNote(note, [verifierOf(alice)])).toBe(TEXT);
    expect(verifyNote(note, [verifierOf(bob)])).toBe(TEXT);
    expect(verifyNote(note, [verifierOf(bob), verifierOf(alice)])).toBe(TEXT);
  });

  it('ignores signatures by unknown keys, before or after the trusted one, even if they are garbage', () => {
    const unknown = `${EM} someone.else/key ${toBase64(new Uint8Array(68).fill(0xab))}\n`;
    const note = signNote(TEXT, [alice]);
    expect(verifyNote(`${note}${unknown}`, [verifierOf(alice)])).toBe(TEXT);
    const [text, sigs] = [note.slice(0, TEXT.length + 1), note.slice(TEXT.length + 1)];
    expect(verifyNote(`${text}${unknown}${sigs}`, [verifierOf(alice)])).toBe(TEXT);
    // A signature by bob is unknown when only alice is trusted.
    expect(verifyNote(signNote(TEXT, [bob, alice]), [verifierOf(alice)])).toBe(TEXT);
  });

  it('refuses to sign a text without a final newline, or with a blank line', () => {
    expect(() => signNote('no newline', [alice])).toThrow(NoteError);
    expect(() => signNote(TEXT.slice(0, -1), [alice])).toThrow(/ends with a newline/);
    expect(() => signNote('a\n\nb\n', [alice])).toThrow(/blank line/);
    expect(() => signNote(`${TEXT}\n`, [alice])).toThrow(/blank line/);
  });

  it('rejects a note whose text lacks the final newline (no blank line before the signatures)', () => {
    const note = signNote(TEXT, [alice]);
    const sigLine = note.slice(TEXT.length + 1);
    expect(() => verifyNote(`${TEXT.slice(0, -1)}\n${sigLine}`, [verifierOf(alice)])).toThrow(NoteError);
    // The whole signed note must end with a newline too.
    expect(() => verifyNote(note.slice(0, -1), [verifierOf(alice)])).toThrow(NoteError);
  });

  it('rejects a note whose text has a blank line', () => {
    const sigLine = signNote(TEXT, [alice]).slice(TEXT.length + 1);
    expect(() => verifyNote(`a\n\nb\n\n${sigLine}`, [verifierOf(alice)])).toThrow(/blank line/);
  });

  it('rejects a signature line without the em dash', () => {
    const note = signNote(TEXT, [alice]);
    for (const dash of ['-', '--', '\u2013', '']) {
      const bad = note.replace(`\n${EM} `, `\n${dash}${dash ? ' ' : ''}`);
      expect(bad).not.toBe(note);
      expect(() => verifyNote(bad, [verifierOf(alice)])).toThrow(/malformed signature line/);
    }
  });

  it('rejects a signature line with extra or missing spaces', () => {
    const note = signNote(TEXT, [alice]);
    expect(() => verifyNote(note.replace(`${EM} `, `${EM}  `), [verifierOf(alice)])).toThrow(NoteError);
    expect(() => verifyNote(note.replace(/\n$/, ' \n'), [verifierOf(alice)])).toThrow(NoteError);
    expect(() => verifyNote(note.replace(`${EM} `, EM), [verifierOf(alice)])).toThrow(NoteError);
  });

  it('rejects a non-base64 signature', () => {
    const note = signNote(TEXT, [alice]);
    const b64 = note.trimEnd().split(' ').at(-1) as string;
    const urlSafe = b64.replace(/\+/g, '-').replace(/\//g, '_');
    const bads = [
      '!!!!',
      b64.replace(/=+$/, ''),
      `${b64}=`,
      b64.slice(1),
      `${b64.slice(0, 10)} ${b64.slice(10)}`,
    ];
    if (urlSafe !== b64) bads.push(urlSafe);
    for (const bad of bads) {
      expect(() => verifyNote(note.replace(b64, bad), [verifierOf(alice)]), bad).toThrow(NoteError);
    }
    expect(() => verifyNote(note.replace(b64, '!!!!'), [verifierOf(alice)])).toThrow(/not base64/);
  });

  it('rejects a signature too short to hold a key hash and a signature', () => {
    const note = editSignature(signNote(TEXT, [alice]), (raw) => raw.slice(0, 4));
    expect(() => verifyNote(note, [verifierOf(alice)])).toThrow(/too short/);
  });

  it('rejects a note without signatures', () => {
    expect(() => verifyNote(TEXT, [verifierOf(alice)])).toThrow(NoteError);
    expect(() => verifyNote(`${TEXT}\n`, [verifierOf(alice)])).toThrow(NoteError);
    expect(() => verifyNote('', [verifierOf(alice)])).toThrow(NoteError);
  });

  it('ignores a signature by a known name with another key hash → no signature by a trusted key', () => {
    expect(impostor.keyHash).not.toBe(alice.keyHash);
    expect(() => verifyNote(signNote(TEXT, [impostor]), [verifierOf(alice)])).toThrow(
      /no signature by a trusted key/,
    );
    // alice's own signature with its key hash changed is no longer alice's.
    const rehashed = editSignature(signNote(TEXT, [alice]), (raw) => {
      const out = raw.slice();
      out[3] = (out[3] as number) ^ 1;
      return out;
    });
    expect(() => verifyNote(rehashed, [verifierOf(alice)])).toThrow(/no signature by a trusted key/);
    // With the impostor's signature beside alice's, alice's still verifies.
    expect(verifyNote(signNote(TEXT, [impostor, alice]), [verifierOf(alice)])).toBe(TEXT);
  });

  it('rejects a bad signature by a known key → invalid signature, even beside a good one', () => {
    for (const byte of [4, 20, 67]) {
      const flipped = editSignature(signNote(TEXT, [alice]), (raw) => {
        const out = raw.slice();
        out[byte] = (out[byte] as number) ^ 0x80;
        return out;
      });
      expect(() => verifyNote(flipped, [verifierOf(alice)])).toThrow(/invalid signature by example.com\/log/);
    }
    const truncated = editSignature(signNote(TEXT, [alice]), (raw) => raw.slice(0, 40));
    expect(() => verifyNote(truncated, [verifierOf(alice)])).toThrow(/invalid signature/);
    // alice's signature copied onto another text.
    const moved = signNote(TEXT, [alice]).replace('\n42\n', '\n43\n');
    expect(() => verifyNote(moved, [verifierOf(alice)])).toThrow(/invalid signature/);
    // A bad alice signature fails even if bob's good one is there and trusted.
    const both = signNote(TEXT, [bob, alice]);
    const badAlice = both.replace(/(\u2014 example\.com\/log )(\S+)/u, (_m, head: string, b64: string) => {
      const raw = fromBase64(b64);
      raw[10] = (raw[10] as number) ^ 1;
      return `${head}${toBase64(raw)}`;
    });
    expect(() => verifyNote(badAlice, [verifierOf(bob), verifierOf(alice)])).toThrow(/invalid signature/);
  });

  it('rejects an empty list of verifiers', () => {
    expect(() => verifyNote(signNote(TEXT, [alice]), [])).toThrow(/no signature by a trusted key/);
  });
});

describe('verifier keys', () => {
  it('formatVerifierKey / parseVerifierKey round-trip, with the C2SP key hash', () => {
    for (const signer of [alice, bob, impostor]) {
      const text = formatVerifierKey(signer.name, signer.publicKey);
      const [, name, hash, key] = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(text) ?? [];
      expect(name).toBe(signer.name);
      expect(hash).toBe(c2spKeyHash(signer.name, signer.publicKey));
      expect(toHex(fromBase64(key as string))).toBe(`01${toHex(signer.publicKey)}`);
      const parsed = parseVerifierKey(text);
      expect(parsed.name).toBe(signer.name);
      expect(parsed.keyHash).toBe(signer.keyHash);
      expect(parsed.keyHash.toString(16).padStart(8, '0')).toBe(c2spKeyHash(signer.name, signer.publicKey));
      expect(toHex(parsed.publicKey)).toBe(toHex(signer.publicKey));
      expect(ed25519KeyHash(signer.name, signer.publicKey)).toBe(signer.keyHash);
    }
  });

  it('the key hash depends on the name as well as the key', () => {
    expect(ed25519KeyHash('a', alice.publicKey)).not.toBe(ed25519KeyHash('b', alice.publicKey));
  });

  it("parses a verifier key whose base64 part contains '+' (transparency-dev/formats test key)", () => {
    const plusKey = 'TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6';
    const parsed = parseVerifierKey(plusKey);
    expect(parsed.name).toBe('TEST');
    expect(parsed.keyHash).toBe(0x7997405c);
    expect(formatVerifierKey(parsed.name, parsed.publicKey)).toBe(plusKey);
  });

  it("round-trips generated keys whose base64 contains '+'", () => {
    let found = 0;
    for (let byte = 0; byte < 64 && found < 3; byte++) {
      const signer = ed25519Signer('log.example', seed(byte));
      const text = formatVerifierKey(signer.name, signer.publicKey);
      if (!text.split('+').slice(2).join('+').includes('+')) continue;
      found++;
      const parsed = parseVerifierKey(text);
      expect(toHex(parsed.publicKey)).toBe(toHex(signer.publicKey));
      expect(verifyNote(signNote('x\n', [signer]), [parsed])).toBe('x\n');
    }
    expect(found).toBe(3);
  });

  it('rejects malformed verifier keys', () => {
    const good = formatVerifierKey(alice.name, alice.publicKey);
    const [name, hash, key] = [alice.name, good.split('+')[1] as string, good.split('+').slice(2).join('+')];
    const bad = [
      '',
      name,
      `${name}+${hash}`,
      `+${hash}+${key}`,
      `${name}+${hash.toUpperCase()}+${key}`,
      `${name}+${hash.slice(1)}+${key}`,
      `${name}+${hash}+${key.slice(0, -1)}`, // not base64
      `${name}+${hash}+${toBase64(alice.publicKey)}`, // no algorithm byte
      `${name}+${hash}+${toBase64(new Uint8Array([0x02, ...alice.publicKey]))}`, // another algorithm
      `other+${hash}+${key}`, // hash does not match the name
      `${name}+${c2spKeyHash(name, bob.publicKey)}+${key}`, // hash does not match the key
      `${name} x+${hash}+${key}`, // space in the name
    ];
    for (const text of bad) expect(() => parseVerifierKey(text), text).toThrow(NoteError);
  });

  it('refuses key names that are empty or contain spaces or "+"', () => {
    for (const name of ['', 'a b', 'a+b', 'a\nb']) {
      expect(() => formatVerifierKey(name, alice.publicKey)).toThrow(NoteError);
      expect(() => ed25519Signer(name, seed(1))).toThrow(NoteError);
    }
    expect(() => formatVerifierKey('ok', new Uint8Array(31))).toThrow(/32 bytes/);
  });
});

describe('checkpoints', () => {
  const root = new Uint8Array(32).map((_, i) => i * 7);
  const base: Checkpoint = { origin: 'example.com/log', size: 1234, rootHash: root, extensions: [] };
  const line3 = toBase64(root);

  it('formatCheckpoint / parseCheckpoint round-trip, with and without extension lines', () => {
    for (const extensions of [[], ['Timestamp: 1700000000'], ['ext one', '— with a dash', 'x']]) {
      const checkpoint = { ...base, extensions };
      const text = formatCheckpoint(checkpoint);
      expect(text).toBe(`${['example.com/log', '1234', line3, ...extensions].join('\n')}\n`);
      const parsed = parseCheckpoint(text);
      expect(parsed.origin).toBe(checkpoint.origin);
      expect(parsed.size).toBe(checkpoint.size);
      expect(toHex(parsed.rootHash)).toBe(toHex(root));
      expect(parsed.extensions).toEqual(extensions);
      // And through a signed note.
      expect(parseCheckpoint(verifyNote(signNote(text, [alice]), [verifierOf(alice)]))).toEqual(parsed);
    }
  });

  it('round-trips sizes 0, 1 and 2^53 − 1', () => {
    for (const size of [0, 1, Number.MAX_SAFE_INTEGER]) {
      expect(parseCheckpoint(formatCheckpoint({ ...base, size })).size).toBe(size);
    }
    expect(parseCheckpoint(`o\n9007199254740991\n${line3}\n`).size).toBe(2 ** 53 - 1);
  });

  const text = (size: string, rootLine = line3, origin = 'example.com/log', rest = '') =>
    `${origin}\n${size}\n${rootLine}\n${rest}`;

  it('rejects a size with leading zeros', () => {
    for (const size of ['01', '00', '0001234'])
      expect(() => parseCheckpoint(text(size)), size).toThrow(/decimal/);
  });

  it('rejects a negative size', () => {
    for (const size of ['-1', '-0']) expect(() => parseCheckpoint(text(size)), size).toThrow(NoteError);
  });

  it('rejects a size at or beyond 2^53 rather than rounding it', () => {
    for (const size of ['9007199254740992', '9007199254740993', '18446744073709551615', '1'.repeat(400)]) {
      expect(() => parseCheckpoint(text(size)), size).toThrow(/2\^53/);
    }
  });

  it('rejects a non-decimal size', () => {
    for (const size of ['', ' 1', '1 ', '+1', '0x10', '1e3', '1.0', '12a', 'NaN', 'Infinity', '١٢', '１２']) {
      expect(() => parseCheckpoint(text(size)), JSON.stringify(size)).toThrow(NoteError);
    }
  });

  it('rejects a root hash that is not 32 bytes, or not base64', () => {
    for (const bytes of [0, 1, 31, 33, 64]) {
      expect(() => parseCheckpoint(text('1', toBase64(new Uint8Array(bytes)))), String(bytes)).toThrow(
        /32 bytes/,
      );
    }
    const urlSafe = line3.replace(/\+/g, '-').replace(/\//g, '_');
    const bads = [line3.slice(0, -1), `${line3} `, ` ${line3}`, '*'.repeat(44), line3.replace('=', '')];
    if (urlSafe !== line3) bads.push(urlSafe);
    for (const rootLine of bads) {
      expect(() => parseCheckpoint(text('1', rootLine)), rootLine).toThrow(NoteError);
    }
  });

  it('rejects an empty origin', () => {
    expect(() => parseCheckpoint(text('1', line3, ''))).toThrow(/empty origin/);
    expect(() => formatCheckpoint({ ...base, origin: '' })).toThrow(NoteError);
    expect(() => formatCheckpoint({ ...base, origin: 'a\nb' })).toThrow(NoteError);
  });

  it('rejects a checkpoint without its final newline, or with fewer than three lines', () => {
    expect(() => parseCheckpoint(text('1').slice(0, -1))).toThrow(/newline/);
    expect(() => parseCheckpoint('')).toThrow(NoteError);
    expect(() => parseCheckpoint('example.com/log\n1\n')).toThrow(NoteError);
  });

  it('rejects an empty extension line', () => {
    expect(() => parseCheckpoint(text('1', line3, 'o', '\n'))).toThrow(/empty extension/);
    expect(() => parseCheckpoint(text('1', line3, 'o', 'a\n\nb\n'))).toThrow(/empty extension/);
    expect(() => parseCheckpoint(text('1', line3, 'o', 'a\n\n'))).toThrow(/empty extension/);
  });

  it('formatCheckpoint refuses a bad size or root', () => {
    for (const size of [-1, 1.5, Number.NaN, 2 ** 53]) {
      expect(() => formatCheckpoint({ ...base, size }), String(size)).toThrow(/tree size/);
    }
    expect(() => formatCheckpoint({ ...base, rootHash: new Uint8Array(31) })).toThrow(/32 bytes/);
  });

  it('formatCheckpoint refuses extension lines that parseCheckpoint would not give back', () => {
    expect(() => formatCheckpoint({ ...base, extensions: [''] })).toThrow(NoteError);
    expect(() => formatCheckpoint({ ...base, extensions: ['a\nb'] })).toThrow(NoteError);
  });
});
