/**
 * Benchmark 3: the rate at which @mandate/core's LogVerifier re-hashes a whole exported log
 * against a signed checkpoint (what `mandate audit verify` does per record), against plain
 * node:crypto SHA-256 of the same bytes, in the same run. The records are exported from the
 * store once and held in memory, so the figure is the verifier's, not the disk's.
 */
import { createHash } from 'node:crypto';
import { canonicalize, LogVerifier, leafHash, utf8, verifyCheckpoint } from '@mandate/core';
import { sizeStats } from './records.mjs';
import { log, median, now, round, tick } from './util.mjs';

const LEAF_PREFIX = Buffer.from([0]);

/** Runs `perRecord` over lines[0, limit) and returns records per second (or null past the deadline). */
function timePass(lines, limit, deadline, perRecord) {
  const start = now();
  for (let i = 0; i < limit; i++) {
    perRecord(lines[i]);
    if ((i & 0xffff) === 0xffff && deadline.passed()) return null;
  }
  return limit / ((now() - start) / 1000);
}

export async function runVerification({ store, engine, orgId, size, reps, breakdownRecords, deadline }) {
  const org = store.org(orgId);
  // Export: the same reads the export endpoint makes (batches of canonical records in seq order).
  let t0 = now();
  const lines = [];
  for (let from = 0; from < size && !deadline.passed(); ) {
    const rows = await org.listAuditCanonical(from, Math.min(10_000, size - from));
    if (rows.length === 0) break;
    for (const row of rows) lines.push(row.canonical);
    from = rows[rows.length - 1].seq + 1;
  }
  const exportSeconds = (now() - t0) / 1000;
  if (lines.length !== size) throw new Error(`exported ${lines.length} of ${size} records`);
  log(`verify: exported ${size.toLocaleString('en-US')} records in ${exportSeconds.toFixed(1)} s`);

  const stored = await engine.checkpoints.current(orgId);
  const checkpoint = verifyCheckpoint(stored.note, engine.checkpoints.verifierKey(orgId));
  if (checkpoint.size !== size) throw new Error(`checkpoint of size ${checkpoint.size}, expected ${size}`);

  // Warm-up (JIT), not timed: a throwaway verifier and the baseline over a prefix.
  const warm = Math.min(lines.length, 20_000);
  const warmVerifier = new LogVerifier([checkpoint]);
  for (let i = 0; i < warm; i++) warmVerifier.push(lines[i]);
  let sink = 0;
  for (let i = 0; i < warm; i++) sink ^= createHash('sha256').update(lines[i]).digest()[0];
  await tick();

  const verifierRates = [];
  const sha256Rates = [];
  for (let rep = 0; rep < reps && !deadline.passed(); rep++) {
    t0 = now();
    const verifier = new LogVerifier([checkpoint]);
    let completed = true;
    for (let i = 0; i < lines.length; i++) {
      verifier.push(lines[i]);
      if ((i & 0xffff) === 0xffff && deadline.passed()) {
        completed = false;
        break;
      }
    }
    const verdict = verifier.finish();
    const seconds = (now() - t0) / 1000;
    if (!completed) {
      log('verify: global time budget reached during a verification pass; pass discarded');
      break;
    }
    if (!verdict.ok || verdict.verifiedSize !== size) {
      throw new Error(`the log did not verify: ${JSON.stringify(verdict)}`);
    }
    verifierRates.push(size / seconds);
    await tick();
    // Baseline: one node:crypto SHA-256 per record over the same bytes.
    const rate = timePass(lines, lines.length, deadline, (line) => {
      sink ^= createHash('sha256').update(line).digest()[0];
    });
    if (rate === null) break;
    sha256Rates.push(rate);
    log(
      `verify rep ${rep + 1}/${reps}: LogVerifier ${Math.round(size / seconds)} records/s, ` +
        `node:crypto sha256 ${Math.round(rate)} records/s`,
    );
    await tick();
  }

  // Where a verifier's time goes, per record, on a prefix of the log (median of 3 passes each).
  const limit = Math.min(lines.length, breakdownRecords);
  const parts = {
    jsonParseAndCanonicalize: (line) => {
      sink ^= canonicalize(JSON.parse(line)) === line ? 1 : 0;
    },
    leafHashNoble: (line) => {
      sink ^= leafHash(utf8(line))[0];
    },
    leafHashNodeCrypto: (line) => {
      sink ^= createHash('sha256').update(LEAF_PREFIX).update(line).digest()[0];
    },
  };
  const breakdownUs = {};
  for (const [name, fn] of Object.entries(parts)) {
    const rates = [];
    for (let r = 0; r < 3 && !deadline.passed(); r++) {
      const rate = timePass(lines, limit, deadline, fn);
      if (rate !== null) rates.push(rate);
    }
    breakdownUs[name] = rates.length ? round(1e6 / median(rates), 2) : null;
  }

  const verifierMedian = median(verifierRates);
  const sha256Median = median(sha256Rates);
  const paired = verifierRates.slice(0, sha256Rates.length).map((v, i) => v / sha256Rates[i]);
  return {
    records: sizeStats(lines),
    export: { seconds: round(exportSeconds, 2), perSecond: round(size / exportSeconds, 0) },
    repetitions: verifierRates.length,
    logVerifier: {
      medianPerSecond: round(verifierMedian, 0),
      medianUsPerRecord: round(1e6 / verifierMedian, 2),
      runs: verifierRates.map((r) => round(r, 0)),
    },
    nodeCryptoSha256: {
      medianPerSecond: round(sha256Median, 0),
      medianUsPerRecord: round(1e6 / sha256Median, 2),
      runs: sha256Rates.map((r) => round(r, 0)),
    },
    ratioVerifierVsSha256: round(median(paired), 4),
    breakdown: { records: limit, usPerRecord: breakdownUs },
    heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    sink: sink & 1,
  };
}
