/**
 * Benchmark 1: durable audit appends through the real SqliteStore with group commit, against
 * plain better-sqlite3 inserts of the same canonical bytes (one transaction per insert, and one
 * transaction per batch of the same size as the group), all measured in the same run. A third
 * baseline inserts the same rows into the store's own schema (its audit_events table and
 * indexes, created by the store's migrations) without Merkle nodes, in the same batches: the
 * gap between it and the plain table is the schema's indexes; the gap between the store and it
 * is what appendAudit adds (Merkle nodes, hashing, canonical JSON, statement preparation, the
 * write queue).
 */
import { SqliteStore, systemClock } from '@mandate/engine';
import { prepareRecords, sizeStats } from './records.mjs';
import { Database, log, median, now, percentile, removeDb, round, tick } from './util.mjs';

const ORG_DOC = (orgId) => {
  const at = '2025-01-01T00:00:00.000Z';
  return { id: orgId, name: 'bench', status: 'active', createdAt: at, updatedAt: at, version: 1 };
};

/** The store's migrations, from the built engine (not a public export; absent → baseline skipped). */
let migrate;
try {
  ({ migrate } = await import('../../packages/engine/dist/store/sqlite/migrations.js'));
} catch {
  migrate = undefined;
}

export async function openStore(file, orgId) {
  const store = new SqliteStore({ file, clock: systemClock });
  await store.org(orgId).transact((tx) => tx.insertOrg(ORG_DOC(orgId)));
  return store;
}

/** The store's own count of COMMITs (and WAL flushes), to report the group size reached. */
function countCommits(store) {
  return () => store.stats?.commits ?? null;
}

