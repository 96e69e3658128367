/**
 * The client keeps its key-bound token fresh: renewed before it expires (not after), one renewal
 * in flight however many calls wait for it, the held token used while a renewal fails and it is
 * still valid, and nothing asked once it has expired and no new one can be had. The client's
 * clock is fake; the server's stays put, so every token the client holds is valid there.
 */
import { createAgentClient } from '@mandate/sdk';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type AgentWorld, agentWorld, ISSUER } from '../support/agent-world.js';

let world: AgentWorld;
beforeAll(async () => {
  world = await agentWorld();
});
afterAll(() => world?.close());

const read = { action: 'files.read', resource: { type: 'file', id: 'a.txt' } };

it('renews before expiry, once for many waiting calls, keeps a valid token when renewal fails, fails closed after expiry', async () => {
  let now = Date.parse('2026-12-05T10:00:00Z');
  let tokenRequests = 0;
  let tokenEndpointDown = false;
  const client = createAgentClient({
    url: ISSUER,
    agentId: world.agentId,
    privateKey: world.privateJwk,
    delegation: world.delegationId,
    now: () => now,
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      if (new URL(String(input)).pathname === '/oauth/token') {
        tokenRequests++;
        if (tokenEndpointDown) throw new TypeError('fetch failed');
      }
      return world.t.fetch(input, init);
    }) as typeof fetch,
  });

  const first = await client.token();
  expect(tokenRequests).toBe(1);
  const lifetime = first.expires_in * 1000;
  const renewBefore = Math.min(60_000, lifetime / 3);

  // Well inside its lifetime: the same token, no request.
  now += lifetime - renewBefore - 1_000;
  expect((await client.check(read)).decision).toBe('allow');
  expect(await client.token()).toBe(first);
  expect(tokenRequests).toBe(1);

  // Inside the renewal window: eight calls at once share one renewal.
  now += 2_000;
  const answers = await Promise.all(Array.from({ length: 8 }, () => client.check(read)));
  expect(answers.every((a) => a.decision === 'allow')).toBe(true);
  expect(tokenRequests).toBe(2);
  const second = await client.token();
  expect(second).not.toBe(first);
  expect(tokenRequests).toBe(2);

  // The token endpoint fails inside the next renewal window: the held, still valid token serves.
  now += lifetime - renewBefore + 1_000;
  tokenEndpointDown = true;
  expect((await client.check(read)).decision).toBe('allow');
  expect(await client.token()).toBe(second);
  expect(tokenRequests).toBeGreaterThanOrEqual(3);

  // Past its expiry with no way to renew: nothing is asked and the guarded function does not run.
  now += renewBefore + 1_000;
  const action = vi.fn(async () => 'ran');
  await expect(client.guard(action, () => read)()).rejects.toThrow(/cannot reach Mandate/);
  expect(action).not.toHaveBeenCalled();

  // Back up: a fresh token, and the call goes through.
  tokenEndpointDown = false;
  await expect(client.guard(action, () => read)()).resolves.toBe('ran');
  expect(await client.token()).not.toBe(second);
});
