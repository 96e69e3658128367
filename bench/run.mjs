/**
 * Mandate audit-log benchmarks: `npm run bench` (full) or `BENCH_QUICK=1 npm run bench` (small
 * sizes, ~1 minute). Runs against the built packages (packages/*\/dist). See bench/README.md.
 * Writes bench/results/audit-<timestamp>.json and bench/results/latest.json, prints a table.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, setDefaultPolicyEngine, systemClock } from '@mandate/engine';
import { openStore, runAppends } from './lib/appends.mjs';
import { runAuthzen } from './lib/authzen.mjs';
import { runCompiledCedar } from './lib/cedar-compiled.mjs';
import { runDecide } from './lib/decide.mjs';
import { runMcpGateway } from './lib/mcp-gateway.mjs';
import { buildLog, measureProofs } from './lib/proofs.mjs';
import { runSdkCheck } from './lib/sdk-check.mjs';
import { runTokens } from './lib/tokens.mjs';
import {
  Deadline,
  fmt,
  formatTable,
  log,
  machineInfo,
  makeTempDir,
  ratio,
  removeDb,
  round,
} from './lib/util.mjs';
import { runVerification } from './lib/verify.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';

const list = (value, fallback) =>
  value
    ? value
        .split(',')
        .map((s) => Number(s.trim().replace(/_/g, '')))
        .filter((n) => Number.isSafeInteger(n) && n > 0)
    : fallback;
const num = (value, fallback) => {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(n) && n > 0 ? n : fallback;
};

const params = {
  quick,
  only: (env.BENCH_ONLY ?? 'appends,proofs,verify,tokens,cedar,authzen,decide,sdk,mcp')
    .split(',')
    .map((s) => s.trim()),
  seed: num(env.BENCH_SEED, 20250101),
  policyEngine: env.BENCH_POLICY_ENGINE ?? 'compiled',
  orgId: 'org_BENCH',
  repetitions: num(env.BENCH_REPS, 3),
  appends: {
    concurrencies: list(env.BENCH_CONCURRENCY, [1, 16, 64]),
    count: num(env.BENCH_APPEND_COUNT, quick ? 1000 : 10_000),
    secondsPerRun: num(env.BENCH_APPEND_SECONDS, quick ? 1 : 5),
    storeWriteQueue: { maxBatch: 256, maxWaitMs: 0, note: 'SqliteStore defaults' },
  },
  proofs: {
    sizes: list(env.BENCH_SIZES, quick ? [1000, 10_000] : [100_000, 1_000_000]).sort((a, b) => a - b),
    buildBatch: num(env.BENCH_BUILD_BATCH, 10_000),
    buildSeconds: num(env.BENCH_BUILD_SECONDS, quick ? 60 : 420),
    samples: num(env.BENCH_PROOF_SAMPLES, quick ? 200 : 1000),
    secondsPerSize: num(env.BENCH_PROOF_SECONDS, quick ? 5 : 30),
  },
  verification: {
    breakdownRecords: num(env.BENCH_BREAKDOWN_RECORDS, quick ? 10_000 : 100_000),
  },
  tokens: {
    exchanges: num(env.BENCH_TOKEN_EXCHANGES, quick ? 300 : 2000),
    concurrencies: list(env.BENCH_TOKEN_CONCURRENCY, [1, 16]),
    verifications: num(env.BENCH_TOKEN_VERIFICATIONS, quick ? 200 : 1000),
  },
  mcp: {
    calls: num(env.BENCH_MCP_CALLS, quick ? 300 : 2000),
    seconds: num(env.BENCH_MCP_SECONDS, quick ? 5 : 20),
    warmup: quick ? 50 : 200,
  },
  sdk: {
    concurrencies: list(env.BENCH_SDK_CONCURRENCY, [1, 16]),
    seconds: num(env.BENCH_SDK_SECONDS, quick ? 1 : 5),
  },
  decide: {
    count: num(env.BENCH_DECIDE_COUNT, quick ? 300 : 2000),
    concurrencies: list(env.BENCH_DECIDE_CONCURRENCY, [1, 16]),
  },
  authzen: {
    connections: num(env.BENCH_AUTHZEN_CONNECTIONS, 50),
    seconds: num(env.BENCH_AUTHZEN_SECONDS, quick ? 3 : 10),
    batchConnections: num(env.BENCH_AUTHZEN_BATCH_CONNECTIONS, 10),
    soakConnections: num(env.BENCH_SOAK_CONNECTIONS, 128),
    soakSeconds: num(env.BENCH_SOAK_SECONDS, quick ? 5 : 60),
  },
  maxSeconds: num(env.BENCH_MAX_SECONDS, quick ? 180 : 900),
};

// `cedar-wasm` measures (and loads) the reference engine on every decision instead of the
// compiled one; what the V8 load test (engine/test/policy/v8-abort.test.ts) runs.
if (env.BENCH_POLICY_ENGINE) setDefaultPolicyEngine(env.BENCH_POLICY_ENGINE);
const startedAt = new Date();
const deadline = new Deadline(params.maxSeconds);
const tempDir = makeTempDir(env.BENCH_DIR);
const keep = env.BENCH_KEEP === '1';
const cleanup = () => {
  if (!keep) fs.rmSync(tempDir, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

const results = {
  benchmark: 'audit',
  startedAt: startedAt.toISOString(),
  params,
  machine: machineInfo(tempDir),
  notes: [],
};
log(`${quick ? 'quick' : 'full'} run; temp dir ${tempDir} (${results.machine.tempDirFilesystem ?? '?'})`);

try {
  if (params.only.includes('appends')) {
    log('appends: durable group-commit appends vs plain SQLite inserts');
    results.appends = await runAppends({
      dir: tempDir,
      orgId: params.orgId,
      seed: params.seed,
      concurrencies: params.appends.concurrencies,
      count: params.appends.count,
      seconds: params.appends.secondsPerRun,
      reps: params.repetitions,
      deadline,
    });
  }

  if (params.only.includes('proofs') || params.only.includes('verify')) {
    const file = path.join(tempDir, 'log.db');
    removeDb(file);
    const store = await openStore(file, params.orgId);
    const engine = createEngine(store, { clock: systemClock });
    const buildDeadline = deadline.within(params.proofs.buildSeconds);
    const builds = [];
    const proofs = [];
    let size = 0;
    try {
      for (const target of params.proofs.sizes) {
        log(`build: appending records ${size}..${target} in transactions of ${params.proofs.buildBatch}`);
        const build = await buildLog({
          store,
          orgId: params.orgId,
          seed: params.seed,
          from: size,
          to: target,
          batch: params.proofs.buildBatch,
          deadline: buildDeadline,
        });
        size = build.to;
        builds.push({
          requestedSize: target,
          size,
          complete: build.complete,
          seconds: round(build.seconds, 1),
          appendsPerSecond: round(build.perSecond, 0),
        });
        if (!build.complete) {
          results.notes.push(
            `the log reached only ${size} of ${target} records within the build budget ` +
              `(${params.proofs.buildSeconds} s); later sizes were measured at ${size}`,
          );
        }
        if (params.only.includes('proofs') && size > 0) {
          log(`proofs: measuring at ${size.toLocaleString('en-US')} records`);
          proofs.push({
            requestedSize: target,
            ...(await measureProofs({
              store,
              engine,
              file,
              orgId: params.orgId,
              seed: params.seed,
              size,
              samples: params.proofs.samples,
              seconds: params.proofs.secondsPerSize,
              deadline,
            })),
          });
        }
        if (!build.complete) break;
      }
      results.build = builds;
      if (proofs.length > 0) {
        const first = proofs[0];
        const last = proofs[proofs.length - 1];
        results.proofs = {
          sizes: proofs,
          scaling:
            proofs.length > 1
              ? {
                  from: first.size,
                  to: last.size,
                  sizeRatio: round(last.size / first.size, 2),
                  log2Ratio: round(Math.log2(last.size) / Math.log2(first.size), 3),
                  inclusionMedianRatio: round(last.inclusion.medianUs / first.inclusion.medianUs, 3),
                  consistencyMedianRatio: round(last.consistency.medianUs / first.consistency.medianUs, 3),
                  bundleMedianRatio: round(last.bundle.medianUs / first.bundle.medianUs, 3),
                  inclusionReadsRatio: round(
                    last.inclusion.nodeReads.median / first.inclusion.nodeReads.median,
                    3,
                  ),
                }
              : null,
        };
      }
      if (params.only.includes('verify') && size > 0) {
        log(`verify: LogVerifier over the whole log of ${size.toLocaleString('en-US')} records`);
        results.verification = {
          size,
          ...(await runVerification({
            store,
            engine,
            orgId: params.orgId,
            size,
            reps: params.repetitions,
            breakdownRecords: params.verification.breakdownRecords,
            deadline,
          })),
        };
      }
    } finally {
      await store.close();
    }
  }
  if (params.only.includes('tokens') && !deadline.passed()) {
    log('tokens: exchanges per second and verification cost vs raw node:crypto Ed25519');
    results.tokens = await runTokens({
      dir: tempDir,
      exchanges: params.tokens.exchanges,
      concurrencies: params.tokens.concurrencies,
      reps: params.repetitions,
      verifications: params.tokens.verifications,
      deadline,
    });
  }
  if (params.only.includes('cedar') && !deadline.passed()) {
    log('cedar: compiled evaluation vs cedar-wasm statefulIsAuthorized; 10 vs 1,000 policies');
    results.cedar = await runCompiledCedar({ maxSeconds: quick ? 10 : 30 });
  }
  if (params.only.includes('authzen') && !deadline.passed()) {
    log('authzen: /access/v1/evaluation over HTTP vs a bare Fastify JSON route; batches');
    results.authzen = await runAuthzen({
      dir: tempDir,
      policyEngine: params.policyEngine,
      ...params.authzen,
    });
  }
  if (params.only.includes('decide') && !deadline.passed()) {
    log('decide: the in-process pipeline vs Cedar alone on the same policies and entities');
    results.decide = await runDecide({ dir: tempDir, reps: params.repetitions, ...params.decide });
  }
  if (params.only.includes('sdk') && !deadline.passed()) {
    log('sdk: createAgentClient().check() round trips vs the raw decide call and a bare fetch');
    results.sdk = await runSdkCheck({ dir: tempDir, ...params.sdk });
  }
  if (params.only.includes('mcp') && !deadline.passed()) {
    log('mcp: a tool call through the MCP gateway vs a direct MCP call to the same upstream');
    results.mcp = await runMcpGateway({ dir: tempDir, ...params.mcp });
  }
  if (deadline.passed()) results.notes.push(`the global time budget (${params.maxSeconds} s) was reached`);
} finally {
  cleanup();
}

const finishedAt = new Date();
results.finishedAt = finishedAt.toISOString();
results.durationSeconds = round((finishedAt - startedAt) / 1000, 1);
results.table = table(results);

const outDir = env.BENCH_RESULTS_DIR ?? path.join(here, 'results');
fs.mkdirSync(outDir, { recursive: true });
const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
const json = `${JSON.stringify(results, null, 2)}\n`;
const outFile = path.join(outDir, `audit-${stamp}${quick ? '-quick' : ''}.json`);
fs.writeFileSync(outFile, json);
fs.writeFileSync(path.join(outDir, 'latest.json'), json);
process.stdout.write(
  `\n${results.table}\n\nresults: ${path.relative(process.cwd(), outFile)} (and latest.json)\n`,
);

function table(r) {
  const out = [];
  const m = r.machine;
  out.push(
    `Mandate audit benchmark (${r.params.quick ? 'quick' : 'full'}): node ${m.node}, ${m.cpus} × ${m.cpuModel}, ` +
      `SQLite ${m.sqlite}, ${r.durationSeconds} s`,
  );
  if (r.appends) {
    const a = r.appends;
    out.push(
      '',
      `1. Durable appends (WAL flushed before the answer; baselines synchronous=FULL), median of ${a.repetitions}; records ${a.records.meanBytes} B mean; ` +
        `plain 1 txn/insert: ${fmt(a.plainPerInsert.medianPerSecond)}/s`,
      formatTable([
        [
          'callers',
          'store appends/s',
          'group',
          'p50 ms',
          'p95 ms',
          'plain batch/s',
          'schema batch/s',
          'vs plain 1/txn',
          'vs plain batch',
          'vs schema batch',
        ],
        ...a.byConcurrency.map((c) => [
          c.concurrency,
          fmt(c.store.medianPerSecond),
          fmt(c.store.medianGroup, 1),
          fmt(c.store.medianLatencyMs.p50, 2),
          fmt(c.store.medianLatencyMs.p95, 2),
          fmt(c.plainSameBatching.medianPerSecond),
          fmt(c.schemaSameBatching?.medianPerSecond),
          ratio(c.ratioVsPlainPerInsert),
          ratio(c.ratioVsPlainSameBatching),
          ratio(c.ratioVsSchemaSameBatching),
        ]),
      ]),
    );
  }
  if (r.build) {
    out.push(
      '',
      `Log build through the store (transactions of ${r.params.proofs.buildBatch}): ` +
        r.build
          .map(
            (b) =>
              `${fmt(b.size, 0)} records ${b.complete ? '' : '(INCOMPLETE) '}+${b.seconds} s (${fmt(b.appendsPerSecond)}/s)`,
          )
          .join('; '),
    );
  }
  if (r.proofs) {
    out.push(
      '',
      '2. Proof generation through the store (µs; reads = distinct node reads per proof)',
      formatTable([
        [
          'log size',
          'incl p50',
          'incl p95',
          'reads p50/max',
          'raw stmt p50',
          'store/raw',
          'cons p50',
          'cons p95',
          'cons reads',
          'bundle p50',
          'bundle p95',
        ],
        ...r.proofs.sizes.map((p) => [
          fmt(p.size, 0),
          fmt(p.inclusion.medianUs, 0),
          fmt(p.inclusion.p95Us, 0),
          `${p.inclusion.nodeReads.median}/${p.inclusion.nodeReads.max}`,
          fmt(p.inclusionRawStatement.medianUs, 0),
          ratio(p.ratioStoreVsRawStatement),
          fmt(p.consistency.medianUs, 0),
          fmt(p.consistency.p95Us, 0),
          `${p.consistency.nodeReads.median}/${p.consistency.nodeReads.max}`,
          fmt(p.bundle.medianUs, 0),
          fmt(p.bundle.p95Us, 0),
        ]),
      ]),
    );
    const s = r.proofs.scaling;
    if (s) {
      out.push(
        `${fmt(s.to, 0)} vs ${fmt(s.from, 0)} (${s.sizeRatio}× records, log2 ratio ${s.log2Ratio}): inclusion median ` +
          `${ratio(s.inclusionMedianRatio)}, consistency ${ratio(s.consistencyMedianRatio)}, bundle ${ratio(s.bundleMedianRatio)}, ` +
          `node reads ${ratio(s.inclusionReadsRatio)}`,
      );
    }
  }
  if (r.verification) {
    const v = r.verification;
    const b = v.breakdown.usPerRecord;
    out.push(
      '',
      `3. Whole-log verification of ${fmt(v.size, 0)} records (${v.records.meanBytes} B mean), in memory, median of ${v.repetitions}`,
      formatTable([
        ['', 'records/s', 'µs/record'],
        [
          'LogVerifier vs checkpoint',
          fmt(v.logVerifier.medianPerSecond),
          fmt(v.logVerifier.medianUsPerRecord),
        ],
        [
          'node:crypto SHA-256 (baseline)',
          fmt(v.nodeCryptoSha256.medianPerSecond),
          fmt(v.nodeCryptoSha256.medianUsPerRecord),
        ],
      ]),
      `ratio LogVerifier / SHA-256: ${ratio(v.ratioVerifierVsSha256)}; export from the store: ${fmt(v.export.perSecond)} records/s; ` +
        `per record: parse+canonicalize ${fmt(b.jsonParseAndCanonicalize)} µs, leaf hash (noble) ${fmt(b.leafHashNoble)} µs, ` +
        `leaf hash (node:crypto) ${fmt(b.leafHashNodeCrypto)} µs`,
    );
  }
  if (r.tokens) {
    const k = r.tokens;
    const raw = k.rawNodeCrypto;
    out.push(
      '',
      `4. Credentials: token exchanges (assertion + DPoP verified, chain checked, signed, issuance recorded durably), median of ${r.params.repetitions}`,
      formatTable([
        ['callers', 'exchanges/s', 'p50 ms', 'p95 ms', 'raw Ed25519 signs/s', 'vs raw sign'],
        ...k.exchanges.map((e) => [
          e.concurrency,
          fmt(e.medianPerSecond),
          fmt(e.p50Ms, 2),
          fmt(e.p95Ms, 2),
          fmt(raw.signsPerSecond),
          ratio(e.ratioVsRawSign),
        ]),
      ]),
      `verification of a ${raw.tokenBytes}-byte token: first ${k.verification.firstUs} µs (${ratio(k.verification.ratioFirstVsRawVerify)} raw verify ` +
        `${raw.verifyUs} µs), cached ${k.verification.cachedUs} µs (${ratio(k.verification.ratioCachedVsRawVerify)})`,
    );
  }
  if (r.cedar) {
    const c = r.cedar;
    out.push(
      '',
      `4b. Cedar: compiled evaluation vs cedar-wasm statefulIsAuthorized, same request, same run (${c.request})`,
      formatTable([
        ['', 'median µs', 'vs cedar-wasm'],
        ['cedar-wasm, 10 policies', c.wasmMedianMicros, '1'],
        ['compiled, 10 policies', c.compiledMedianMicros, ratio(c.compiledOverWasm)],
        [
          'compiled, 1,000 policies',
          c.compiled1000MedianMicros,
          ratio(c.compiled1000MedianMicros / c.wasmMedianMicros),
        ],
      ]),
      `1,000 policies ÷ 10 policies (compiled): ${ratio(c.compiled1000Over10)}; the engines agree: ${c.enginesAgree}`,
    );
  }
  if (r.authzen) {
    const z = r.authzen;
    out.push(
      '',
      `5. AuthZEN over HTTP, ${z.connections} connections, ${z.seconds} s each (every decision recorded durably; ` +
        `each server in its own process, autocannon in the benchmark's; policy engine ${z.policyEngine})`,
      formatTable([
        ['', 'req/s', 'p50 ms', 'p99 ms', 'errors'],
        [
          'bare Fastify JSON route',
          fmt(z.bareFastify.requestsPerSecond),
          z.bareFastify.p50Ms,
          z.bareFastify.p99Ms,
          z.bareFastify.errors,
        ],
        [
          '/access/v1/evaluation',
          fmt(z.evaluation.requestsPerSecond),
          z.evaluation.p50Ms,
          z.evaluation.p99Ms,
          z.evaluation.errors,
        ],
      ]),
      `ratio ${ratio(z.ratioVsBare)} of the bare route; batches of ${z.batch.size} at ${z.batch.connections} connections: ` +
        `${fmt(z.batch.decisionsPerSecond)} decisions/s (p99 ${z.batch.p99Ms} ms per batch)`,
      `soak: ${z.soak.connections} connections for ${z.soak.seconds} s: ${fmt(z.soak.requests)} requests ` +
        `(${fmt(z.soak.requestsPerSecond)}/s, p99 ${z.soak.p99Ms} ms), ${z.soak.errors} errors, server ${z.soak.serverAlive ? 'alive' : 'DIED'}`,
    );
  }
  if (r.decide) {
    const d = r.decide;
    out.push(
      '',
      `6. decide() in process (cached token, durable record; policy engine ${d.policyEngine}) vs Cedar alone: ` +
        `cedar-wasm ${fmt(d.cedarAlone.evaluationsPerSecond)} evaluations/s (${d.cedarAlone.usPerEvaluation} µs), ` +
        `compiled ${fmt(d.compiledCedarAlone.evaluationsPerSecond)}/s (${d.compiledCedarAlone.usPerEvaluation} µs)`,
      formatTable([
        ['callers', 'decisions/s', 'µs/decision', 'time vs cedar-wasm alone', 'vs compiled alone'],
        ...d.decide.map((x) => [
          x.concurrency,
          fmt(x.decisionsPerSecond),
          x.usPerDecision,
          ratio(x.ratioVsCedarAlone),
          ratio(x.ratioVsCompiledCedarAlone),
        ]),
      ]),
    );
  }
  if (r.sdk) {
    out.push(
      '',
      `8. SDK check() round trips over HTTP (server in its own process, durable record per decision), ${r.sdk.seconds} s each`,
      formatTable([
        [
          'callers',
          'sdk check/s',
          'p50 ms',
          'p99 ms',
          'raw decide/s',
          'bare fetch/s',
          'sdk vs raw',
          'sdk vs bare',
        ],
        ...r.sdk.runs.map((x) => [
          x.concurrency,
          fmt(x.sdkCheck.perSecond),
          x.sdkCheck.p50ms,
          x.sdkCheck.p99ms,
          fmt(x.rawDecide.perSecond),
          fmt(x.bareFetch.perSecond),
          ratio(x.sdkOverRaw),
          ratio(x.sdkOverBare),
        ]),
      ]),
    );
  }
  for (const note of r.notes) out.push(`note: ${note}`);
  if (r.mcp) {
    const m = r.mcp;
    out.push(
      '',
      `7. MCP gateway: ${m.tool}, one call at a time, up to ${m.calls} calls or ${m.seconds} s each, same run`,
      formatTable([
        ['', 'p50 ms', 'p99 ms', 'calls'],
        ['direct MCP call (baseline)', m.direct.p50ms, m.direct.p99ms, m.direct.calls],
        ['through the gateway', m.gateway.p50ms, m.gateway.p99ms, m.gateway.calls],
        ['POST /v1/decisions alone', m.decide.p50ms, m.decide.p99ms, m.decide.calls],
      ]),
      `added by the gateway: p50 ${m.addedP50ms} ms, p99 ${m.addedP99ms} ms; gateway / direct (p50): ${ratio(m.gatewayOverDirectP50)}`,
    );
  }
  return out.join('\n');
}