async function storeRun({ file, orgId, records, concurrency, count, seconds }) {
  removeDb(file);
  const store = await openStore(file, orgId);
  const commits = countCommits(store);
  const commitsBefore = commits() ?? 0;
  const latencies = [];
  let next = 0;
  let done = 0;
  const start = now();
  const end = start + seconds * 1000;
  const caller = async () => {
    while (next < count && now() < end) {
      const i = next++;
      const t0 = now();
      await store.org(orgId).transact((tx) => tx.appendAudit(records.events[i], records.times[i]));
      latencies.push(now() - t0);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  const elapsed = (now() - start) / 1000;
  const committed = commits() === null ? null : commits() - commitsBefore;
  // The store must have written exactly the bytes the baselines insert.
  const org = store.org(orgId);
  const size = await org.auditLogSize();
  if (size !== done) throw new Error(`store has ${size} records, ${done} appends were acknowledged`);
  for (let from = 0; from < done; ) {
    const rows = await org.listAuditCanonical(from, 5000);
    for (const row of rows) {
      if (row.canonical !== records.canonical[row.seq])
        throw new Error(`record ${row.seq}: the store wrote other bytes than the baseline inserts`);
    }
    from += rows.length;
    if (rows.length === 0) break;
  }
  await store.close();
  removeDb(file);
  return {
    appends: done,
    seconds: round(elapsed, 3),
    perSecond: round(done / elapsed, 1),
    commits: committed,
    meanGroup: committed ? round(done / committed, 2) : null,
    latencyMs: { p50: round(percentile(latencies, 50), 3), p95: round(percentile(latencies, 95), 3) },
  };
}

function openPlain(file) {
  removeDb(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE plain (seq INTEGER PRIMARY KEY, record TEXT NOT NULL)');
  return db;
}

/** Plain inserts of records [0, count) in transactions of `batch` rows, each COMMIT durable. */
function plainRun({ file, records, batch, count, seconds }) {
  const db = openPlain(file);
  const insert = db.prepare('INSERT INTO plain (seq, record) VALUES (?, ?)');
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  let done = 0;
  const start = now();
  const end = start + seconds * 1000;
  while (done < count && now() < end) {
    const upTo = Math.min(count, done + batch);
    begin.run();
    for (let i = done; i < upTo; i++) insert.run(i, records.canonical[i]);
    commit.run();
    done = upTo;
  }
  const elapsed = (now() - start) / 1000;
  db.close();
  removeDb(file);
  return { inserts: done, seconds: round(elapsed, 3), perSecond: round(done / elapsed, 1), batch };
}

/**
 * The same rows the store writes, into the store's schema (audit_events and its indexes) with
 * one cached statement, `batch` rows per durable transaction, no Merkle nodes.
 */
function schemaRun({ file, records, orgId, batch, count, seconds }) {
  if (!migrate) return null;
  removeDb(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  migrate(db, () => new Date());
  const org = ORG_DOC(orgId);
  db.prepare('INSERT INTO orgs (id, version, doc) VALUES (?, ?, ?)').run(orgId, 1, JSON.stringify(org));
  const insert = db.prepare(
    `INSERT INTO audit_events (org_id, seq, time, type, agent_id, user_id, delegation_id, decision_id, record,
       target_type, target_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const rows = records.events
    .slice(0, count)
    .map((event, i) => [
      orgId,
      i,
      records.times[i],
      event.type,
      event.refs?.agentId ?? null,
      event.refs?.userId ?? null,
      event.refs?.delegationId ?? null,
      event.refs?.decisionId ?? null,
      records.canonical[i],
      event.target.type,
      event.target.id,
    ]);
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  let done = 0;
  const start = now();
  const end = start + seconds * 1000;
  while (done < count && now() < end) {
    const upTo = Math.min(count, done + batch);
    begin.run();
    for (let i = done; i < upTo; i++) insert.run(...rows[i]);
    commit.run();
    done = upTo;
  }
  const elapsed = (now() - start) / 1000;
  db.close();
  removeDb(file);
  return { inserts: done, seconds: round(elapsed, 3), perSecond: round(done / elapsed, 1), batch };
}

export async function runAppends({ dir, orgId, seed, concurrencies, count, seconds, reps, deadline }) {
  const records = prepareRecords(count, seed, orgId);
  const perInsert = [];
  const rows = new Map(concurrencies.map((c) => [c, { store: [], batched: [], schema: [] }]));
  let completedReps = 0;
  for (let rep = 0; rep < reps; rep++) {
    if (deadline.passed()) {
      log(`appends: global time budget reached after ${rep} repetitions`);
      break;
    }
    for (const concurrency of concurrencies) {
      const s = await storeRun({ file: `${dir}/appends.db`, orgId, records, concurrency, count, seconds });
      await tick();
      // Same number of records, same batching as the group commit would ideally reach.
      const b = plainRun({
        file: `${dir}/plain.db`,
        records,
        batch: concurrency,
        count: s.appends,
        seconds,
      });
      await tick();
      const sc = schemaRun({
        file: `${dir}/schema.db`,
        records,
        orgId,
        batch: concurrency,
        count: s.appends,
        seconds,
      });
      rows.get(concurrency).store.push(s);
      rows.get(concurrency).batched.push(b);
      if (sc) rows.get(concurrency).schema.push(sc);
      log(
        `appends rep ${rep + 1}/${reps} C=${concurrency}: store ${s.perSecond}/s (group ${s.meanGroup}), ` +
          `plain batch ${concurrency}: ${b.perSecond}/s, store schema batch ${concurrency}: ${sc?.perSecond ?? 'n/a'}/s`,
      );
      await tick();
    }
    const p = plainRun({ file: `${dir}/plain.db`, records, batch: 1, count, seconds });
    perInsert.push(p);
    log(`appends rep ${rep + 1}/${reps}: plain 1 txn/insert ${p.perSecond}/s`);
    completedReps++;
  }
  const byConcurrency = concurrencies.map((concurrency) => {
    const { store, batched, schema } = rows.get(concurrency);
    const pairedVsPerInsert = store.map((s, i) => s.perSecond / perInsert[i].perSecond);
    const pairedVsBatched = store.map((s, i) => s.perSecond / batched[i].perSecond);
    const pairedVsSchema = schema.map((sc, i) => store[i].perSecond / sc.perSecond);
    return {
      concurrency,
      store: {
        medianPerSecond: round(median(store.map((s) => s.perSecond)), 1),
        medianGroup: round(median(store.map((s) => s.meanGroup ?? Number.NaN)), 2),
        medianLatencyMs: {
          p50: round(median(store.map((s) => s.latencyMs.p50)), 3),
          p95: round(median(store.map((s) => s.latencyMs.p95)), 3),
        },
        runs: store,
      },
      plainSameBatching: {
        medianPerSecond: round(median(batched.map((b) => b.perSecond)), 1),
        runs: batched,
      },
      schemaSameBatching: schema.length
        ? { medianPerSecond: round(median(schema.map((sc) => sc.perSecond)), 1), runs: schema }
        : null,
      // Ratios of the store's rate to a baseline's, paired by repetition; the median of those.
      ratioVsPlainPerInsert: round(median(pairedVsPerInsert), 3),
      ratioVsPlainSameBatching: round(median(pairedVsBatched), 3),
      ratioVsSchemaSameBatching: schema.length ? round(median(pairedVsSchema), 3) : null,
    };
  });
  return {
    records: sizeStats(records.canonical),
    repetitions: completedReps,
    plainPerInsert: {
      medianPerSecond: round(median(perInsert.map((p) => p.perSecond)), 1),
      runs: perInsert,
    },
    byConcurrency,
  };
}
