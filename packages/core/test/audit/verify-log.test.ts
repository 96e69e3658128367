import {
  type AuditRecord,
  type Checkpoint,
  canonicalize,
  ed25519Signer,
  formatCheckpoint,
  formatVerifierKey,
  fromBase64,
  inclusionProof,
  type LogVerdict,
  LogVerifier,
  leafHash,
  NoteError,
  type NoteSigner,
  nodesCompletedBy,
  type ProofBundleInput,
  ProofError,
  rootAt,
  signNote,
  toBase64,
  toHex,
  utf8,
  verifyCheckpoint,
  verifyProofBundle,
} from '@mandate/core';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * Offline verification (issue 3, item 5): checkpoints, proof bundles and whole exported logs,
 * with the first bad sequence number named for each kind of tampering.
 */

const ORIGIN = 'mandate/org_0123456789';
const seed = (byte: number) => new Uint8Array(32).fill(byte);
const logKey = ed25519Signer(ORIGIN, seed(11));
/** Another key with the same name, as an attacker with their own key would use. */
const otherKey = ed25519Signer(ORIGIN, seed(12));
const VERIFIER_KEY = formatVerifierKey(ORIGIN, logKey.publicKey);

function record(seq: number, note = `event ${seq}`): string {
  const value: AuditRecord = {
    seq,
    orgId: 'org_0123456789',
    time: new Date(Date.UTC(2030, 0, 1, 0, 0, seq)).toISOString(),
    type: seq % 3 === 0 ? 'agent.created' : 'agent.updated',
    actor: { kind: 'user', id: `usr_${seq % 7}` },
    target: { type: 'agent', id: `agt_${seq % 11}` },
    refs: { agentId: `agt_${seq % 11}` },
    after: { name: `agent ${seq}`, tags: ['a', 'ü', '"quoted"'], n: seq * 1.5 },
    reason: note,
  };
  return canonicalize(value);
}

/** An in-memory log as the server keeps it: canonical records, leaf hashes, complete subtree nodes. */
class MemoryLog {
  readonly lines: string[] = [];
  readonly leaves: Uint8Array[] = [];
  private readonly nodes = new Map<string, Uint8Array>();

  append(line: string): void {
    const hash = leafHash(utf8(line));
    for (const node of nodesCompletedBy(this.leaves.length, hash, (level, index) => {
      const sibling = this.nodes.get(`${level}/${index}`);
      if (!sibling) throw new Error(`missing ${level}/${index}`);
      return sibling;
    }))
      this.nodes.set(`${node.level}/${node.index}`, node.hash);
    this.lines.push(line);
    this.leaves.push(hash);
  }

  read = async (level: number, index: number): Promise<Uint8Array> => {
    const node = this.nodes.get(`${level}/${index}`);
    if (!node) throw new Error(`missing ${level}/${index}`);
    return node;
  };

  async checkpoint(size: number, signer: NoteSigner = logKey, origin = ORIGIN): Promise<string> {
    const rootHash = await rootAt(this.read, size);
    return signNote(formatCheckpoint({ origin, size, rootHash, extensions: [] }), [signer]);
  }

  async bundle(index: number, size: number): Promise<ProofBundleInput> {
    return {
      index,
      treeSize: size,
      record: this.lines[index] as string,
      leafHash: toBase64(this.leaves[index] as Uint8Array),
      proof: (await inclusionProof(this.read, index, size)).map(toBase64),
      checkpoint: await this.checkpoint(size),
    };
  }
}

const log = new MemoryLog();
for (let seq = 0; seq < 120; seq++) log.append(record(seq));
/** The first 100 records: the part the checkpoints below cover. */
const LINES = log.lines.slice(0, 100);
const SIZES = [10, 50, 100];
let checkpoints: Checkpoint[] = [];

beforeAll(async () => {
  checkpoints = await Promise.all(
    SIZES.map(async (size) => verifyCheckpoint(await log.checkpoint(size), VERIFIER_KEY)),
  );
});

