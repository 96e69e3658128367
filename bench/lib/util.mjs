import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

/** better-sqlite3 exactly as the engine resolves it (the same native build the store uses). */
const engineRequire = createRequire(new URL('../../packages/engine/package.json', import.meta.url));
export const Database = engineRequire('better-sqlite3');
export const betterSqliteVersion = engineRequire('better-sqlite3/package.json').version;

export const now = () => performance.now();

export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export const round = (x, digits = 0) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

/** A point in time after which bounded loops stop; `left()` is seconds remaining. */
export class Deadline {
  constructor(seconds) {
    this.end = now() + seconds * 1000;
  }
  passed() {
    return now() >= this.end;
  }
  left() {
    return Math.max(0, (this.end - now()) / 1000);
  }
  /** A deadline that ends at the earlier of this one and `seconds` from now. */
  within(seconds) {
    const d = new Deadline(seconds);
    d.end = Math.min(d.end, this.end);
    return d;
  }
}

/** Lets timers, I/O callbacks and setImmediate run (between measurements). */
export const tick = () => new Promise((resolve) => setImmediate(resolve));

export function makeTempDir(base) {
  const root = base ?? os.tmpdir();
  fs.mkdirSync(root, { recursive: true });
  return fs.mkdtempSync(path.join(root, 'mandate-bench-'));
}

/** Removes a SQLite database and its -wal / -shm files. */
export function removeDb(file) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) fs.rmSync(file + suffix, { force: true });
}

export function dbBytes(file) {
  let total = 0;
  for (const suffix of ['', '-wal']) {
    try {
      total += fs.statSync(file + suffix).size;
    } catch {
      // absent
    }
  }
  return total;
}

function gitCommit() {
  try {
    const cwd = new URL('../..', import.meta.url);
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      stdio: 'pipe',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'packages'], {
      cwd,
      encoding: 'utf8',
      stdio: 'pipe',
    }).trim();
    return { commit, packagesDirty: dirty.length > 0 };
  } catch {
    return { commit: null, packagesDirty: null };
  }
}

function filesystemOf(dir) {
  try {
    return execFileSync('df', ['-PT', dir], { encoding: 'utf8', stdio: 'pipe' })
      .trim()
      .split('\n')[1]
      ?.split(/\s+/)[1];
  } catch {
    return null;
  }
}

export function machineInfo(tempDir) {
  const cpus = os.cpus();
  const db = new Database(':memory:');
  const sqlite = db.prepare('SELECT sqlite_version() AS v').get().v;
  db.close();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    availableParallelism: os.availableParallelism?.() ?? cpus.length,
    totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
    loadAverageAtStart: os.loadavg().map((x) => round(x, 2)),
    betterSqlite3: betterSqliteVersion,
    sqlite,
    tempDir,
    tempDirFilesystem: filesystemOf(tempDir),
    ...gitCommit(),
  };
}

/** A plain-text table: rows of cells, first row the header; numbers right-aligned. */
export function formatTable(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? '').length)));
  const line = (r) =>
    r
      .map((cell, c) => {
        const text = String(cell ?? '');
        return typeof cell === 'number' || /^[\d.,×x%µ\s-]+$/.test(text)
          ? text.padStart(widths[c])
          : text.padEnd(widths[c]);
      })
      .join('  ')
      .trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** 12345.6 → "12,346"; small values keep decimals. */
export function fmt(x, digits) {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export const ratio = (x) =>
  x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : `${x.toFixed(2)}×`;

export function log(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
