/**
 * The audit log's HTTP endpoints, in process over a real SQLite file: checkpoints (C2SP signed
 * notes), inclusion and consistency proofs checked offline with `@mandate/core`, export
 * (JSONL and OCSF), provenance, org isolation, secrets and roles.
 */
import { createHash } from 'node:crypto';
import {
  canonicalize,
  ed25519Signer,
  formatVerifierKey,
  fromBase64,
  LogVerifier,
  parseCheckpoint,
  parseNote,
  verifyCheckpoint,
  verifyConsistency,
  verifyProofBundle,
} from '@mandate/core';
import type { ExplainNode } from '@mandate/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditEvents,
  createApiKey,
  createUser,
  expectError,
  expectOk,
  keyIdOf,
  registerAgent,
  userWithOperatorKey,
  walk,
} from '../api/helpers.js';
import { startTestApp, type TestApp } from '../harness.js';
import { inject, ndjsonLines, SIGNED_CHECKPOINT } from './helpers.js';

let t: TestApp;
let verifierKey: string;
/** Secrets created in this file: none may appear in any audit record. */
const secrets: string[] = [];

async function signCheckpoint(key = t.adminKey): Promise<string> {
  const answer = await inject(t, 'POST', '/v1/audit/checkpoint', key);
  expect(answer.status, answer.text).toBe(200);
  return answer.text;
}

/** Number of records in the log, counted from the events themselves. */
async function logSize(): Promise<number> {
  const events = await auditEvents(t);
  expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i));
  return events.length;
}

async function storedCheckpoints(key = t.adminKey): Promise<Array<{ size: number; note: string }>> {
  return (await walk(t, key, '/v1/audit/checkpoints?limit=200')).items;
}

beforeAll(async () => {
  t = await startTestApp();
  secrets.push(t.adminKey, t.platformKey);
  verifierKey = (await inject(t, 'GET', '/v1/audit/verifier-key', t.adminKey)).text.trimEnd();
  // Changes, with checkpoints signed on demand in between (several sizes, some of them odd).
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i <= round * 2; i++) await createUser(t, t.adminKey, { displayName: `u${round}-${i}` });
    await signCheckpoint();
  }
  await createUser(t, t.adminKey, { displayName: 'after the last checkpoint' });
});
afterAll(async () => t?.close());

