/**
 * Deterministic audit events for the benchmarks. `eventAt(i)` depends only on (seed, i), so a
 * log of a million records never has to be held in memory and every run appends the same bytes.
 * The mix imitates what the registry writes today: agent changes with before/after views (the
 * large ones), expiries, key and user creation.
 */
import { canonicalize } from '@mandate/core';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Fixed start of the benchmark's clock; record i is stamped BASE_TIME + 7·i ms. */
const BASE_TIME = Date.parse('2025-01-01T00:00:00.000Z');

/** mulberry32: a small, fast, seedable PRNG (not for secrets). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const mix = (seed, i) => (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35)) >>> 0;

function idOf(prefix, rnd) {
  let body = '';
  for (let i = 0; i < 26; i++) body += CROCKFORD[Math.floor(rnd() * 32)];
  return `${prefix}_${body}`;
}

export function timeAt(i) {
  return new Date(BASE_TIME + 7 * i).toISOString();
}

function agentView(rnd, agentId, ownerId, status) {
  const words = ['billing', 'support', 'triage', 'reports', 'deploy', 'search', 'ingest', 'review'];
  const pick = () => words[Math.floor(rnd() * words.length)];
  return {
    id: agentId,
    name: `${pick()}-${pick()}-agent`,
    description: `Handles ${pick()} and ${pick()} requests for the ${pick()} team`,
    ownerId,
    status,
    labels: [pick(), pick()],
    metadata: { team: pick(), costCenter: String(Math.floor(rnd() * 9000) + 1000) },
    environments: ['production'],
    boundaries: { maxDelegationDepth: 2, allowedScopes: [`${pick()}:read`, `${pick()}:write`] },
    expiresAt: new Date(BASE_TIME + 86_400_000 * (30 + Math.floor(rnd() * 300))).toISOString(),
    keys: [{ kid: idOf('kid', rnd), alg: 'EdDSA', addedAt: timeAt(0) }],
  };
}

/** The i-th event input (what a caller passes to appendAudit). */
export function eventAt(i, seed) {
  const rnd = prng(mix(seed, i));
  const actor = { kind: 'api_key', id: idOf('key', rnd), userId: idOf('usr', rnd) };
  const kind = rnd();
  if (kind < 0.4) {
    const agentId = idOf('agt', rnd);
    const ownerId = idOf('usr', rnd);
    const before = agentView(rnd, agentId, ownerId, 'active');
    const after = { ...before, status: 'suspended', labels: [...before.labels, 'paused'] };
    return {
      type: 'agent.suspended',
      actor,
      target: { type: 'agent', id: agentId },
      refs: { agentId, userId: ownerId },
      before,
      after,
      reason: 'suspended by the on-call admin while the incident is investigated',
    };
  }
  if (kind < 0.7) {
    const agentId = idOf('agt', rnd);
    const expiresAt = timeAt(i);
    return {
      type: 'agent.expired',
      actor: { kind: 'system', id: 'mandate' },
      target: { type: 'agent', id: agentId },
      refs: { agentId },
      before: { status: 'active' },
      after: { status: 'expired', expiresAt },
      reason: 'the agent reached its expiry time',
    };
  }
  if (kind < 0.9) {
    const keyId = idOf('key', rnd);
    return {
      type: 'api_key.created',
      actor,
      target: { type: 'api_key', id: keyId },
      after: {
        id: keyId,
        orgId: 'org_BENCH',
        name: `ci key ${Math.floor(rnd() * 1000)}`,
        roles: ['operator'],
        createdAt: timeAt(i),
        createdBy: actor,
        expiresAt: timeAt(i + 1_000_000),
      },
    };
  }
  const userId = idOf('usr', rnd);
  return {
    type: 'user.created',
    actor,
    target: { type: 'user', id: userId },
    refs: { userId },
    after: {
      id: userId,
      kind: 'oidc',
      issuer: 'https://login.example.com',
      subject: String(Math.floor(rnd() * 1e12)),
      displayName: 'Benchmark User',
      roles: ['viewer'],
      status: 'active',
    },
  };
}

/** The canonical record the store writes for event i at seq i (the bytes it hashes). */
export function canonicalAt(i, seed, orgId) {
  return canonicalize({ ...eventAt(i, seed), seq: i, orgId, time: timeAt(i) });
}

/** Events, times and canonical strings for indices [0, count). */
export function prepareRecords(count, seed, orgId) {
  const events = new Array(count);
  const times = new Array(count);
  const canonical = new Array(count);
  for (let i = 0; i < count; i++) {
    events[i] = eventAt(i, seed);
    times[i] = timeAt(i);
    canonical[i] = canonicalize({ ...events[i], seq: i, orgId, time: times[i] });
  }
  return { events, times, canonical };
}

export function sizeStats(strings) {
  let total = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const s of strings) {
    const n = Buffer.byteLength(s);
    total += n;
    if (n < min) min = n;
    if (n > max) max = n;
  }
  return {
    count: strings.length,
    meanBytes: Math.round(total / Math.max(1, strings.length)),
    minBytes: min,
    maxBytes: max,
  };
}
