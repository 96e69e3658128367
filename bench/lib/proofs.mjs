/**
 * Benchmark 2: inclusion and consistency proof generation through the real store at two log
 * sizes (100k and 1M records by default), with the node reads each proof costs. The log is
 * built once through the store's transaction API in large transactions; the smaller size is
 * measured on the way to the larger one (the smaller log is a prefix of the larger).
 */
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  rootAt,
  utf8,
  verifyConsistency,
  verifyInclusion,
  verifyProofBundle,
} from '@mandate/core';
import { nodeReader } from '@mandate/engine';
import { canonicalAt, eventAt, prng, timeAt } from './records.mjs';
import { Database, dbBytes, log, median, now, percentile, round, tick } from './util.mjs';

/**
 * Appends records [from, to) through `store.org(orgId).transact`, `batch` appends per
 * transaction (each append also writes its Merkle nodes). Stops early at the deadline.
 */
export async function buildLog({ store, orgId, seed, from, to, batch, deadline }) {
  const start = now();
  let size = from;
  let lastReport = start;
  while (size < to && !deadline.passed()) {
    const n = Math.min(batch, to - size);
    const first = size;
    await store.org(orgId).transact(async (tx) => {
      for (let k = 0; k < n; k++) await tx.appendAudit(eventAt(first + k, seed), timeAt(first + k));
    });
    size += n;
    if (now() - lastReport > 10_000) {
      lastReport = now();
      const rate = (size - from) / ((now() - start) / 1000);
      log(
        `build: ${size.toLocaleString('en-US')} / ${to.toLocaleString('en-US')} records (${Math.round(rate)}/s)`,
      );
    }
  }
  const seconds = (now() - start) / 1000;
  return { from, to: size, seconds, perSecond: (size - from) / seconds, complete: size === to };
}

function summary(samples) {
  return {
    samples: samples.length,
    medianUs: round(median(samples), 1),
    p95Us: round(percentile(samples, 95), 1),
    minUs: round(Math.min(...samples), 1),
  };
}

/** Reads nodes with one cached prepared statement on its own read-only connection (the baseline). */
function rawReader(file, orgId) {
  const db = new Database(file, { readonly: true });
  const select = db.prepare('SELECT hash FROM merkle_nodes WHERE org_id = ? AND level = ? AND idx = ?');
  const read = async (level, index) => {
    const row = select.get(orgId, level, index);
    if (!row) throw new Error(`merkle node ${level}/${index} is missing`);
    return new Uint8Array(row.hash);
  };
  return { read, close: () => db.close() };
}

export async function measureProofs({ store, engine, file, orgId, seed, size, samples, seconds, deadline }) {
  const org = store.org(orgId);
  const actual = await org.auditLogSize();
  if (actual !== size) throw new Error(`the log has ${actual} records, expected ${size}`);

  // The signed checkpoint the proof endpoint answers against (computes the root from stored nodes).
  let t0 = now();
  const checkpoint = await engine.checkpoints.current(orgId);
  const checkpointMs = now() - t0;
  if (checkpoint.size !== size) throw new Error(`checkpoint of size ${checkpoint.size}, expected ${size}`);
  const root = checkpoint.root;
  const verifierKey = engine.checkpoints.verifierKey(orgId);

  let reads = 0;
  const storeRead = nodeReader(org);
  const counted = (level, index) => {
    reads++;
    return storeRead(level, index);
  };
  const raw = rawReader(file, orgId);

  const rnd = prng(seed ^ size);
  const indices = Array.from({ length: samples }, () => Math.floor(rnd() * size));
  const froms = Array.from({ length: samples }, () => 1 + Math.floor(rnd() * Math.max(1, size - 1)));

  const variants = {
    inclusion: async (j) => inclusionProof(counted, indices[j], size),
    inclusionRawStatement: async (j) => inclusionProof(raw.read, indices[j], size),
    consistency: async (j) => consistencyProof(counted, froms[j], size),
    bundle: async (j) => engine.proofs.bundle(orgId, indices[j]),
  };
  const names = Object.keys(variants);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const readCounts = { inclusion: [], consistency: [] };
  const hashes = { inclusion: [], consistency: [] };

  // Warm-up (JIT, statement compilation, page cache): not timed.
  for (let j = 0; j < Math.min(50, samples); j++) for (const name of names) await variants[name](j);
  await tick();

  const end = deadline.within(seconds);
  let measured = 0;
  for (let j = 0; j < samples && !end.passed(); j++) {
    // Rotate the order so no variant always runs first (or right after another).
    for (let v = 0; v < names.length; v++) {
      const name = names[(j + v) % names.length];
      reads = 0;
      t0 = now();
      const result = await variants[name](j);
      const us = (now() - t0) * 1000;
      times[name].push(us);
      if (name === 'inclusion' || name === 'consistency') {
        readCounts[name].push(reads);
        hashes[name].push(result.length);
      }
      // Correctness, outside the timing: every proof verifies against the signed root.
      if (name === 'inclusion' || name === 'inclusionRawStatement') {
        verifyInclusion(indices[j], size, leafHash(utf8(canonicalAt(indices[j], seed, orgId))), result, root);
      } else if (name === 'consistency') {
        verifyConsistency(froms[j], size, result, await rootAt(storeRead, froms[j]), root);
      } else if (j < 20) {
        verifyProofBundle(result, verifierKey);
      }
    }
    measured++;
    if (j % 100 === 99) await tick();
  }
  raw.close();

  const inclusion = summary(times.inclusion);
  const rawStatement = summary(times.inclusionRawStatement);
  const paired = times.inclusion.map((us, j) => us / times.inclusionRawStatement[j]);
  return {
    size,
    log2Size: round(Math.log2(size), 2),
    dbBytes: dbBytes(file),
    checkpointMs: round(checkpointMs, 2),
    samples: measured,
    inclusion: {
      ...inclusion,
      nodeReads: { median: median(readCounts.inclusion), max: Math.max(...readCounts.inclusion) },
      proofHashes: { median: median(hashes.inclusion), max: Math.max(...hashes.inclusion) },
    },
    inclusionRawStatement: rawStatement,
    ratioStoreVsRawStatement: round(median(paired), 3),
    consistency: {
      ...summary(times.consistency),
      nodeReads: { median: median(readCounts.consistency), max: Math.max(...readCounts.consistency) },
      proofHashes: { median: median(hashes.consistency), max: Math.max(...hashes.consistency) },
    },
    bundle: summary(times.bundle),
  };
}