describe('checkpoints', { timeout: 30_000 }, () => {
  it('GET /v1/audit/checkpoint is text/plain, exactly a C2SP signed note of the whole log', async () => {
    const size = await logSize();
    const answer = await inject(t, 'GET', '/v1/audit/checkpoint', t.adminKey);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/plain\b/);
    const match = SIGNED_CHECKPOINT.exec(answer.text);
    expect(match, answer.text).not.toBeNull();
    expect(match?.[1]).toBe(`mandate/${t.defaultOrgId}`);
    expect(Number(match?.[2])).toBe(size);

    // The verifier key is <name>+<8 hex key hash>+<base64 key>, named after the origin.
    expect(verifierKey).toMatch(new RegExp(`^mandate/${t.defaultOrgId}\\+[0-9a-f]{8}\\+[A-Za-z0-9+/]+=*$`));
    const checkpoint = verifyCheckpoint(answer.text, verifierKey);
    expect(checkpoint).toMatchObject({ origin: `mandate/${t.defaultOrgId}`, size, extensions: [] });
    const note = parseNote(answer.text);
    expect(note.signatures.map((s) => s.name)).toEqual([`mandate/${t.defaultOrgId}`]);
  });

  it('every stored checkpoint verifies, one per size, sizes increasing', async () => {
    const stored = await storedCheckpoints();
    expect(stored.length).toBeGreaterThanOrEqual(5);
    const sizes = stored.map((c) => c.size);
    expect([...sizes].sort((a, b) => a - b)).toEqual(sizes);
    expect(new Set(sizes).size).toBe(sizes.length);
    for (const { size, note } of stored) expect(verifyCheckpoint(note, verifierKey).size).toBe(size);
  });

  it('the exported log re-hashes to the root of every stored checkpoint', async () => {
    const checkpoints = (await storedCheckpoints()).map((c) => verifyCheckpoint(c.note, verifierKey));
    const leaves = expectOk(await t.call('GET', '/v1/audit/leaves?limit=10000', { key: t.adminKey })).items;
    const verifier = new LogVerifier(checkpoints);
    const lines = ndjsonLines((await inject(t, 'GET', '/v1/audit/export', t.adminKey)).text);
    expect(leaves).toHaveLength(lines.length);
    for (const [i, line] of lines.entries()) verifier.push(line, fromBase64(leaves[i]));
    expect(verifier.finish()).toMatchObject({ ok: true, records: lines.length });
  });

  it('signing again without changes answers the same note: never a second root for a size', async () => {
    const first = await signCheckpoint();
    const second = await signCheckpoint();
    const got = (await inject(t, 'GET', '/v1/audit/checkpoint', t.adminKey)).text;
    expect(second).toBe(first);
    expect(got).toBe(first);
    const stored = await storedCheckpoints();
    expect(stored.filter((c) => c.size === parseCheckpoint(parseNote(first).text).size)).toEqual([
      expect.objectContaining({ note: first }),
    ]);
  });

  it('consistency proofs between every pair of successive checkpoints verify against their roots', async () => {
    const stored = (await storedCheckpoints()).map((c) => verifyCheckpoint(c.note, verifierKey));
    expect(stored.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < stored.length; i++) {
      const [older, newer] = [stored[i - 1], stored[i]] as [(typeof stored)[0], (typeof stored)[0]];
      if (older.size === 0) continue;
      const answer = expectOk(
        await t.call('GET', `/v1/audit/consistency?from=${older.size}&to=${newer.size}`, { key: t.adminKey }),
      );
      expect(answer).toMatchObject({ from: older.size, to: newer.size });
      const proof = (answer.proof as string[]).map(fromBase64);
      verifyConsistency(older.size, newer.size, proof, older.rootHash, newer.rootHash);
      // …and the proof is not vacuous: it fails against another root.
      expect(() =>
        verifyConsistency(older.size, newer.size, proof, newer.rootHash, older.rootHash),
      ).toThrow();
    }
    // Without `to`: up to the latest checkpoint.
    const latest = stored[stored.length - 1] as (typeof stored)[0];
    const first = stored.find((c) => c.size > 0) as (typeof stored)[0];
    const answer = expectOk(
      await t.call('GET', `/v1/audit/consistency?from=${first.size}`, { key: t.adminKey }),
    );
    expect(answer.to).toBe(latest.size);
    verifyConsistency(first.size, latest.size, answer.proof.map(fromBase64), first.rootHash, latest.rootHash);
  });

  it('consistency: from=0, from > to and to beyond the log are 400', async () => {
    const size = await logSize();
    for (const query of ['from=0&to=3', 'from=5&to=3', `from=1&to=${size + 1}`, 'from=0']) {
      const answer = await t.call('GET', `/v1/audit/consistency?${query}`, { key: t.adminKey });
      expectError(answer, 400, 'invalid_request');
    }
  });
});

describe('inclusion proofs', { timeout: 30_000 }, () => {
  it("every record's proof verifies offline against the signed checkpoint", async () => {
    const size = await logSize();
    const checkpoint = (await inject(t, 'GET', '/v1/audit/checkpoint', t.adminKey)).text;
    for (let seq = 0; seq < size; seq++) {
      const bundle = expectOk(await t.call('GET', `/v1/audit/events/${seq}/proof`, { key: t.adminKey }));
      expect(Object.keys(bundle).sort()).toEqual(
        ['checkpoint', 'index', 'leafHash', 'proof', 'record', 'treeSize'].sort(),
      );
      expect(bundle).toMatchObject({ index: seq, treeSize: size, checkpoint });
      const event = expectOk(await t.call('GET', `/v1/audit/events/${seq}`, { key: t.adminKey }));
      expect(bundle.record).toBe(canonicalize(event));
      expect(verifyProofBundle(bundle, verifierKey).size).toBe(size);
      // A changed record, or a proof moved to another index, is refused.
      const forged = canonicalize({ ...event, type: 'forged' });
      expect(() => verifyProofBundle({ ...bundle, record: forged }, verifierKey)).toThrow();
      if (size > 1) {
        expect(() => verifyProofBundle({ ...bundle, index: (seq + 1) % size }, verifierKey)).toThrow();
      }
    }
  });

  it('the proof of a record that does not exist is 404', async () => {
    const size = await logSize();
    for (const seq of [size, size + 1, 999_999_999]) {
      expectError(
        await t.call('GET', `/v1/audit/events/${seq}/proof`, { key: t.adminKey }),
        404,
        'not_found',
      );
    }
  });
});

