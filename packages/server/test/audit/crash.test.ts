/**
 * Crash test: the built server is killed with SIGKILL while concurrent clients append through
 * the API; after a restart on the same data dir every acknowledged append (a 201 the client
 * read in full) is there with its audit record, the log is gapless, and `mandate audit verify`
 * accepts it. Three kill/restart cycles on one data dir, each with other group-commit settings.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyCheckpoint } from '@mandate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureBuilt,
  expectCliOk,
  http,
  httpOk,
  mandate,
  ndjsonLines,
  type Server,
  startServer,
} from './helpers.js';

const CYCLES = 3;
const CLIENTS = 8;
/** Appends sent per cycle at most (3 × 1,200 = 3,600 in all). */
const MAX_APPENDS_PER_CYCLE = 1200;
/** The kill comes after this long or this many acknowledgements, whichever is first. */
const KILL_AFTER_MS = 1500;
const KILL_AFTER_ACKS = 600;
const REQUEST_TIMEOUT_MS = 5_000;

/** Group commit settings per cycle: the default, a waiting batcher, small batches. */
const CYCLE_ENV: Array<Record<string, string>> = [
  {},
  { MANDATE_GROUP_COMMIT_MAX_WAIT_MS: '5' },
  { MANDATE_GROUP_COMMIT_MAX_BATCH: '8', MANDATE_GROUP_COMMIT_MAX_WAIT_MS: '2' },
];
/** Checkpoints are signed often, so signing races the appends and the kill. */
const BASE_ENV = { MANDATE_CHECKPOINT_INTERVAL_MS: '200' };

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-crash-'));
let server: Server | undefined;

beforeAll(async () => {
  await ensureBuilt();
}, 180_000);

afterAll(async () => {
  await server?.kill();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
}, 15_000);

interface LoadResult {
  acked: string[];
  sent: number;
  inFlightAtKill: number;
  ackedAtKill: number;
  /** Answers other than 201 before the kill (there should be none). */
  unexpected: string[];
}

/** CLIENTS loops of POST /v1/users until the kill; SIGKILLs the server mid-load. */
async function loadAndKill(target: Server, key: string, cycle: number): Promise<LoadResult> {
  const acked: string[] = [];
  const unexpected: string[] = [];
  let sent = 0;
  let inFlight = 0;
  let killed = false;
  let inFlightAtKill = -1;
  let ackedAtKill = -1;
  const start = Date.now();
  let killDone: Promise<void> | undefined;
  const kill = () => {
    if (killed) return;
    killed = true;
    inFlightAtKill = inFlight;
    ackedAtKill = acked.length;
    killDone = target.kill();
  };
  const timer = setTimeout(kill, KILL_AFTER_MS);

  async function client(c: number): Promise<void> {
    while (!killed && sent < MAX_APPENDS_PER_CYCLE) {
      const n = sent++;
      inFlight++;
      try {
        const response = await fetch(`${target.url}/v1/users`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ displayName: `crash ${cycle}/${c}/${n}` }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const text = await response.text();
        if (response.status === 201) acked.push((JSON.parse(text) as { id: string }).id);
        else if (!killed) unexpected.push(`${response.status} ${text}`);
      } catch (error) {
        // The connection died with the server: this append was never acknowledged.
        if (!killed) unexpected.push(`request failed before the kill: ${(error as Error).message}`);
        return;
      } finally {
        inFlight--;
      }
      if (acked.length >= KILL_AFTER_ACKS) kill();
    }
  }

  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  clearTimeout(timer);
  kill(); // in case the load ended first (then inFlightAtKill shows it)
  await killDone;
  if (Date.now() - start > 20_000) throw new Error('the load phase took more than 20 s');
  return { acked, sent, inFlightAtKill, ackedAtKill, unexpected };
}

