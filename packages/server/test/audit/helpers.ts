/**
 * Shared helpers of the audit-log tests: the built CLI and server as child processes, plain
 * HTTP against them, raw `inject` answers (with headers) for the in-process app, and tools that
 * rewrite a SQLite file behind the server's back.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { canonicalize, leafHash, nodesCompletedBy, utf8 } from '@mandate/core';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import type { TestApp } from '../harness.js';

export { BIN, cleanEnv, ensureBuilt, REPO, type Server, startServer } from '../processes.js';

import { BIN, cleanEnv } from '../processes.js';

export interface CliResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** One call of the built CLI; never throws, always bounded. */
export function mandate(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: options.cwd ?? os.tmpdir(),
        env: cleanEnv(options.env),
        timeout: options.timeoutMs ?? 20_000,
        killSignal: 'SIGKILL',
        maxBuffer: 50 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: number | string; signal?: string }) | null;
        resolve({
          code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0,
          signal: failure?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
        });
      },
    );
  });
}

/** Success: exit 0, nothing on stderr. */
export function expectCliOk(result: CliResult): string {
  expect(result.code, `exit code (stderr: ${result.stderr})`).toBe(0);
  expect(result.stderr).toBe('');
  return result.stdout;
}

/** Failure: non-zero exit by itself, nothing on stdout, exactly one `mandate: …` line on stderr. */
export function expectCliOneLineError(result: CliResult): string {
  expect(result.code, `exit code (stdout: ${result.stdout})`).not.toBe(0);
  expect(result.code, 'ended by itself, not by the timeout').not.toBeNull();
  expect(result.stdout).toBe('');
  expect(result.stderr, 'exactly one line on stderr').toMatch(/^mandate: [^\n]+\n$/);
  return result.stderr.trimEnd();
}

/** A failed `mandate audit verify`: the one line, and the sequence number it names. */
export function expectVerifyFailure(result: CliResult): { seq: number; line: string } {
  const line = expectCliOneLineError(result);
  expect(result.code).toBe(1);
  const match = /^mandate: verification failed at sequence (\d+): .+$/.exec(line);
  expect(match, line).not.toBeNull();
  return { seq: Number(match?.[1]), line };
}

export interface HttpAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: answers have many shapes; the assertions check them
  body: any;
  text: string;
  headers: Headers;
}

/** One HTTP request to a running server; JSON in, parsed JSON (when it is JSON) out. */
export async function http(
  url: string,
  method: string,
  pathAndQuery: string,
  key?: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<HttpAnswer> {
  const response = await fetch(`${url}${pathAndQuery}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text, headers: response.headers };
}

/** Like `http`, but fails the test unless the answer is a success (200 or 201). */
export async function httpOk(
  url: string,
  method: string,
  pathAndQuery: string,
  key: string,
  body?: unknown,
): Promise<HttpAnswer> {
  const answer = await http(url, method, pathAndQuery, key, body);
  expect([200, 201], `${method} ${pathAndQuery}: ${answer.status} ${answer.text}`).toContain(answer.status);
  return answer;
}

/** An in-process request with the whole answer (t.call drops the headers). */
export async function inject(t: TestApp, method: string, url: string, key?: string) {
  const response = await t.app.inject({
    method: method as 'GET',
    url,
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  return { status: response.statusCode, headers: response.headers, text: response.body };
}

/** Non-empty lines of an NDJSON text. */
export const ndjsonLines = (text: string): string[] => text.split('\n').filter((line) => line !== '');

/** The signed-note shape: `origin\nsize\nroot\n` (no extensions here), a blank line, signature lines. */
export const SIGNED_CHECKPOINT =
  /^([^\n]+)\n(0|[1-9][0-9]*)\n([A-Za-z0-9+/]{43}=)\n\n(\u2014 [^\s]+ [A-Za-z0-9+/]+=*\n)+$/u;

// ---------------------------------------------------------------------------------------------
// Tampering with the SQLite file behind the server's back.

export interface AuditRow {
  org_id: string;
  seq: number;
  time: string;
  type: string;
  record: string;
  [column: string]: unknown;
}

/** A separate connection to the server's database, with the append-only triggers dropped. */
export function openForTampering(dbFile: string): Database.Database {
  const db = new Database(dbFile);
  db.pragma('busy_timeout = 5000');
  for (const trigger of [
    'audit_events_no_update',
    'audit_events_no_delete',
    'merkle_nodes_no_update',
    'merkle_nodes_no_delete',
    'checkpoints_no_update',
    'checkpoints_no_delete',
  ]) {
    db.exec(`DROP TRIGGER IF EXISTS ${trigger}`);
  }
  return db;
}

export function readAuditRows(db: Database.Database, orgId: string): AuditRow[] {
  return db.prepare('SELECT * FROM audit_events WHERE org_id = ? ORDER BY seq').all(orgId) as AuditRow[];
}

/** A record's canonical text with some fields changed (still canonical, so it parses cleanly). */
export function editRecord(record: string, change: Record<string, unknown>): string {
  return canonicalize({ ...(JSON.parse(record) as Record<string, unknown>), ...change });
}

/**
 * Replaces the org's audit rows with `rows`, in that order: row i gets seq i (and, with
 * `renumberRecords`, its record's own `seq` too, as a careful forger would), and the org's
 * log size becomes the number of rows. Everything else of the rows is written as given.
 */
export function rewriteAuditRows(
  db: Database.Database,
  orgId: string,
  rows: AuditRow[],
  { renumberRecords = true }: { renumberRecords?: boolean } = {},
): void {
  db.transaction(() => {
    db.prepare('DELETE FROM audit_events WHERE org_id = ?').run(orgId);
    rows.forEach((row, seq) => {
      const record = renumberRecords ? editRecord(row.record, { seq }) : row.record;
      const values = { ...row, seq, record };
      const columns = Object.keys(values);
      db.prepare(
        `INSERT INTO audit_events (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`,
      ).run(values);
    });
    db.prepare('UPDATE orgs SET log_size = ? WHERE id = ?').run(rows.length, orgId);
  })();
}

/** Recomputes every stored Merkle node (leaves and interior) from the rows now in the table. */
export function rebuildMerkleNodes(db: Database.Database, orgId: string): void {
  const rows = readAuditRows(db, orgId);
  const nodes = new Map<string, Uint8Array>();
  db.transaction(() => {
    db.prepare('DELETE FROM merkle_nodes WHERE org_id = ?').run(orgId);
    const insert = db.prepare('INSERT INTO merkle_nodes (org_id, level, idx, hash) VALUES (?, ?, ?, ?)');
    for (const row of rows) {
      const completed = nodesCompletedBy(row.seq, leafHash(utf8(row.record)), (level, index) => {
        const hash = nodes.get(`${level}/${index}`);
        if (!hash) throw new Error(`rebuild: node ${level}/${index} missing`);
        return hash;
      });
      for (const node of completed) {
        nodes.set(`${node.level}/${node.index}`, node.hash);
        insert.run(orgId, node.level, node.index, Buffer.from(node.hash));
      }
    }
  })();
}

/** Copies a (stopped) server's data dir. */
export function copyDataDir(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  fs.cpSync(from, to, { recursive: true });
}
