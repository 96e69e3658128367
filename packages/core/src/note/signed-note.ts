import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, equalBytes, fromBase64, fromUtf8, toBase64, toHex, utf8 } from '../bytes.js';

/**
 * C2SP signed-note (https://c2sp.org/signed-note) with Ed25519 keys: a UTF-8 text ending in a
 * newline, a blank line, then one line per signature, `— <key name> <base64(key hash ‖ sig)>`.
 * Written by hand: no maintained JavaScript package implements the format.
 */
export class NoteError extends Error {
  override readonly name = 'NoteError';
}

const ALG_ED25519 = 0x01;
const EM_DASH = '\u2014';
const MAX_NOTE_BYTES = 1 << 20;

export interface NoteVerifier {
  name: string;
  /** The 4-byte key id, as a number. */
  keyHash: number;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSigner {
  name: string;
  keyHash: number;
  sign(message: Uint8Array): Uint8Array;
}

export interface NoteSignature {
  name: string;
  keyHash: number;
  signature: Uint8Array;
}

function assertKeyName(name: string): void {
  if (name.length === 0 || /[\s+]/u.test(name))
    throw new NoteError('a key name is non-empty, without spaces or "+"');
}

/** key hash = first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key), big-endian. */
export function ed25519KeyHash(name: string, publicKey: Uint8Array): number {
  const digest = sha256(concatBytes(utf8(name), utf8('\n'), new Uint8Array([ALG_ED25519]), publicKey));
  return new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0);
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/** The verifier key string: `<name>+<hex key hash>+<base64(0x01 ‖ public key)>`. */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  assertKeyName(name);
  if (publicKey.length !== 32) throw new NoteError('an Ed25519 public key is 32 bytes');
  return `${name}+${hex8(ed25519KeyHash(name, publicKey))}+${toBase64(concatBytes(new Uint8Array([ALG_ED25519]), publicKey))}`;
}

/** Parses a verifier key string; checks its hash matches its key. */
export function parseVerifierKey(text: string): NoteVerifier & { publicKey: Uint8Array } {
  // The base64 key may itself contain '+': split at the first two only.
  const match = /^([^+]+)\+([^+]+)\+(.+)$/s.exec(text.trim());
  if (!match) throw new NoteError('a verifier key is <name>+<hash>+<key>');
  const [, name, hash, key] = match as unknown as [string, string, string, string];
  assertKeyName(name);
  if (!/^[0-9a-f]{8}$/.test(hash)) throw new NoteError('the key hash is 8 lowercase hex digits');
  let raw: Uint8Array;
  try {
    raw = fromBase64(key);
  } catch {
    throw new NoteError('the key is not base64');
  }
  if (raw.length !== 33 || raw[0] !== ALG_ED25519)
    throw new NoteError('only Ed25519 verifier keys are supported');
  const publicKey = raw.slice(1);
  const keyHash = ed25519KeyHash(name, publicKey);
  if (hex8(keyHash) !== hash) throw new NoteError('the key hash does not match the key');
  return {
    name,
    keyHash,
    publicKey,
    verify: (message, signature) => {
      try {
        return signature.length === 64 && ed25519.verify(signature, message, publicKey);
      } catch {
        return false;
      }
    },
  };
}

/** A signer from a 32-byte Ed25519 seed (pure JS; servers may supply a faster one). */
export function ed25519Signer(name: string, seed: Uint8Array): NoteSigner & { publicKey: Uint8Array } {
  assertKeyName(name);
  const publicKey = ed25519.getPublicKey(seed);
  return { name, keyHash: ed25519KeyHash(name, publicKey), publicKey, sign: (m) => ed25519.sign(m, seed) };
}

/** Signs a note text (which must end in a newline) and returns the whole signed note. */
export function signNote(text: string, signers: NoteSigner[]): string {
  assertNoteText(text);
  const message = utf8(text);
  const lines = signers.map((signer) => {
    const id = new Uint8Array(4);
    new DataView(id.buffer).setUint32(0, signer.keyHash);
    return `${EM_DASH} ${signer.name} ${toBase64(concatBytes(id, signer.sign(message)))}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

function assertNoteText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('a note text ends with a newline');
  if (text.includes('\n\n')) throw new NoteError('a note text has no blank line');
}

export interface ParsedNote {
  text: string;
  signatures: NoteSignature[];
}

/** Splits a signed note into its text and signature lines, strictly. */
export function parseNote(note: string): ParsedNote {
  if (utf8(note).length > MAX_NOTE_BYTES) throw new NoteError('note too large');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new NoteError('malformed note: no signature block');
  const text = note.slice(0, split + 1);
  assertNoteText(text);
  const signatures: NoteSignature[] = [];
  for (const line of note.slice(split + 2, -1).split('\n')) {
    const match = /^\u2014 (\S+) (\S+)$/u.exec(line);
    if (!match) throw new NoteError('malformed signature line');
    let raw: Uint8Array;
    try {
      raw = fromBase64(match[2] as string);
    } catch {
      throw new NoteError('malformed signature: not base64');
    }
    if (raw.length < 5) throw new NoteError('malformed signature: too short');
    signatures.push({
      name: match[1] as string,
      keyHash: new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0),
      signature: raw.slice(4),
    });
  }
  if (signatures.length === 0) throw new NoteError('the note has no signature');
  return { text, signatures };
}

/**
 * Returns the note text if at least one signature is by a given verifier and valid. Signatures
 * by unknown keys are ignored (as the spec requires); a bad signature by a known key fails.
 */
export function verifyNote(note: string, verifiers: NoteVerifier[]): string {
  const { text, signatures } = parseNote(note);
  const message = utf8(text);
  let verified = false;
  for (const signature of signatures) {
    const verifier = verifiers.find((v) => v.name === signature.name && v.keyHash === signature.keyHash);
    if (!verifier) continue;
    if (!verifier.verify(message, signature.signature))
      throw new NoteError(`invalid signature by ${verifier.name}`);
    verified = true;
  }
  if (!verified) throw new NoteError('no signature by a trusted key');
  return text;
}