/** Feeds lines to a LogVerifier; `stored` gives the log's own leaf hash per position. */
function verify(lines: string[], options: { stored?: boolean; with?: Checkpoint[] } = {}): LogVerdict {
  const verifier = new LogVerifier(options.with ?? checkpoints);
  lines.forEach((line, i) => {
    verifier.push(line, options.stored ? log.leaves[i] : undefined);
  });
  return verifier.finish();
}
const both = [{ stored: false }, { stored: true }];

/** The same record with one field changed, still canonical and with its own seq. */
const edited = (seq: number) => record(seq, 'edited behind the server’s back');
const replaceAt = (lines: string[], at: number, line: string) => lines.map((l, i) => (i === at ? line : l));
/** The checkpoint range [lo, hi) that holds seq k: its lower bound is the last verified size. */
const rangeOf = (k: number): [number, number] => {
  const hi = SIZES.find((size) => k < size) as number;
  return [[0, ...SIZES][SIZES.indexOf(hi)] as number, hi];
};

function expectBad(verdict: LogVerdict, firstBadSeq: number, reason?: RegExp | string): void {
  expect(verdict.ok).toBe(false);
  if (verdict.ok) return;
  expect(verdict.firstBadSeq).toBe(firstBadSeq);
  if (reason) expect(verdict.reason).toMatch(reason);
}

describe('verifyCheckpoint', () => {
  it('returns the size and root of a checkpoint signed by the key', async () => {
    const checkpoint = verifyCheckpoint(await log.checkpoint(50), VERIFIER_KEY);
    expect(checkpoint.origin).toBe(ORIGIN);
    expect(checkpoint.size).toBe(50);
    expect(toHex(checkpoint.rootHash)).toBe(toHex(await rootAt(log.read, 50)));
    expect(checkpoint.extensions).toEqual([]);
  });

  it("rejects a checkpoint whose origin is not the key's name, even if the key signed it", async () => {
    const note = await log.checkpoint(50, logKey, 'mandate/org_other');
    expect(() => verifyCheckpoint(note, VERIFIER_KEY)).toThrow(NoteError);
    expect(() => verifyCheckpoint(note, VERIFIER_KEY)).toThrow(/origin mandate\/org_other/);
  });

  it('rejects a checkpoint signed by another key with the same name', async () => {
    const note = await log.checkpoint(50, otherKey);
    expect(() => verifyCheckpoint(note, VERIFIER_KEY)).toThrow(/no signature by a trusted key/);
  });

  it('rejects a checkpoint whose text was edited after signing', async () => {
    const note = (await log.checkpoint(50)).replace(`${ORIGIN}\n50\n`, `${ORIGIN}\n49\n`);
    expect(() => verifyCheckpoint(note, VERIFIER_KEY)).toThrow(/invalid signature/);
  });

  it('rejects a malformed verifier key', async () => {
    const note = await log.checkpoint(50);
    expect(() => verifyCheckpoint(note, VERIFIER_KEY.replace(/\+[0-9a-f]{8}\+/, '+00000000+'))).toThrow(
      NoteError,
    );
  });
});

