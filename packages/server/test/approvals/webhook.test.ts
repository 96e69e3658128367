/**
 * The approval webhook against real local HTTP receivers (node:http on 127.0.0.1, random ports):
 * configured by an admin (the secret answered once), `approval.requested` when a decision files a
 * request and `approval.decided` when a human decides, each signed
 * `mandate-signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` which the receiver
 * verifies in constant time (a tampered body or another secret fails); a failed delivery is
 * retried with backoff; a redirect is not followed. The app's engine has a short backoff, and the
 * tests wait for deliveries with `engine.approvals.settle()`, never by sleeping.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookSenderOptions } from '@mandate/engine';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../harness.js';
import { apiKey, approvalOf, chainFor, paySend, startAppWithWebhooks } from './helpers.js';

type DeliveryResult = Parameters<NonNullable<WebhookSenderOptions['onResult']>>[0];

interface Received {
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  /** Whether the signature verified with the secret the receiver held at the time. */
  verified: boolean;
}

/** Recomputes the signature over the raw body; constant-time compare; `t` within 5 minutes. */
function verifySignature(secret: string, header: string | undefined, rawBody: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!match) return false;
  const [, t, v1] = match as unknown as [string, string, string];
  if (Math.abs(Date.now() / 1000 - Number(t)) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest();
  const given = Buffer.from(v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * A receiver: verifies each request with `secret` (401 when it does not verify), otherwise
 * answers with the next scripted status (then 204), or redirects.
 */
class Receiver {
  readonly received: Received[] = [];
  secret = '';
  /** Statuses to answer, in order, before the default 204. */
  script: number[] = [];
  /** Answer every request with 302 to this URL. */
  redirectTo?: string;
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const verified = verifySignature(this.secret, req.headers['mandate-signature'] as string, rawBody);
      this.received.push({ headers: req.headers, rawBody, verified });
      if (this.redirectTo) {
        res.writeHead(302, { location: this.redirectTo }).end();
        return;
      }
      if (!verified) {
        res.writeHead(401).end('bad signature');
        return;
      }
      res.writeHead(this.script.shift() ?? 204).end();
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/mandate`;
  }

  /** What the receiver does with a POST of this body and signature (a replay, a tampered copy). */
  async post(url: string, rawBody: string, signature: string): Promise<number> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'mandate-signature': signature },
      body: rawBody,
    });
    return response.status;
  }

  events(): Array<{ type: string; approval: { id: string; status: string; decidedBy?: unknown } }> {
    return this.received.map((r) => JSON.parse(r.rawBody));
  }

  reset(): void {
    this.received.length = 0;
    this.script = [];
    this.redirectTo = undefined;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const BACKOFF = [10, 20];
const results: DeliveryResult[] = [];
let t: TestApp;
let receiver: Receiver;
let elsewhere: Receiver;
let receiverUrl: string;
let elsewhereUrl: string;
let aliceId: string;
/** An API key bound to Alice, the root user of every chain here. */
let aliceKey: string;

beforeAll(async () => {
  t = await startAppWithWebhooks({ backoffMs: BACKOFF, timeoutMs: 5_000, onResult: (r) => results.push(r) });
  receiver = new Receiver();
  elsewhere = new Receiver();
  receiverUrl = await receiver.start();
  elsewhereUrl = await elsewhere.start();
  aliceId = (await t.call('POST', '/v1/users', { key: t.adminKey, body: { displayName: 'Alice' } })).body.id;
  aliceKey = await apiKey(t, ['approver'], aliceId);
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
  await elsewhere?.close();
});
beforeEach(async () => {
  await t.engine.approvals.settle();
  results.length = 0;
  receiver.reset();
  elsewhere.reset();
});

async function configure(url: string): Promise<string> {
  const set = await t.call('PUT', '/v1/approvals/webhook', { key: t.adminKey, body: { url } });
  expect(set.status, set.text).toBe(200);
  expect(set.body.url).toBe(url);
  expect(set.body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{40,}$/);
  return set.body.secret as string;
}

/** A chain of Alice's files a request; waits for the deliveries it caused. */
async function fileOne(amount: number): Promise<string> {
  const chain = await chainFor(t, aliceId);
  const answer = await chain.ask(paySend(amount));
  expect(answer.decision).toBe('approval_required');
  await t.engine.approvals.settle();
  return approvalOf(answer);
}

describe('configuration', () => {
  it('an admin sets the URL; the secret is answered once; others may not; bad URLs are refused', async () => {
    const secret = await configure(receiverUrl);
    const shown = await t.call('GET', '/v1/approvals/webhook', { key: t.adminKey });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ url: receiverUrl });
    expect(shown.text).not.toContain(secret);
    expect(shown.text).not.toContain('whsec_');

    const operator = await apiKey(t, ['operator']);
    expect(
      (await t.call('PUT', '/v1/approvals/webhook', { key: operator, body: { url: elsewhereUrl } })).status,
    ).toBe(403);
    expect((await t.call('GET', '/v1/approvals/webhook', { key: operator })).status).toBe(403);
    for (const url of ['not a url', 'ftp://127.0.0.1/x', 'http://user:pw@127.0.0.1/x']) {
      const bad = await t.call('PUT', '/v1/approvals/webhook', { key: t.adminKey, body: { url } });
      expect(bad.status, url).toBe(400);
    }
    expect((await t.call('GET', '/v1/approvals/webhook', { key: t.adminKey })).body.url).toBe(receiverUrl);

    // The change is audited, without the secret.
    const events = await t.call('GET', '/v1/audit/events?type=webhook.configured&limit=50', {
      key: t.adminKey,
    });
    expect(events.body.items.at(-1)).toMatchObject({ after: { url: receiverUrl } });
    expect(events.text).not.toContain(secret);
  });
});

describe('deliveries', () => {
  it('approval.requested, then approval.decided: signed over the raw body with the secret', async () => {
    receiver.secret = await configure(receiverUrl);
    const id = await fileOne(1);
    expect(receiver.received).toHaveLength(1);
    const [requested] = receiver.received as [Received];
    expect(requested.verified).toBe(true);
    expect(requested.headers['mandate-event']).toBe('approval.requested');
    expect(requested.headers['content-type']).toMatch(/^application\/json/);
    expect(receiver.events()[0]).toMatchObject({
      type: 'approval.requested',
      orgId: t.defaultOrgId,
      approval: { id, status: 'pending', action: 'pay.send', rootUserId: aliceId },
    });
    // Names and kinds of the arguments only, never their values.
    expect(requested.rawBody).not.toContain('invoice 42');

    const approved = await t.call('POST', `/v1/approvals/${id}/approve`, {
      key: aliceKey,
      body: { comment: 'yes' },
    });
    expect(approved.status, approved.text).toBe(200);
    await t.engine.approvals.settle();
    expect(receiver.received).toHaveLength(2);
    const decided = receiver.received[1] as Received;
    expect(decided.verified).toBe(true);
    expect(decided.headers['mandate-event']).toBe('approval.decided');
    expect(receiver.events()[1]).toMatchObject({
      type: 'approval.decided',
      approval: { id, status: 'approved', decidedBy: { userId: aliceId }, comment: 'yes' },
    });
    expect(results.map((r) => [r.event, r.ok, r.attempts])).toEqual([
      ['approval.requested', true, 1],
      ['approval.decided', true, 1],
    ]);
  });

  it('a denial is delivered as approval.decided (denied)', async () => {
    receiver.secret = await configure(receiverUrl);
    const id = await fileOne(2);
    await t.call('POST', `/v1/approvals/${id}/deny`, { key: aliceKey, body: { comment: 'no' } });
    await t.engine.approvals.settle();
    expect(receiver.events().map((e) => [e.type, e.approval.status])).toEqual([
      ['approval.requested', 'pending'],
      ['approval.decided', 'denied'],
    ]);
  });

  it('the receiver refuses a tampered body, another secret, a missing or malformed signature', async () => {
    receiver.secret = await configure(receiverUrl);
    await fileOne(3);
    const [genuine] = receiver.received as [Received];
    const signature = genuine.headers['mandate-signature'] as string;
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    // The genuine request verifies again (the receiver's check is what is under test).
    expect(await receiver.post(receiverUrl, genuine.rawBody, signature)).toBe(204);
    const tampered = genuine.rawBody.replace('"status":"pending"', '"status":"approved"');
    expect(tampered).not.toBe(genuine.rawBody);
    expect(await receiver.post(receiverUrl, tampered, signature)).toBe(401);
    // The same body and v1 under another timestamp.
    const [, t0, v1] = /^t=(\d+),v1=(.+)$/.exec(signature) as unknown as [string, string, string];
    expect(await receiver.post(receiverUrl, genuine.rawBody, `t=${Number(t0) + 1},v1=${v1}`)).toBe(401);
    expect(await receiver.post(receiverUrl, genuine.rawBody, 'v1=abc')).toBe(401);
    expect(await receiver.post(receiverUrl, genuine.rawBody, '')).toBe(401);
    // Signed with another secret: the webhook is configured again, the receiver keeps the old one.
    const old = receiver.secret;
    const fresh = await configure(receiverUrl);
    expect(fresh).not.toBe(old);
    receiver.reset();
    results.length = 0;
    await fileOne(4);
    expect(receiver.received.map((r) => r.verified)).toEqual([false, false, false]);
    expect(results).toEqual([expect.objectContaining({ ok: false, attempts: 3, status: 401 })]);
    // With the new secret, it verifies.
    const last = receiver.received[0] as Received;
    expect(verifySignature(fresh, last.headers['mandate-signature'] as string, last.rawBody)).toBe(true);
  });
});

describe('retries and redirects', () => {
  it('a receiver that answers 500 first gets the retry, with the same body, signed', async () => {
    receiver.secret = await configure(receiverUrl);
    receiver.script = [500];
    const id = await fileOne(5);
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received.every((r) => r.verified)).toBe(true);
    expect((receiver.received[1] as Received).rawBody).toBe((receiver.received[0] as Received).rawBody);
    expect(receiver.events()[1]).toMatchObject({ type: 'approval.requested', approval: { id } });
    expect(results).toEqual([
      expect.objectContaining({ event: 'approval.requested', ok: true, attempts: 2 }),
    ]);
  });

  it('gives up after one attempt per backoff step plus one; the approval itself is unaffected', async () => {
    receiver.secret = await configure(receiverUrl);
    receiver.script = [500, 503, 500, 500];
    const id = await fileOne(6);
    expect(receiver.received).toHaveLength(BACKOFF.length + 1);
    expect(results).toEqual([
      expect.objectContaining({ ok: false, attempts: BACKOFF.length + 1, status: 500 }),
    ]);
    const approved = await t.call('POST', `/v1/approvals/${id}/approve`, { key: aliceKey, body: {} });
    expect(approved.body.status).toBe('approved');
  });

  it('a redirect is not followed: the event goes to the configured URL only', async () => {
    receiver.secret = await configure(receiverUrl);
    elsewhere.secret = receiver.secret;
    receiver.redirectTo = elsewhereUrl;
    await fileOne(7);
    expect(elsewhere.received).toEqual([]);
    // A 302 is no delivery: retried, then given up.
    expect(receiver.received).toHaveLength(BACKOFF.length + 1);
    expect(results).toEqual([expect.objectContaining({ ok: false, status: 302 })]);
  });

  it("another org's approvals are not sent to this org's webhook", async () => {
    receiver.secret = await configure(receiverUrl);
    const other = await t.call('POST', '/v1/orgs', { key: t.platformKey, body: { name: 'other org' } });
    expect(other.status, other.text).toBe(201);
    const otherAdmin = other.body.adminKey.secret as string;
    const bob = await t.call('POST', '/v1/users', { key: otherAdmin, body: { displayName: 'Bob' } });
    const chain = await chainFor(t, bob.body.id, { adminKey: otherAdmin });
    const answer = await chain.ask(paySend(8));
    expect(answer.decision).toBe('approval_required');
    await t.engine.approvals.settle();
    expect(receiver.received).toEqual([]);
    // While this org's requests still are.
    await fileOne(9);
    expect(receiver.events().map((e) => e.type)).toEqual(['approval.requested']);
  });
});
