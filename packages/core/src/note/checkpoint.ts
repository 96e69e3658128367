import { fromBase64, toBase64 } from '../bytes.js';
import { NoteError } from './signed-note.js';

/**
 * C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the note text
 * `<origin>\n<tree size>\n<base64 root hash>\n[extension lines]`.
 */
export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  extensions: string[];
}

export function formatCheckpoint(checkpoint: Checkpoint): string {
  if (checkpoint.origin.length === 0 || checkpoint.origin.includes('\n')) throw new NoteError('bad origin');
  if (!Number.isSafeInteger(checkpoint.size) || checkpoint.size < 0) throw new NoteError('bad tree size');
  if (checkpoint.rootHash.length !== 32) throw new NoteError('a root hash is 32 bytes');
  if (checkpoint.extensions.some((line) => line.length === 0 || line.includes('\n'))) {
    throw new NoteError('an extension line is non-empty and has no newline');
  }
  const lines = [
    checkpoint.origin,
    String(checkpoint.size),
    toBase64(checkpoint.rootHash),
    ...checkpoint.extensions,
  ];
  return `${lines.join('\n')}\n`;
}

/** Parses a checkpoint's note text (already verified). Sizes beyond 2^53 are refused, not rounded. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new NoteError('a checkpoint ends with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new NoteError('a checkpoint has an origin, a size and a root hash');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw new NoteError('empty origin');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new NoteError('the tree size is a decimal number');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new NoteError('tree size beyond 2^53 is not supported');
  let rootHash: Uint8Array;
  try {
    rootHash = fromBase64(rootText);
  } catch {
    throw new NoteError('the root hash is not base64');
  }
  if (rootHash.length !== 32) throw new NoteError('a root hash is 32 bytes');
  if (extensions.some((line) => line.length === 0)) throw new NoteError('empty extension line');
  return { origin, size, rootHash, extensions };
}