describe('verifyProofBundle', () => {
  let bundle: ProofBundleInput;
  beforeAll(async () => {
    bundle = await log.bundle(37, 100);
  });
  const check =
    (b: ProofBundleInput, key = VERIFIER_KEY) =>
    () =>
      verifyProofBundle(b, key);

  it('accepts a bundle built from the log, for every record and several checkpoint sizes', async () => {
    expect(verifyProofBundle(bundle, VERIFIER_KEY).size).toBe(100);
    for (const size of [1, 10, 37, 64, 100, 120])
      for (let index = 0; index < size; index += 1 + (size >> 3))
        expect(verifyProofBundle(await log.bundle(index, size), VERIFIER_KEY).size).toBe(size);
    // The bundle survives a trip through JSON, as `mandate audit proof` writes it.
    expect(() => verifyProofBundle(JSON.parse(JSON.stringify(bundle)), VERIFIER_KEY)).not.toThrow();
  });

  it('rejects an edited record', () => {
    expect(check({ ...bundle, record: edited(37) })).toThrow(ProofError);
    expect(check({ ...bundle, record: edited(37) })).toThrow(/does not hash to the given leaf/);
    expect(check({ ...bundle, record: `${bundle.record} ` })).toThrow(ProofError);
  });

  it('rejects an edited record whose leaf hash was edited to match', () => {
    const forged = edited(37);
    expect(check({ ...bundle, record: forged, leafHash: toBase64(leafHash(utf8(forged))) })).toThrow(
      /does not match the computed root/,
    );
  });

  it('rejects an edited leaf hash', () => {
    const raw = fromBase64(bundle.leafHash);
    raw[0] = (raw[0] as number) ^ 1;
    expect(check({ ...bundle, leafHash: toBase64(raw) })).toThrow(ProofError);
    expect(check({ ...bundle, leafHash: '' })).toThrow(ProofError);
  });

  it('rejects a changed index (the record says another seq)', () => {
    for (const index of [36, 38, 0, 99]) {
      expect(check({ ...bundle, index }), String(index)).toThrow(/the record says seq 37/);
    }
    expect(check({ ...bundle, index: 100 })).toThrow(ProofError);
    expect(check({ ...bundle, index: -1 })).toThrow(ProofError);
  });

  it('rejects another record moved under the index, with its own leaf hash', () => {
    const moved = {
      ...bundle,
      record: log.lines[36] as string,
      leafHash: toBase64(log.leaves[36] as Uint8Array),
    };
    expect(check(moved)).toThrow(/the record says seq 36/);
  });

  it('rejects a tree size that differs from the checkpoint', () => {
    expect(check({ ...bundle, treeSize: 99 })).toThrow(
      /the proof is for size 99, the checkpoint is of size 100/,
    );
    expect(check({ ...bundle, treeSize: 101 })).toThrow(ProofError);
  });

  it('rejects an edited, missing, extra or non-base64 proof hash', () => {
    for (let at = 0; at < bundle.proof.length; at++) {
      const raw = fromBase64(bundle.proof[at] as string);
      raw[31] = (raw[31] as number) ^ 0x40;
      const proof = bundle.proof.map((p, i) => (i === at ? toBase64(raw) : p));
      expect(check({ ...bundle, proof }), `element ${at}`).toThrow(/does not match the computed root/);
    }
    expect(check({ ...bundle, proof: bundle.proof.slice(1) })).toThrow(/wrong proof size/);
    expect(check({ ...bundle, proof: [...bundle.proof, bundle.proof[0] as string] })).toThrow(
      /wrong proof size/,
    );
    expect(check({ ...bundle, proof: [...bundle.proof.slice(1), 'not base64!'] })).toThrow(/not base64/);
  });

  it('rejects a checkpoint signed by another key', async () => {
    const checkpoint = await log.checkpoint(100, otherKey);
    expect(check({ ...bundle, checkpoint })).toThrow(NoteError);
    expect(check({ ...bundle, checkpoint })).toThrow(/no signature by a trusted key/);
    // Nor does the other key's verifier key accept the log's own checkpoint.
    expect(check(bundle, formatVerifierKey(ORIGIN, otherKey.publicKey))).toThrow(
      /no signature by a trusted key/,
    );
  });

  it('rejects a checkpoint whose text was edited', async () => {
    const root = toBase64(await rootAt(log.read, 100));
    const otherRoot = toBase64(await rootAt(log.read, 99));
    expect(check({ ...bundle, checkpoint: bundle.checkpoint.replace(root, otherRoot) })).toThrow(
      /invalid signature/,
    );
    expect(
      check({ ...bundle, checkpoint: bundle.checkpoint.replace('\n100\n', '\n101\n'), treeSize: 101 }),
    ).toThrow(/invalid signature/);
  });

  it('rejects a bundle for a checkpoint of another size (a valid proof, a valid checkpoint, not for each other)', async () => {
    const older = await log.bundle(37, 50);
    expect(check({ ...bundle, checkpoint: older.checkpoint })).toThrow(ProofError);
    expect(check({ ...bundle, checkpoint: older.checkpoint, treeSize: 50 })).toThrow(ProofError);
  });

  it('rejects a record that is not JSON, even with a matching leaf hash', () => {
    const text = 'not json';
    expect(check({ ...bundle, record: text, leafHash: toBase64(leafHash(utf8(text))) })).toThrow(/not JSON/);
  });
});