describe('export', { timeout: 30_000 }, () => {
  it('jsonl: the canonical records in order, streamed as application/x-ndjson', async () => {
    const size = await logSize();
    const answer = await inject(t, 'GET', '/v1/audit/export?format=jsonl', t.adminKey);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^application\/x-ndjson\b/);
    expect(answer.text.endsWith('\n')).toBe(true);
    const lines = ndjsonLines(answer.text);
    expect(lines).toHaveLength(size);
    for (const [seq, line] of lines.entries()) {
      const event = expectOk(await t.call('GET', `/v1/audit/events/${seq}`, { key: t.adminKey }));
      expect(line).toBe(canonicalize(event));
    }
    // The default format is jsonl.
    expect((await inject(t, 'GET', '/v1/audit/export', t.adminKey)).text).toBe(answer.text);
  });

  it('from=k resumes exactly at k', async () => {
    const all = ndjsonLines((await inject(t, 'GET', '/v1/audit/export?format=jsonl', t.adminKey)).text);
    for (const k of [0, 1, 7, all.length - 1, all.length, all.length + 5]) {
      const part = ndjsonLines((await inject(t, 'GET', `/v1/audit/export?from=${k}`, t.adminKey)).text);
      expect(part, `from=${k}`).toEqual(all.slice(k));
    }
  });

  it('ocsf: API Activity events carrying the whole record', async () => {
    const records = ndjsonLines((await inject(t, 'GET', '/v1/audit/export', t.adminKey)).text);
    const answer = await inject(t, 'GET', '/v1/audit/export?format=ocsf', t.adminKey);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^application\/x-ndjson\b/);
    const events = ndjsonLines(answer.text).map((line) => JSON.parse(line));
    expect(events).toHaveLength(records.length);
    events.forEach((event, i) => {
      const record = JSON.parse(records[i] as string);
      expect(event.class_uid).toBe(6003);
      expect(event.type_uid).toBe(600300 + event.activity_id);
      expect(event.time).toBe(Date.parse(record.time));
      expect(event.actor.user.uid).toBe(record.actor.id);
      expect(event.api.operation).toBe(record.type);
      expect(event.metadata.sequence).toBe(i);
      expect(event.unmapped.mandate_record).toEqual(record);
    });
    const created = events.find((e) => e.api.operation === 'user.created');
    expect(created).toMatchObject({ activity_id: 1, type_uid: 600301 });
  });

  it('both formats stream over a real socket (chunked, no content-length)', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as { port: number };
    for (const format of ['jsonl', 'ocsf']) {
      const response = await fetch(`http://127.0.0.1:${port}/v1/audit/export?format=${format}`, {
        headers: { authorization: `Bearer ${t.adminKey}` },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson\b/);
      expect(response.headers.get('transfer-encoding')).toBe('chunked');
      expect(response.headers.get('content-length')).toBeNull();
      expect(ndjsonLines(await response.text()).length).toBe(await logSize());
    }
  });
});

