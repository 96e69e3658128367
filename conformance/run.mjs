/**
 * `npm run conformance`: Cedar agreement over the whole public corpus. Every hand-written
 * integration test and every one of the corpus files (cedar-policy/cedar-integration-tests,
 * read from ../shared/conformance/cedar, extracted to a temp folder) goes through Mandate's
 * policy evaluator; the decision, determining policies and erroring policies must equal the
 * reference engine's on every request, validation must agree (except the files the README lists
 * as changed in cedar-wasm 4.13, where it must be the new answer), and the files with integers
 * beyond 2^53 must be refused. Writes conformance/results/cedar-latest.json; exits 1 on any
 * disagreement. (`npm test` runs the hand-written tests and the overflow files only.)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readLists, runCedarTestFile } from './cedar-runner.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const cedarDir = path.resolve(
  process.env.CONFORMANCE_DIR ?? path.join(here, '../../shared/conformance'),
  'cedar',
);
if (!fs.existsSync(cedarDir)) {
  process.stderr.write(`conformance data not found at ${cedarDir} (set CONFORMANCE_DIR)\n`);
  process.exit(2);
}
const lists = readLists(cedarDir);
const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-cedar-corpus-'));
const started = Date.now();
const summary = {
  startedAt: new Date().toISOString(),
  files: 0,
  requests: 0,
  passed: 0,
  refusedListed: 0,
  refusedUnlisted: 0,
  requestsInRefusedFiles: 0,
  failures: [],
  // Which engine answered: sets compiled or left on cedar-wasm, requests answered by each, and why.
  engines: {
    setsCompiled: 0,
    setsOnWasm: 0,
    setReasons: {},
    requestsCompiled: 0,
    requestsOnWasm: 0,
    requestReasons: {},
  },
};
const tally = (counts, reason, n = 1) => {
  counts[reason] = (counts[reason] ?? 0) + n;
};
try {
  execFileSync('tar', ['-xzf', path.join(cedarDir, 'corpus-tests.tar.gz'), '-C', temp]);
  const jobs = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.json')) jobs.push(full);
    }
  };
  walk(path.join(cedarDir, 'tests'));
  const handWritten = jobs.length;
  for (const name of fs.readdirSync(path.join(temp, 'corpus-tests')).sort()) {
    if (/^[0-9a-f]+\.json$/.test(name)) jobs.push(path.join(temp, 'corpus-tests', name));
  }
  for (const [i, file] of jobs.entries()) {
    const root = i < handWritten ? cedarDir : temp;
    const relative = path.relative(root, file);
    if (process.env.CONFORMANCE_TRACE) process.stderr.write(`${relative}\n`);
    const result = runCedarTestFile(file, root, {
      overflow: lists.overflow.has(relative),
      validationDrift: lists.drift.has(relative),
    });
    summary.files++;
    summary.requests += result.requests;
    summary.passed += result.passed;
    if (result.refused) {
      if (lists.overflow.has(relative)) summary.refusedListed++;
      else summary.refusedUnlisted++;
      summary.requestsInRefusedFiles += JSON.parse(fs.readFileSync(file, 'utf8')).requests.length;
    }
    if (result.engine) {
      const e = summary.engines;
      if (result.engine.set === 'compiled') e.setsCompiled++;
      else {
        e.setsOnWasm++;
        tally(e.setReasons, result.engine.fallbackReason ?? 'cedar-wasm asked for');
      }
      e.requestsCompiled += result.engine.stats.compiled;
      e.requestsOnWasm += result.engine.stats.wasm;
      for (const [reason, n] of Object.entries(result.engine.stats.reasons))
        tally(e.requestReasons, reason, n);
    }
    for (const failure of result.failures) summary.failures.push(`${relative}: ${failure}`);
    if ((i + 1) % 1000 === 0) process.stderr.write(`  ${i + 1}/${jobs.length} files\n`);
  }
  summary.handWrittenFiles = handWritten;
} finally {
  fs.rmSync(temp, { recursive: true, force: true });
}
summary.seconds = Math.round((Date.now() - started) / 100) / 10;
summary.overflowFilesListed = lists.overflow.size;
fs.mkdirSync(path.join(here, 'results'), { recursive: true });
fs.writeFileSync(path.join(here, 'results', 'cedar-latest.json'), `${JSON.stringify(summary, null, 2)}\n`);
process.stdout.write(
  `Cedar conformance: ${summary.files} files, ${summary.passed}/${summary.requests} evaluated requests agree; ` +
    `${summary.refusedListed}/${lists.overflow.size} listed overflow files refused, and ${summary.refusedUnlisted} more ` +
    `holding integers above 2^53 (${summary.requestsInRefusedFiles} requests not evaluated); ` +
    `${summary.failures.length} disagreements; ${summary.seconds} s\n`,
);
const engines = summary.engines;
process.stdout.write(
  `Engines: ${engines.setsCompiled} policy sets compiled, ${engines.setsOnWasm} on cedar-wasm; ` +
    `${engines.requestsCompiled} requests answered by the compiled engine, ${engines.requestsOnWasm} by cedar-wasm\n`,
);
for (const [reason, n] of Object.entries(engines.setReasons).sort((a, b) => b[1] - a[1]))
  process.stdout.write(`  set fallback x${n}: ${reason}\n`);
for (const [reason, n] of Object.entries(engines.requestReasons).sort((a, b) => b[1] - a[1]))
  process.stdout.write(`  request fallback x${n}: ${reason}\n`);
for (const failure of summary.failures.slice(0, 20)) process.stdout.write(`  ${failure}\n`);
process.exitCode = summary.failures.length === 0 && summary.refusedListed === lists.overflow.size ? 0 : 1;