describe('LogVerifier', () => {
  it('constructing without checkpoints throws', () => {
    expect(() => new LogVerifier([])).toThrow(ProofError);
  });

  it.each(both)(
    'accepts the good log of 100 records against checkpoints at 10, 50, 100 (%o)',
    ({ stored }) => {
      expect(verify(LINES, { stored })).toEqual({ ok: true, verifiedSize: 100, records: 100, uncovered: 0 });
    },
  );

  it('accepts the good log whatever the order of the checkpoints, or with only the last one', () => {
    expect(verify(LINES, { with: [...checkpoints].reverse() }).ok).toBe(true);
    expect(verify(LINES, { with: [checkpoints[2] as Checkpoint] }).ok).toBe(true);
    expect(
      verify(LINES, {
        with: [checkpoints[1] as Checkpoint, checkpoints[1] as Checkpoint, checkpoints[2] as Checkpoint],
      }).ok,
    ).toBe(true);
  });

  it.each(both)(
    'accepts records beyond the last checkpoint, counting them as uncovered (%o)',
    ({ stored }) => {
      expect(verify(log.lines, { stored })).toEqual({
        ok: true,
        verifiedSize: 100,
        records: 120,
        uncovered: 20,
      });
    },
  );

  it('reports a log whose root differs from a checkpoint of another history', async () => {
    const other = new MemoryLog();
    for (let seq = 0; seq < 50; seq++) other.append(record(seq, 'another history'));
    // A checkpoint of another history, signed by the same key (a fork).
    const forked = verifyCheckpoint(await other.checkpoint(50), VERIFIER_KEY);
    const [at10, , at100] = checkpoints as [Checkpoint, Checkpoint, Checkpoint];
    expectBad(verify(LINES, { with: [at10, forked, at100] }), 10, /root at size 50/);
  });

  describe('an edited record (still canonical, with its own seq)', () => {
    const ks = [0, 9, 10, 37, 49, 50, 73, 99];

    it.each(ks)('record %i, with the stored leaves → exactly that seq', (k) => {
      const verdict = verify(replaceAt(LINES, k, edited(k)), { stored: true });
      expectBad(verdict, k, /does not match the leaf hash the log stored/);
      expect(verdict.records).toBe(k);
    });

    it.each(ks)('record %i, without stored leaves → the lower bound of its checkpoint range', (k) => {
      const [lo, hi] = rangeOf(k);
      expectBad(
        verify(replaceAt(LINES, k, edited(k))),
        lo,
        `the log's root at size ${hi} differs from the signed checkpoint; the first changed record is between seq ${lo} and ${hi - 1}`,
      );
    });

    it('beyond the last checkpoint: caught only through the stored leaves', () => {
      const lines = replaceAt(log.lines, 110, edited(110));
      expectBad(verify(lines, { stored: true }), 110, /leaf hash/);
      // Without them nothing signed covers it: the verdict says so by counting it as uncovered.
      expect(verify(lines)).toEqual({ ok: true, verifiedSize: 100, records: 120, uncovered: 20 });
    });
  });

  describe('a deleted record', () => {
    it.each([0, 9, 10, 42, 98])('record %i → that seq (with and without stored leaves)', (k) => {
      const lines = LINES.filter((_, i) => i !== k);
      for (const options of both)
        expectBad(verify(lines, options), k, `expected the record with seq ${k}, found seq ${k + 1}`);
    });

    it('the last covered record → its seq, as the log ends short of the checkpoint', () => {
      for (const options of both)
        expectBad(
          verify(LINES.slice(0, 99), options),
          99,
          'the log ends at 99 records but a checkpoint covers 100',
        );
    });
  });

  describe('two records swapped', () => {
    it.each([
      [3, 4],
      [9, 10],
      [5, 70],
      [49, 50],
      [0, 99],
    ])('records %i and %i → the first of them', (i, j) => {
      const lines = LINES.map((line, at) => (at === i ? LINES[j] : at === j ? LINES[i] : line) as string);
      for (const options of both)
        expectBad(verify(lines, options), i, `expected the record with seq ${i}, found seq ${j}`);
    });
  });

  describe('a record inserted in the middle with a duplicate seq', () => {
    it.each([0, 10, 42, 99])('a copy of record %i inserted after it → the copy, k + 1', (k) => {
      const lines = [...LINES.slice(0, k + 1), LINES[k] as string, ...LINES.slice(k + 1)];
      for (const options of both)
        expectBad(verify(lines, options), k + 1, `expected the record with seq ${k + 1}, found seq ${k}`);
    });

    it.each([0, 10, 42, 99])('a forged record with seq %i inserted after the original → k + 1', (k) => {
      const lines = [...LINES.slice(0, k + 1), edited(k), ...LINES.slice(k + 1)];
      for (const options of both) expectBad(verify(lines, options), k + 1, `found seq ${k}`);
    });

    it.each([0, 10, 42, 99])('a forged record with seq %i inserted before the original', (k) => {
      const lines = [...LINES.slice(0, k), edited(k), ...LINES.slice(k)];
      // With the stored leaves the forgery itself is named.
      expectBad(verify(lines, { stored: true }), k, /leaf hash/);
      // Without them, a forgery followed by the original reads the same as the original followed
      // by a forged duplicate: the verdict names a seq between the last checkpoint that still
      // matched and the duplicate (today: the duplicate, k + 1).
      const verdict = verify(lines);
      expect(verdict.ok).toBe(false);
      if (verdict.ok) return;
      expect(verdict.firstBadSeq).toBeGreaterThanOrEqual(rangeOf(k)[0]);
      expect(verdict.firstBadSeq).toBeLessThanOrEqual(k + 1);
    });
  });

  describe('a line that is not a canonical record', () => {
    const k = 42;
    const line = LINES[k] as string;
    const variants: Array<[string, string]> = [
      ['an extra space after a colon', line.replace('":', '": ')],
      ['a trailing space', `${line} `],
      ['a leading space', ` ${line}`],
      ['keys out of order', JSON.stringify({ seq: k, ...JSON.parse(line) })],
      ['an escaped character that needs none', line.replace('"ü"', '"\\u00fc"')],
      ['a number not in shortest form', line.replace('"seq":42', '"seq":42.0')],
      ['a carriage return at the end', `${line}\r`],
    ];

    it.each(variants)('%s → that seq', (_what, bad) => {
      expect(bad).not.toBe(line);
      expect(JSON.parse(bad)).toEqual(JSON.parse(line));
      for (const options of both)
        expectBad(verify(replaceAt(LINES, k, bad), options), k, 'the record is not in canonical form');
    });
  });

  describe('a line that is not JSON', () => {
    it.each([
      ['garbage', 'garbage'],
      ['an empty line', ''],
      ['a truncated record', (LINES[42] as string).slice(0, -1)],
      ['two records on one line', `${LINES[42]}${LINES[43]}`],
    ])('%s → that seq', (_what, bad) => {
      for (const options of both)
        expectBad(verify(replaceAt(LINES, 42, bad), options), 42, 'the record is not valid JSON');
    });
  });

  describe('a JSON line that is not a record', () => {
    it.each([['42'], ['"text"'], ['true'], ['[]'], ['{}'], ['{"seq":"42"}']])('%s → that seq', (bad) => {
      for (const options of both)
        expectBad(verify(replaceAt(LINES, 42, bad), options), 42, /expected the record with seq 42/);
    });

    it('the line null → that seq (not a TypeError)', () => {
      for (const options of both) expectBad(verify(replaceAt(LINES, 42, 'null'), options), 42, /seq 42/);
    });
  });

  describe('a log shorter than the checkpoint', () => {
    it.each([0, 5, 10, 73, 99])('%i records → names seq %i', (n) => {
      for (const options of both)
        expectBad(
          verify(LINES.slice(0, n), options),
          n,
          `the log ends at ${n} records but a checkpoint covers 100`,
        );
    });
  });

  it('stops at the first failure: later lines change nothing', () => {
    const lines = replaceAt(replaceAt(LINES, 20, 'garbage'), 5, `${LINES[5]} `);
    const verifier = new LogVerifier(checkpoints);
    for (const line of lines) verifier.push(line);
    expect(verifier.failed).toBe(true);
    expectBad(verifier.finish(), 5, /canonical/);
  });

  it('coveredSize is the size of the largest checkpoint', () => {
    expect(new LogVerifier([...checkpoints].reverse()).coveredSize).toBe(100);
  });
});
