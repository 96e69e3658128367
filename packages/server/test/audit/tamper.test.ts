/**
 * Tamper tests on a real SQLite file, checked with the built CLI (`mandate audit verify`) the way
 * an auditor would: a real server makes a log through its API; then, on a copy of its data
 * dir each time, a separate SQLite connection rewrites the log behind the running server's back
 * (append-only triggers dropped first) and `mandate audit verify --verifier-key <key pinned
 * before>` must fail with one line naming the first bad sequence number.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type Checkpoint,
  ed25519Signer,
  equalBytes,
  formatCheckpoint,
  formatVerifierKey,
  fromBase64,
  leafHash,
  MerkleFrontier,
  signNote,
  utf8,
  verifyCheckpoint,
  verifyProofBundle,
} from '@mandate/core';
import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundaries, publicJwk } from '../harness.js';
import {
  type AuditRow,
  type CliResult,
  copyDataDir,
  editRecord,
  ensureBuilt,
  expectCliOk,
  expectCliOneLineError,
  expectVerifyFailure,
  http,
  httpOk,
  mandate,
  ndjsonLines,
  openForTampering,
  readAuditRows,
  rebuildMerkleNodes,
  rewriteAuditRows,
  type Server,
  startServer,
} from './helpers.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-tamper-'));
const tmp = (name: string) => path.join(tmpRoot, name);
const PRISTINE = tmp('pristine');
/** No interval signing: the checkpoints are exactly the one at start and the ones we ask for. */
const SERVER_ENV = { MANDATE_CHECKPOINT_INTERVAL_MS: '3600000' };
/** The record every case tampers with. */
const K = 20;

let adminKey: string;
let orgId: string;
/** Pinned before any tampering, as an auditor would keep it. */
let verifierKey: string;
let logSize: number;
let checkpointSizes: number[];
let latestNote: string;
let pristineLines: string[];
/** Same name as ours, another seed: what a forger who cannot read our key would sign with. */
const forger = () => ed25519Signer(`mandate/${orgId}`, new Uint8Array(32).fill(0x42));

beforeAll(async () => {
  await ensureBuilt();
  const server = await startServer(PRISTINE, SERVER_ENV);
  try {
    adminKey = server.adminKey as string;
    expect(adminKey, server.output()).toMatch(/^mk_key_/);
    orgId = /Created the default org (org_\w+)/.exec(server.output())?.[1] as string;
    const call = (method: string, url: string, body?: unknown) =>
      httpOk(server.url, method, url, adminKey, body);

    // ~30 changes of several kinds, with a checkpoint asked for in the middle and at the end.
    const users: string[] = [];
    for (let i = 0; i < 14; i++)
      users.push((await call('POST', '/v1/users', { displayName: `user ${i}` })).body.id);
    await call('POST', '/v1/audit/checkpoint');
    const agent = (
      await call('POST', '/v1/agents', {
        name: 'mailer',
        ownerId: users[0],
        boundaries,
        keys: [await publicJwk()],
      })
    ).body;
    await call('POST', `/v1/agents/${agent.id}/activate`, {});
    await call('POST', `/v1/agents/${agent.id}/suspend`, { reason: 'odd mail' });
    await call('POST', `/v1/agents/${agent.id}/resume`, {});
    await call('POST', '/v1/api-keys', { name: 'ci', roles: ['auditor'] });
    for (let i = 0; i < 6; i++) await call('PATCH', `/v1/users/${users[i]}`, { displayName: `renamed ${i}` });
    for (let i = 0; i < 6; i++) await call('POST', '/v1/users', { displayName: `late user ${i}` });
    await call('POST', '/v1/audit/checkpoint');

    verifierKey = (await call('GET', '/v1/audit/verifier-key')).text.trimEnd();
    const checkpoints = (await call('GET', '/v1/audit/checkpoints?limit=200')).body.items;
    checkpointSizes = checkpoints.map((c: { size: number }) => c.size);
    pristineLines = ndjsonLines((await call('GET', '/v1/audit/export')).text);
    logSize = pristineLines.length;
    latestNote = (await call('GET', '/v1/audit/checkpoint')).text;
    expect(logSize).toBeGreaterThanOrEqual(K + 8);
    expect(checkpointSizes.at(-1)).toBe(logSize);
    expect(checkpointSizes.some((size) => size > 0 && size <= K)).toBe(true);
  } finally {
    await server.stop();
  }
}, 180_000);