describe('explain', { timeout: 30_000 }, () => {
  it('an agent suspended by a key the admin key created: the registration and the key, each proven', async () => {
    const owner = await createUser(t, t.adminKey, { displayName: 'agent owner' });
    const agent = await registerAgent(t, t.adminKey, owner.id);
    expectOk(await t.call('POST', `/v1/agents/${agent.id}/activate`, { key: t.adminKey, body: {} }));
    const acting = await createApiKey(t, t.adminKey, { roles: ['admin'], name: 'suspender' });
    secrets.push(acting.secret);
    expectOk(
      await t.call('POST', `/v1/agents/${agent.id}/suspend`, {
        key: acting.secret,
        body: { reason: 'odd mail' },
      }),
    );
    const [suspended] = await auditEvents(t, t.adminKey, `type=agent.suspended&agent=${agent.id}`);
    expect(suspended.actor).toMatchObject({ kind: 'api_key', id: acting.id });

    const tree = expectOk(await t.call('GET', `/v1/audit/explain/${suspended.seq}`, { key: t.adminKey }));
    const nodes: ExplainNode[] = [];
    const collect = (node: ExplainNode) => {
      nodes.push(node);
      for (const child of node.dependsOn) collect(child);
    };
    collect(tree);
    expect(tree).toMatchObject({ seq: suspended.seq, relation: 'subject', record: suspended });

    const registered = nodes.find((n) => n.record.type === 'agent.registered');
    expect(registered?.record.target).toEqual({ type: 'agent', id: agent.id });
    const keyCreated = nodes.find(
      (n) => n.record.type === 'api_key.created' && n.record.target.id === acting.id,
    );
    expect(keyCreated, JSON.stringify(nodes.map((n) => n.record.type))).toBeDefined();
    // The acting key was itself created by the admin key: its creation is explained in turn.
    expect(keyCreated?.record.actor).toMatchObject({ kind: 'api_key', id: keyIdOf(t.adminKey) });
    expect(
      keyCreated?.dependsOn.map((n) => [n.record.type, n.record.target.id]),
      'the admin key that created the acting key',
    ).toContainEqual(['api_key.created', keyIdOf(t.adminKey)]);

    for (const node of nodes) {
      expect(node.seq).toBe(node.record.seq);
      expect(JSON.parse(node.proof.record)).toEqual(node.record);
      expect(node.proof.index).toBe(node.seq);
      verifyProofBundle(node.proof, verifierKey);
    }
  });

  it('explain of a record that does not exist is 404', async () => {
    expectError(await t.call('GET', '/v1/audit/explain/999999', { key: t.adminKey }), 404, 'not_found');
  });
});

describe('org isolation', { timeout: 30_000 }, () => {
  it("org B's log has its own origin and key; A's notes and proofs do not verify as B's", async () => {
    const created = expectOk(
      await t.call('POST', '/v1/orgs', { key: t.platformKey, body: { name: 'org b' } }),
      201,
    );
    const orgB: string = created.org.id;
    const adminB: string = created.adminKey.secret;
    secrets.push(adminB);
    await createUser(t, adminB, { displayName: 'in b' });

    const keyB = (await inject(t, 'GET', '/v1/audit/verifier-key', adminB)).text.trimEnd();
    const noteB = (await inject(t, 'POST', '/v1/audit/checkpoint', adminB)).text;
    expect(keyB).not.toBe(verifierKey);
    expect(keyB.startsWith(`mandate/${orgB}+`)).toBe(true);
    expect(verifyCheckpoint(noteB, keyB).origin).toBe(`mandate/${orgB}`);
    expect(() => verifyCheckpoint(noteB, verifierKey)).toThrow();

    const noteA = await signCheckpoint();
    expect(() => verifyCheckpoint(noteA, keyB)).toThrow();
    const bundleA = expectOk(await t.call('GET', '/v1/audit/events/1/proof', { key: t.adminKey }));
    verifyProofBundle(bundleA, verifierKey);
    expect(() => verifyProofBundle(bundleA, keyB)).toThrow();

    // A's note relabelled as B's (B's key name and key hash on A's signature) is still refused.
    const { text, signatures } = parseNote(noteA);
    const signatureB = parseNote(noteB).signatures[0] as (typeof signatures)[0];
    const raw = new Uint8Array(4 + (signatures[0]?.signature.length ?? 0));
    new DataView(raw.buffer).setUint32(0, signatureB.keyHash);
    raw.set(signatures[0]?.signature as Uint8Array, 4);
    const relabelled = `${text}\n\u2014 mandate/${orgB} ${Buffer.from(raw).toString('base64')}\n`;
    expect(() => verifyCheckpoint(relabelled, keyB)).toThrow();

    // B sees only its own records.
    const eventsB = await auditEvents(t, adminB);
    expect(eventsB.every((e) => e.orgId === orgB)).toBe(true);
    expect(parseCheckpoint(parseNote(noteB).text).size).toBe(eventsB.length);
  });

  it('a key of the same name but another seed does not verify our checkpoints', async () => {
    const other = ed25519Signer(`mandate/${t.defaultOrgId}`, new Uint8Array(32).fill(7));
    const otherKey = formatVerifierKey(`mandate/${t.defaultOrgId}`, other.publicKey);
    expect(otherKey).not.toBe(verifierKey);
    const note = await signCheckpoint();
    expect(() => verifyCheckpoint(note, otherKey)).toThrow();
  });
});