/** Runs `work` over `items` with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function allUserIds(url: string, key: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const answer = await httpOk(url, 'GET', `/v1/users?limit=200${cursor ? `&cursor=${cursor}` : ''}`, key);
    for (const user of answer.body.items) ids.add(user.id);
    cursor = answer.body.nextCursor;
    if (!cursor) return ids;
  }
  throw new Error('too many pages of users');
}

describe('kill -9 while clients append', { timeout: 85_000 }, () => {
  it(`every acknowledged append survives and the log verifies, over ${CYCLES} kill/restart cycles`, async () => {
    const dataDir = path.join(tmpRoot, 'data');
    server = await startServer(dataDir, { ...BASE_ENV, ...CYCLE_ENV[0] });
    const adminKey = server.adminKey as string;
    expect(adminKey, server.output()).toMatch(/^mk_key_/);
    const verifierKey = (await httpOk(server.url, 'GET', '/v1/audit/verifier-key', adminKey)).text.trimEnd();
    const everAcked: string[] = [];

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const load = await loadAndKill(server, adminKey, cycle);
      expect(load.unexpected, 'only 201s before the kill').toEqual([]);
      expect(load.sent).toBeLessThanOrEqual(MAX_APPENDS_PER_CYCLE);
      expect(load.inFlightAtKill, 'the kill came mid-load, with requests in flight').toBeGreaterThan(0);
      expect(load.acked.length).toBeGreaterThan(0);
      expect(server.proc.signalCode).toBe('SIGKILL');
      everAcked.push(...load.acked);

      server = await startServer(dataDir, { ...BASE_ENV, ...CYCLE_ENV[(cycle + 1) % CYCLES] });
      const { url } = server;
      expect(server.adminKey, 'no second admin key on restart').toBeUndefined();

      // Every append acknowledged in this cycle is there…
      const missing: string[] = [];
      await pool(load.acked, 8, async (id) => {
        const answer = await http(url, 'GET', `/v1/users/${id}`, adminKey);
        if (answer.status !== 200 || answer.body.id !== id) missing.push(`${id}: ${answer.status}`);
      });
      expect(missing, `cycle ${cycle}: acknowledged but lost`).toEqual([]);

      // …with its audit record, in a gapless log; earlier cycles' appends are still there too.
      const lines = ndjsonLines((await httpOk(url, 'GET', '/v1/audit/export', adminKey)).text);
      const records = lines.map((line) => JSON.parse(line));
      const gaps = records.filter((record, i) => record.seq !== i).map((r) => r.seq);
      expect(gaps, 'seqs are 0, 1, 2, … without gaps').toEqual([]);
      const created = new Set(records.filter((r) => r.type === 'user.created').map((r) => r.target.id));
      expect(
        everAcked.filter((id) => !created.has(id)),
        'acknowledged without a user.created record',
      ).toEqual([]);
      // A change and its record commit together: the users are exactly those with a user.created.
      const users = await allUserIds(url, adminKey);
      expect(
        [...users].filter((id) => !created.has(id)),
        'users without a record',
      ).toEqual([]);
      expect(
        [...created].filter((id) => !users.has(id)),
        'records without a user',
      ).toEqual([]);

      // The log size is the number of events, and it is signed as such.
      const note = (await httpOk(url, 'POST', '/v1/audit/checkpoint', adminKey)).text;
      expect(verifyCheckpoint(note, verifierKey).size).toBe(records.length);
      const stored = (await httpOk(url, 'GET', '/v1/audit/checkpoints?limit=200', adminKey)).body.items;
      for (const checkpoint of stored)
        expect(verifyCheckpoint(checkpoint.note, verifierKey).size).toBe(checkpoint.size);
      expect((await httpOk(url, 'GET', '/v1/audit/verifier-key', adminKey)).text.trimEnd()).toBe(verifierKey);

      const verified = await mandate(['audit', 'verify', '--verifier-key', verifierKey], {
        env: { MANDATE_URL: url, MANDATE_KEY: adminKey },
      });
      expect(expectCliOk(verified)).toBe(
        `OK: ${records.length} records verified against the signed checkpoint\n`,
      );
    }
    await server.stop();
  });
});