afterAll(() => {
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

/** A server on a fresh copy of the pristine data dir. */
async function copyOfLog(
  name: string,
): Promise<{ server: Server; env: Record<string, string>; dbFile: string }> {
  copyDataDir(PRISTINE, tmp(name));
  const server = await startServer(tmp(name), SERVER_ENV);
  return {
    server,
    env: { MANDATE_URL: server.url, MANDATE_KEY: adminKey },
    dbFile: path.join(tmp(name), 'mandate.db'),
  };
}

/**
 * The copy serves exactly the log that `mandate audit verify` accepted in 'the untampered log'
 * (same bytes, same latest checkpoint), so verifying it again before each tampering would only
 * cost another process.
 */
async function expectPristine(server: Server): Promise<void> {
  const note = (await httpOk(server.url, 'GET', '/v1/audit/checkpoint', adminKey)).text;
  expect(note).toBe(latestNote);
  const lines = ndjsonLines((await httpOk(server.url, 'GET', '/v1/audit/export', adminKey)).text);
  expect(lines).toEqual(pristineLines);
}

const verify = (env: Record<string, string>, key = verifierKey): Promise<CliResult> =>
  mandate(['audit', 'verify', '--verifier-key', key], { env });

function tamper(dbFile: string, work: (db: Database.Database, rows: AuditRow[]) => void): void {
  const db = openForTampering(dbFile);
  try {
    work(db, readAuditRows(db, orgId));
  } finally {
    db.close();
  }
}

/** Record k says something else; still canonical JSON with the right seq. */
const changeRecord = (rows: AuditRow[], k: number) => {
  const row = rows[k] as AuditRow;
  row.record = editRecord(row.record, { reason: 'nothing to see here', time: '2001-01-01T00:00:00.000Z' });
  row.time = '2001-01-01T00:00:00.000Z';
};

describe('the untampered log', { timeout: 60_000 }, () => {
  let server: Server;
  let env: Record<string, string>;
  beforeAll(async () => {
    ({ server, env } = await copyOfLog('clean'));
  }, 30_000);
  afterAll(async () => server?.stop(), 15_000);

  it('mandate audit verify --verifier-key <pinned key> exits 0', async () => {
    const result = await verify(env);
    expect(expectCliOk(result)).toBe(`OK: ${logSize} records verified against the signed checkpoint\n`);
  });

  it('a verifier key of the same name but another seed is refused, in one line', async () => {
    const otherKey = formatVerifierKey(`mandate/${orgId}`, forger().publicKey);
    expect(otherKey).not.toBe(verifierKey);
    expect(otherKey.split('+')[0]).toBe(verifierKey.split('+')[0]);
    const line = expectCliOneLineError(await verify(env, otherKey));
    expect(line).toMatch(/^mandate: verification failed: /);
  });

  it('verify-proof: a bundle verifies with the pinned key, and not with another key', async () => {
    const bundleFile = tmp('proof-5.json');
    const written = expectCliOk(await mandate(['audit', 'proof', '5', '--out', bundleFile], { env }));
    expect(written).toMatch(/^Proof of event 5 in the log of size \d+ written to /);
    // Offline: no server environment at all.
    const ok = expectCliOk(await mandate(['audit', 'verify-proof', bundleFile, '--key', verifierKey]));
    expect(ok).toMatch(/^OK: event 5 is in mandate\/\S+ at size \d+, signed by the given key\n$/);
    const otherKey = formatVerifierKey(`mandate/${orgId}`, forger().publicKey);
    const line = expectCliOneLineError(
      await mandate(['audit', 'verify-proof', bundleFile, '--key', otherKey]),
    );
    expect(line).toMatch(/^mandate: verification failed: /);
  });

  it('offline: export + checkpoint verify with the key; one edited line fails naming a seq', async () => {
    const exportFile = tmp('log.jsonl');
    const checkpointFile = tmp('cp.txt');
    const exported = await mandate(['audit', 'export', '--out', exportFile], { env });
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toBe(`${logSize} records written to ${exportFile}\n`);
    const checkpoint = expectCliOk(await mandate(['audit', 'checkpoint'], { env }));
    fs.writeFileSync(checkpointFile, checkpoint);
    expect(verifyCheckpoint(checkpoint, verifierKey).size).toBe(logSize);

    const offline = (file: string, key = verifierKey) =>
      mandate(['audit', 'verify', '--file', file, '--checkpoint', checkpointFile, '--key', key]);
    expect(expectCliOk(await offline(exportFile))).toBe(
      `OK: ${logSize} records verified against the signed checkpoint\n`,
    );

    const lines = ndjsonLines(fs.readFileSync(exportFile, 'utf8'));
    /** The export with line `k` replaced by `text`. */
    const edited = (k: number, text: string) => {
      const copy = [...lines];
      copy[k] = text;
      const file = tmp(`edited-${Math.random().toString(36).slice(2)}.jsonl`);
      fs.writeFileSync(file, `${copy.join('\n')}\n`);
      return file;
    };
    // A clean edit (canonical, right seq): only the signed root can tell; the line names a seq ≤ K.
    const clean = expectVerifyFailure(
      await offline(edited(K, editRecord(lines[K] as string, { reason: 'edited' }))),
    );
    expect(clean.seq).toBeLessThanOrEqual(K);
    expect(clean.line).toMatch(/differs from the signed checkpoint/);
    // A clumsy edit (not canonical any more) is pinned exactly.
    const clumsy = expectVerifyFailure(await offline(edited(K, (lines[K] as string).replace('{', '{ '))));
    expect(clumsy.seq).toBe(K);
    // The untouched file with another key: refused, one line.
    const otherKey = formatVerifierKey(`mandate/${orgId}`, forger().publicKey);
    expect(expectCliOneLineError(await offline(exportFile, otherKey))).toMatch(
      /^mandate: verification failed: /,
    );
  });
});

interface TamperCase {
  name: string;
  work: (db: Database.Database, rows: AuditRow[]) => void;
  /** The seq the one line must name. */
  firstBad: () => number;
  /** What the line must say, when it matters. */
  says?: RegExp;
}

/** The size of the last checkpoint at or below `seq`: the most a signed root can pin down. */
const lastCheckpointUpTo = (seq: number) => Math.max(...checkpointSizes.filter((size) => size <= seq));

const CASES: TamperCase[] = [
  {
    name: '(a) one record changed at seq K',
    work: (db, rows) => {
      changeRecord(rows, K);
      rewriteAuditRows(db, orgId, rows);
    },
    firstBad: () => K,
  },
  {
    name: '(b) record K deleted, the later ones renumbered (column and record) so the table stays gapless',
    work: (db, rows) => {
      rows.splice(K, 1);
      rewriteAuditRows(db, orgId, rows);
    },
    firstBad: () => K,
  },
  {
    name: '(b) the last record deleted (log size lowered too)',
    work: (db, rows) => {
      rows.pop();
      rewriteAuditRows(db, orgId, rows);
    },
    firstBad: () => logSize - 1,
  },
  {
    name: '(c) records K and K+3 swap their seq (reordered; each keeps its own text)',
    work: (db, rows) => {
      [rows[K], rows[K + 3]] = [rows[K + 3] as AuditRow, rows[K] as AuditRow];
      rewriteAuditRows(db, orgId, rows, { renumberRecords: false });
    },
    firstBad: () => K,
  },
  {
    name: '(c) records K and K+3 swapped, their texts renumbered to fit',
    work: (db, rows) => {
      [rows[K], rows[K + 3]] = [rows[K + 3] as AuditRow, rows[K] as AuditRow];
      rewriteAuditRows(db, orgId, rows);
    },
    firstBad: () => K,
  },
  {
    name: '(d) a forged record inserted at K, the later ones shifted up',
    work: (db, rows) => {
      const forged = { ...(rows[K] as AuditRow) };
      forged.record = editRecord(forged.record, { reason: 'forged', type: 'user.created' });
      rows.splice(K, 0, forged);
      rewriteAuditRows(db, orgId, rows);
    },
    firstBad: () => K,
  },
  {
    name: '(e) record K changed and its stored leaf hash (merkle_nodes level 0) replaced to agree',
    work: (db, rows) => {
      changeRecord(rows, K);
      rewriteAuditRows(db, orgId, rows);
      const leaf = Buffer.from(leafHash(utf8((rows[K] as AuditRow).record)));
      db.prepare('UPDATE merkle_nodes SET hash = ? WHERE org_id = ? AND level = 0 AND idx = ?').run(
        leaf,
        orgId,
        K,
      );
    },
    // Only the signed root can tell now: the line names the last checkpoint that still matched.
    firstBad: () => lastCheckpointUpTo(K),
    says: /root at size \d+ differs from the signed checkpoint/,
  },
];

describe('tampering behind the server’s back', { timeout: 60_000 }, () => {
  it.each(CASES)('$name → verify fails naming the first bad seq', async ({ work, firstBad, says }) => {
    const { server, env, dbFile } = await copyOfLog(`case-${Math.random().toString(36).slice(2)}`);
    try {
      await expectPristine(server);
      tamper(dbFile, work);
      const failure = expectVerifyFailure(await verify(env));
      expect(failure.seq, failure.line).toBe(firstBad());
      if (says) expect(failure.line).toMatch(says);
    } finally {
      await server.stop();
    }
  });

  it('(e+) record K changed and every Merkle node rebuilt to agree (leaves and interior): the signed root tells, at a seq ≤ K', async () => {
    const { server, env, dbFile } = await copyOfLog('e');
    try {
      await expectPristine(server);
      let stored = '';
      tamper(dbFile, (db, rows) => {
        changeRecord(rows, K);
        stored = (rows[K] as AuditRow).record;
        rewriteAuditRows(db, orgId, rows);
        rebuildMerkleNodes(db, orgId);
      });
      // The stored leaves now agree with the records…
      const leaves = (await httpOk(server.url, 'GET', `/v1/audit/leaves?from=${K}&limit=1`, adminKey)).body
        .items;
      const record = (await httpOk(server.url, 'GET', `/v1/audit/events/${K}`, adminKey)).body;
      expect(record.reason).toBe('nothing to see here');
      expect(equalBytes(fromBase64(leaves[0]), leafHash(utf8(stored)))).toBe(true);

      const failure = expectVerifyFailure(await verify(env));
      expect(failure.line).toMatch(/root at size \d+ differs from the signed checkpoint/);
      expect(failure.seq).toBeLessThanOrEqual(K);
      // …and it is the last checkpoint that still matched: the best a root can say.
      expect(failure.seq).toBe(lastCheckpointUpTo(K));

      // The server's own proof of K leads to the forged root, which the signed checkpoint refutes.
      const bundle = (await httpOk(server.url, 'GET', `/v1/audit/events/${K}/proof`, adminKey)).body;
      expect(() => verifyProofBundle(bundle, verifierKey)).toThrow();
    } finally {
      await server.stop();
    }
  });

  it('(f) as (e+), and every stored checkpoint re-signed over the forged roots by another key: refused', async () => {
    const { server, env, dbFile } = await copyOfLog('f');
    try {
      await expectPristine(server);
      tamper(dbFile, (db, rows) => {
        changeRecord(rows, K);
        rewriteAuditRows(db, orgId, rows);
        rebuildMerkleNodes(db, orgId);
        const frontier = new MerkleFrontier();
        const roots = new Map<number, Uint8Array>();
        for (const row of readAuditRows(db, orgId)) {
          frontier.append(leafHash(utf8(row.record)));
          roots.set(frontier.size, frontier.root());
        }
        const update = db.prepare('UPDATE checkpoints SET root = ?, note = ? WHERE org_id = ? AND size = ?');
        for (const size of checkpointSizes) {
          const root = roots.get(size) as Uint8Array;
          const text = formatCheckpoint({ origin: `mandate/${orgId}`, size, rootHash: root, extensions: [] });
          update.run(Buffer.from(root), signNote(text, [forger()]), orgId, size);
        }
      });
      const line = expectCliOneLineError(await verify(env));
      expect(line).toMatch(/^mandate: verification failed: /);
    } finally {
      await server.stop();
    }
  });
});

describe('tampering that also deletes the stored checkpoints', { timeout: 60_000 }, () => {
  let before: string;
  let after: { status: number; text: string };
  let result: CliResult;

  it('(g) record K changed, Merkle nodes rebuilt, checkpoints deleted: the setup', async () => {
    const { server, env, dbFile } = await copyOfLog('g');
    try {
      before = (await httpOk(server.url, 'GET', '/v1/audit/checkpoint', adminKey)).text;
      tamper(dbFile, (db, rows) => {
        changeRecord(rows, K);
        rewriteAuditRows(db, orgId, rows);
        rebuildMerkleNodes(db, orgId);
        db.prepare('DELETE FROM checkpoints WHERE org_id = ?').run(orgId);
      });
      after = await http(server.url, 'GET', '/v1/audit/checkpoint', adminKey);
      result = await verify(env);
    } finally {
      await server.stop();
    }
    expect(verifyCheckpoint(before, verifierKey).size).toBe(logSize);
  });

  // The signer keeps the last head it signed outside the database, so deleting the
  // checkpoints of a rewritten log does not get the rewrite signed.
  it('(g) the server does not sign a second root for a size it signed before; verify fails', () => {
    const old = verifyCheckpoint(before, verifierKey);
    if (after.status === 200) {
      let signed: Checkpoint | undefined;
      try {
        signed = verifyCheckpoint(after.text, verifierKey);
      } catch {
        signed = undefined;
      }
      if (signed && signed.size === old.size) {
        expect(equalBytes(signed.rootHash, old.rootHash), 'a second root signed for one size').toBe(true);
      }
    }
    expect(result.code, result.stdout).not.toBe(0);
    expect(after.status).toBe(503);
    expect(after.text).toContain('refusing to sign');
  });
});