describe('privacy', { timeout: 30_000 }, () => {
  it('no audit record holds a secret or a secret hash', async () => {
    // Make sure key creations and org creation are in the log.
    const key = await createApiKey(t, t.adminKey, { roles: ['auditor'], name: 'privacy' });
    secrets.push(key.secret);
    const text = (await inject(t, 'GET', '/v1/audit/export', t.adminKey)).text;
    const ocsf = (await inject(t, 'GET', '/v1/audit/export?format=ocsf', t.adminKey)).text;
    expect(text).toContain('api_key.created');
    for (const body of [text, ocsf]) {
      expect(body).not.toMatch(/mk_key_/);
      expect(body).not.toMatch(/mpk_pk_/);
      expect(body).not.toMatch(/secretHash/i);
      for (const secret of secrets) {
        // mk_key_<id>_<secret> or mpk_pk_<id>_<secret>: neither the secret nor its stored hash.
        const raw = /^(?:mk_key|mpk_pk)_[0-9A-Z]{26}_([A-Za-z0-9_-]{43})$/.exec(secret)?.[1] as string;
        expect(raw, secret).toHaveLength(43);
        expect(body).not.toContain(raw);
        expect(body).not.toContain(createHash('sha256').update(raw, 'utf8').digest('hex'));
      }
    }
  });
});

describe('roles', { timeout: 30_000 }, () => {
  const endpoints = (seq: number) => [
    ['GET', '/v1/audit/checkpoint'],
    ['POST', '/v1/audit/checkpoint'],
    ['GET', '/v1/audit/verifier-key'],
    ['GET', '/v1/audit/checkpoints'],
    ['GET', `/v1/audit/events/${seq}/proof`],
    ['GET', `/v1/audit/consistency?from=1`],
    ['GET', '/v1/audit/export?format=jsonl'],
    ['GET', '/v1/audit/export?format=ocsf'],
    ['GET', `/v1/audit/explain/${seq}`],
    ['GET', '/v1/audit/leaves'],
  ];

  it('an auditor key uses every audit-log endpoint; an operator key gets 403', async () => {
    const auditor = await createApiKey(t, t.adminKey, { roles: ['auditor'], name: 'auditor' });
    const operator = await userWithOperatorKey(t, 'operator');
    secrets.push(auditor.secret, operator.secret);
    for (const [method, url] of endpoints(2)) {
      const ok = await inject(t, method as string, url as string, auditor.secret);
      expect(ok.status, `${method} ${url}: ${ok.text}`).toBe(200);
      const refused = await inject(t, method as string, url as string, operator.secret);
      expect(refused.status, `${method} ${url}`).toBe(403);
      expect(JSON.parse(refused.text).error.code).toBe('forbidden');
    }
    // What the auditor got verifies like the admin's.
    const bundle = expectOk(await t.call('GET', '/v1/audit/events/2/proof', { key: auditor.secret }));
    verifyProofBundle(bundle, verifierKey);
  });
});
