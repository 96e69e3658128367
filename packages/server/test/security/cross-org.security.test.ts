/**
 * Org isolation: an admin of org A, however it words its requests, neither sees nor changes
 * anything of org B.
 *
 * Every route with auth 'org' is taken from the route table (a new route is probed without
 * touching this file; a new path parameter makes `fillUrl` fail until the test learns its kind).
 * Each is called with A's admin key and B's ids in every path parameter and id-shaped body field,
 * first exhaustively, then in >= 200 seeded random variations mixing B's, A's and nobody's ids.
 *
 * Policy versions (1, 2, …) and entity uids (`User::"alice"`) are names inside an org, not global
 * ids: A asking for "version 3" or `Folder::"x"` with B's names must get A's own object of that
 * name or a 404, never B's. So those names are not among B's ids (A naming them is not "asking
 * about B"); instead every text B stores under them carries a marker (a comment in each policy
 * version, its note, an attribute of each entity), and a leak shows as a marker in an answer.
 * Decisions too: every policy B publishes permits everything and B's entities carry the attribute
 * A's policies ask for (PROBE_CLEARANCE), while nothing A stores or sends does; so an AuthZEN
 * allow in A means B's policies or entities were used.
 *
 * How we know the probe can fail: instead of editing src by hand and reverting (other work shares
 * this tree), the block "the probe is not vacuous" at the end breaks the store at run time:
 * SqliteOrgReader.getAgent / getUser / getApiKey / getAuditCanonical / getPolicyVersion / getEntity
 * made to ignore org_id, SqliteOrgTransaction.updateAgent made to write under the agent's own org,
 * and decisions taken with B's active policy. For each, the same
 * probe must report (printed while writing this: e.g. "GET /v1/agents/agt_… → 200: answer
 * contains B's org_…, usr_…, orgb-agent-…" and "B state changed (API): $.agents.0.description:
 * '' → 'changed by probe'"). The original methods are restored in `finally`; src is never edited.
 */
import type { AgentCredentials } from '@mandate/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteOrgReader } from '../../../engine/src/store/sqlite/org-reader.js';
import { SqliteOrgTransaction } from '../../../engine/src/store/sqlite/org-transaction.js';
import { publicJwk, startTestApp, type TestApp } from '../harness.js';
import {
  approvalChain,
  createAgent,
  createDelegation,
  createKey,
  createOrg,
  createUser,
  enforcementDecision,
  expectStatus,
  fillUrl,
  firstDifference,
  type Gen,
  type IdKind,
  listAll,
  nobodysId,
  orgIdsIn,
  PROBE_CLEARANCE,
  pathParamsOf,
  probePolicies,
  REQUEST_GENERATORS,
  type RequestParts,
  Rng,
  requestFromSchemas,
  routeName,
  snapshotRows,
  snapshotViaApi,
  uniqueName,
  withQuery,
} from './helpers.js';

const SEED = Number(process.env.MANDATE_SECURITY_SEED ?? 20_240_611);
const PARAM_KINDS: readonly IdKind[] = [
  'agentId',
  'userId',
  'keyId',
  'kid',
  'seq',
  'orgId',
  'delegationId',
  'lockId',
  'approvalId',
  'taskId',
  'decisionId',
  'version',
  'type',
  'id',
];

interface OrgWorld {
  orgId: string;
  /** The admin key the test acts with (A) or snapshots with (B). */
  adminKey: string;
  pool: Record<IdKind, string[]>;
  /** Strings that must never appear in an answer to the other org: ids, names, emails, subjects, key material. */
  markers: string[];
  /** The ids among the markers (their presence in a request path or body means "asks about B"). */
  ids: string[];
  /** The decisions (audit seqs) that filed an approval request: requestable denials. */
  requestable: string[];
  /** Agent decisions an enforcement point of the org asked for (AuthZEN with the agent's credential). */
  enforced: string[];
  /** The key of the enforcement point that asked for them. */
  enforcer: string;
  /** Agents of the org with their token, and the approval requests each one's calls filed. */
  asking: Array<{ agentId: string; creds: AgentCredentials; token: IssuedToken; approvalIds: string[] }>;
}

type IssuedToken = Awaited<ReturnType<AgentCredentials['exchange']>>;

/** `GET /v1/approvals/:approvalId/status` as the agent of `asker` (its token, with a DPoP proof). */
async function agentStatus(t: TestApp, asker: OrgWorld['asking'][number], approvalId: string) {
  const path = `/v1/approvals/${approvalId}/status`;
  return t.call('GET', path, { headers: await asker.creds.authorization(asker.token, 'GET', path) });
}

/** A PUT /v1/entities body: every (type, id) pair, each with `attrs(type, id)`. */
const entitiesOf = (
  types: string[],
  ids: string[],
  attrs: (type: string, id: string) => Record<string, unknown>,
  parents: (type: string) => Array<{ type: string; id: string }> = () => [],
) => ({
  entities: types.flatMap((type) =>
    ids.map((id) => ({ uid: { type, id }, attrs: attrs(type, id), parents: parents(type) })),
  ),
});

/** An admin locks one agent (`agent`) or one owner's agents (`owner`); the lock as answered. */
async function lockOf(t: TestApp, key: string, scope: 'agent' | 'owner', targetId: string, reason: string) {
  const response = await t.call('POST', '/v1/killswitch', { key, body: { scope, targetId, reason } });
  expect(response.status, response.text).toBe(201);
  expect([response.body.scope, response.body.targetId, response.body.releasedAt]).toEqual([
    scope,
    targetId,
    undefined,
  ]);
  return response.body;
}

async function auditSeqs(t: TestApp, key: string): Promise<string[]> {
  return (await listAll(t, key, '/v1/audit/events')).map((event) => String(event.seq));
}

/**
 * Org B: several users (one OIDC), agents in each state with several keys, bound and unbound keys,
 * and a delegation (B's admin grants B's active agent for B's first user).
 */
async function seedOrgB(t: TestApp): Promise<OrgWorld> {
  const orgName = uniqueName('orgb-name');
  const { orgId, adminKey, adminKeyId } = await createOrg(t, orgName);
  const users = [];
  for (let i = 0; i < 3; i++) {
    users.push(
      await createUser(t, adminKey, {
        displayName: uniqueName('orgb-user'),
        email: `${uniqueName('orgb-mail')}@b.example`,
      }),
    );
  }
  users.push(
    await createUser(t, adminKey, {
      displayName: uniqueName('orgb-oidc-user'),
      issuer: 'https://idp.b.example',
      subject: uniqueName('orgb-subject'),
    }),
  );
  const agents = [
    await createAgent(t, adminKey, users[0].id, {
      name: uniqueName('orgb-agent'),
      state: 'pending',
      keyCount: 2,
    }),
    await createAgent(t, adminKey, users[1].id, {
      name: uniqueName('orgb-agent'),
      state: 'active',
      keyCount: 1,
    }),
    await createAgent(t, adminKey, users[2].id, {
      name: uniqueName('orgb-agent'),
      state: 'suspended',
      keyCount: 3,
    }),
  ];
  const keys = [
    await createKey(t, adminKey, ['operator'], { userId: users[0].id, name: uniqueName('orgb-key') }),
    await createKey(t, adminKey, ['auditor'], { name: uniqueName('orgb-key') }),
    await createKey(t, adminKey, ['pep'], { name: uniqueName('orgb-key') }),
  ];
  const delegationPurpose = uniqueName('orgb-purpose');
  const delegation = await createDelegation(t, adminKey, agents[1].id, users[0].id, {
    purpose: delegationPurpose,
  });
  // A long log: B's later sequence numbers do not exist in A's log, so an unscoped read would show.
  for (let i = 0; i < 45; i++) {
    const user = users[i % 3];
    expectStatus(
      await t.call('PATCH', `/v1/users/${user.id}`, {
        key: adminKey,
        body: { roles: i % 2 ? ['approver'] : ['auditor'] },
      }),
      200,
      'update B user',
    );
  }
  // Policy versions 1..6, each permitting everything and marked (text and note); then 2 is made
  // active again, so that B's active version is neither its first nor its last.
  const policyMarkers: string[] = [];
  const versions = ['0'];
  for (let i = 0; i < 6; i++) {
    const label = uniqueName('orgb-policy');
    const note = uniqueName('orgb-note');
    policyMarkers.push(label, note);
    const published = expectStatus(
      await t.call('POST', '/v1/policies', {
        key: adminKey,
        body: { policies: `// ${label}\npermit (principal, action, resource);\n`, note },
      }),
      201,
      'publish B policies',
    );
    versions.push(String(published.version));
  }
  expectStatus(
    await t.call('POST', '/v1/policies/2/activate', { key: adminKey, body: { reason: 'b rollback' } }),
    200,
    'activate B version 2',
  );
  // Entities: every (type, id) pair of B's names exists in B, each with a marked attribute and the
  // clearance A's policies ask for; users and secrets sit in a folder.
  const entityTypes = ['User', 'Folder', 'OrgB::Secret'];
  const entityIds = [uniqueName('bent'), `${uniqueName('bent')} with/slash`];
  const attrMarkers: string[] = [];
  expectStatus(
    await t.call('PUT', '/v1/entities', {
      key: adminKey,
      body: entitiesOf(
        entityTypes,
        entityIds,
        () => {
          const marker = uniqueName('orgb-attr');
          attrMarkers.push(marker);
          return { secret: marker, [PROBE_CLEARANCE.attr]: PROBE_CLEARANCE.value };
        },
        (type) => (type === 'Folder' ? [] : [{ type: 'Folder', id: entityIds[0] as string }]),
      ),
    }),
    200,
    'put B entities',
  );
  // Kill-switch locks, none on the org (B's own decisions go on): one on the pending agent, one on
  // the OIDC user (who owns no agent), and one on the suspended agent, released. Reasons marked.
  const lockReasons = [uniqueName('orgb-lock'), uniqueName('orgb-lock'), uniqueName('orgb-lock')];
  const locks = [
    await lockOf(t, adminKey, 'agent', agents[0].id, lockReasons[0] as string),
    await lockOf(t, adminKey, 'owner', users[3].id, lockReasons[1] as string),
    await lockOf(t, adminKey, 'agent', agents[2].id, lockReasons[2] as string),
  ];
  const releaseReason = uniqueName('orgb-release');
  expectStatus(
    await t.call('POST', `/v1/killswitch/${locks[2].id}/release`, {
      key: adminKey,
      body: { reason: releaseReason },
    }),
    200,
    'release B lock',
  );
  // Approval requests, filed as agents file them (B's active version permits everything; the
  // delegations ask a human for every email.send): two credentialed agents (owned by users[1]),
  // each with a delegation for users[0]; the second names who besides the root user may decide
  // (B's admins and users[2]). Resources and argument names carry markers. Two requests stay
  // pending; one is approved and one denied by B's admin (whom the request names).
  const chainPurposes = [uniqueName('orgb-purpose'), uniqueName('orgb-purpose')];
  const chains = [
    await approvalChain(t, adminKey, users[1].id, users[0].id, {
      purpose: chainPurposes[0],
      agentName: uniqueName('orgb-agent'),
    }),
    await approvalChain(t, adminKey, users[1].id, users[0].id, {
      purpose: chainPurposes[1],
      agentName: uniqueName('orgb-agent'),
      approvers: ['role:admin', users[2].id],
    }),
  ];
  const approvalMarkers: string[] = [];
  const fileB = async (chain: (typeof chains)[number]) => {
    const resource = uniqueName('orgb-res');
    const argument = uniqueName('orgb-arg');
    approvalMarkers.push(resource, argument);
    return chain.ask(resource, { [argument]: 1 });
  };
  const filed = [
    await fileB(chains[0] as (typeof chains)[number]),
    await fileB(chains[1] as (typeof chains)[number]),
    await fileB(chains[1] as (typeof chains)[number]),
    await fileB(chains[1] as (typeof chains)[number]),
  ];
  // B's enforcement point (its pep key) fronts a third agent, whose delegation asks no human: it
  // asks about three calls (allowed under B's permit-all version), whose outcomes it has not
  // reported yet, so an outcome recorded in B by anyone else would show as a change of B.
  const enforcedPurpose = uniqueName('orgb-purpose');
  const enforcedChain = await approvalChain(t, adminKey, users[1].id, users[0].id, {
    purpose: enforcedPurpose,
    agentName: uniqueName('orgb-agent'),
    requireApproval: false,
  });
  const enforced: string[] = [];
  for (let i = 0; i < 3; i++) {
    const resource = uniqueName('orgb-res');
    approvalMarkers.push(resource);
    const asked = await enforcementDecision(t, keys[2]?.secret as string, enforcedChain, { resource });
    expect([asked.allowed, asked.reason], asked.decisionId).toEqual([true, undefined]);
    enforced.push(asked.decisionId);
  }
  for (const [i, outcome] of [
    [2, 'approve'],
    [3, 'deny'],
  ] as const) {
    const comment = uniqueName('orgb-comment');
    approvalMarkers.push(comment);
    expectStatus(
      await t.call('POST', `/v1/approvals/${filed[i]?.approvalId}/${outcome}`, {
        key: adminKey,
        body: { comment },
      }),
      200,
      `B ${outcome}s`,
    );
  }
  // Where B's approval events go (a URL nothing listens on, marked), and B's own risk settings.
  const webhook = expectStatus(
    await t.call('PUT', '/v1/approvals/webhook', {
      key: adminKey,
      body: { url: `http://127.0.0.1:9/${uniqueName('orgb-hook')}` },
    }),
    200,
    'B webhook',
  );
  const externalAction = uniqueName('orgb-ext');
  expectStatus(
    await t.call('PUT', '/v1/risk/settings', {
      key: adminKey,
      body: {
        approvalAt: 80,
        denyAt: 99,
        userHours: {
          [users[0].id]: { timeZone: 'Asia/Tokyo', days: [1, 2, 3], start: '09:00', end: '17:00' },
        },
        externalActions: ['email.send', `${externalAction}.*`],
      },
    }),
    200,
    'B risk settings',
  );
  agents.push(...chains.map((chain) => chain.agent), enforcedChain.agent);
  const kids = agents.flatMap((agent) => agent.keys.map((key: any) => key.kid as string));
  const approvalIds = filed.map((f) => f.approvalId);
  const ids = [
    orgId,
    adminKeyId,
    ...users.map((u) => u.id),
    ...agents.map((a) => a.id),
    ...keys.map((k) => k.id),
    ...kids,
    delegation.id,
    ...chains.map((chain) => chain.delegation.id),
    enforcedChain.delegation.id,
    ...locks.map((l) => l.id),
    ...approvalIds,
  ];
  const markers = [
    ...ids,
    orgName,
    ...users.flatMap((u) => [u.displayName, u.email, u.subject].filter(Boolean)),
    ...agents.map((a) => a.name),
    ...keys.map((k) => k.view.name),
    delegationPurpose,
    ...agents.flatMap((a) => a.keys.map((k: any) => k.jwk.x as string)),
    ...policyMarkers,
    ...attrMarkers,
    ...lockReasons,
    releaseReason,
    ...chainPurposes,
    enforcedPurpose,
    ...approvalMarkers,
    webhook.url,
    webhook.secret,
    externalAction,
  ];
  return {
    orgId,
    adminKey,
    pool: {
      agentId: agents.map((a) => a.id),
      userId: users.map((u) => u.id),
      keyId: [adminKeyId, ...keys.map((k) => k.id)],
      kid: kids,
      seq: await auditSeqs(t, adminKey),
      orgId: [orgId],
      delegationId: [
        delegation.id,
        ...chains.map((chain) => chain.delegation.id),
        enforcedChain.delegation.id,
      ],
      lockId: locks.map((l) => l.id),
      // Pending, pending (named approvers), approved, denied.
      approvalId: approvalIds,
      taskId: approvalIds,
      // Allowed decisions B's pep asked for (their outcomes open), then the requestable denials.
      decisionId: [...enforced, ...filed.map((f) => f.decisionId)],
      version: versions,
      type: entityTypes,
      id: entityIds,
    },
    markers,
    ids,
    requestable: filed.map((f) => f.decisionId),
    enforced,
    enforcer: keys[2]?.secret as string,
    asking: [
      { ...agentOf(chains[0]), approvalIds: [filed[0]?.approvalId as string] },
      { ...agentOf(chains[1]), approvalIds: filed.slice(1).map((f) => f.approvalId) },
    ],
  };
}

const agentOf = (chain: { agent: any; creds: AgentCredentials; token: IssuedToken } | undefined) => {
  if (!chain) throw new Error('no chain');
  return { agentId: chain.agent.id as string, creds: chain.creds, token: chain.token };
};

/** Org A (the default org): a few objects of its own, and a fresh admin key to act with. */
async function seedOrgA(
  t: TestApp,
): Promise<OrgWorld & { agent: any; user: any; keyId: string; delegationId: string; lockId: string }> {
  const caller = await createKey(t, t.adminKey, ['admin'], { name: 'cross-org caller' });
  const users = [
    await createUser(t, caller.secret, { displayName: 'a owner' }),
    await createUser(t, caller.secret, { displayName: 'a other' }),
  ];
  // A's chain asks a human for every email.send and names A's admins as approvers; its three
  // requests are filed under the baseline (before A's own policy below, which permits no agent).
  const chain = await approvalChain(t, caller.secret, users[0].id, users[0].id, {
    agentName: 'a-agent',
    keyCount: 2,
    approvers: ['role:admin'],
  });
  const agent = chain.agent;
  const filed = [await chain.ask(), await chain.ask(), await chain.ask()];
  // The caller, as an enforcement point, asks about a call of that agent: a probe (it files no
  // request; it takes no outcome, but it is a decision this key asked for).
  const probed = await enforcementDecision(t, caller.secret, chain, { probe: true });
  expect([probed.allowed, probed.reason], probed.decisionId).toEqual([false, 'approval_required']);
  const key = await createKey(t, caller.secret, ['auditor'], { name: 'a auditor' });
  // A lock of A's own, on an agent of its own that nothing else uses (A's main agent stays usable).
  const lockedAgent = await createAgent(t, caller.secret, users[0].id, {
    name: 'a-locked-agent',
    state: 'active',
  });
  const lock = await lockOf(t, caller.secret, 'agent', lockedAgent.id, 'a lock');
  // Rooted at the user who owns the agent (never offboarded by the probe: they own a live agent).
  const delegation = chain.delegation;
  // One policy version of A's own (it permits only PROBE_CLEARANCE, which nothing of A's has),
  // and a few entities (names of A's own; none carries the clearance).
  expectStatus(
    await t.call('POST', '/v1/policies', {
      key: caller.secret,
      body: { policies: probePolicies('a-policy'), note: 'a note' },
    }),
    201,
    'publish A policies',
  );
  const entityTypes = ['User', 'Doc'];
  const entityIds = ['a-alice', 'a-report'];
  expectStatus(
    await t.call('PUT', '/v1/entities', {
      key: caller.secret,
      body: entitiesOf(entityTypes, entityIds, (type, id) => ({ name: `${type} ${id} of A` })),
    }),
    200,
    'put A entities',
  );
  return {
    orgId: t.defaultOrgId,
    adminKey: caller.secret,
    pool: {
      agentId: [agent.id],
      userId: users.map((u) => u.id),
      // Never A's admin keys: a random revoke of the caller's own key would end the probe early.
      keyId: [key.id],
      kid: agent.keys.map((k: any) => k.kid),
      seq: await auditSeqs(t, caller.secret),
      orgId: [t.defaultOrgId],
      delegationId: [delegation.id],
      lockId: [lock.id],
      approvalId: filed.map((f) => f.approvalId),
      taskId: filed.map((f) => f.approvalId),
      decisionId: [probed.decisionId, ...filed.map((f) => f.decisionId)],
      version: ['0', '1'],
      type: entityTypes,
      id: entityIds,
    },
    markers: [],
    ids: [],
    requestable: filed.map((f) => f.decisionId),
    enforced: [probed.decisionId],
    enforcer: caller.secret,
    asking: [{ ...agentOf(chain), approvalIds: filed.map((f) => f.approvalId) }],
    agent,
    user: users[0],
    keyId: key.id,
    delegationId: delegation.id,
    lockId: lock.id,
  };
}

const paramKind = (name: string): IdKind => {
  if (!(PARAM_KINDS as readonly string[]).includes(name)) {
    throw new Error(`path parameter :${name} has no id kind; add it to PARAM_KINDS and the pools`);
  }
  return name as IdKind;
};

async function partsFor(route: TestApp['routes'][number], g: Gen): Promise<RequestParts> {
  const generator = REQUEST_GENERATORS[route.operationId];
  return generator ? generator(g) : requestFromSchemas(route, g);
}

/**
 * Calls every org route with A's key and B's ids; returns what went wrong (empty: isolated).
 * Findings: a 5xx; an answer containing a B marker or an object of another org; a B id in the
 * path or body that did not end in a 4xx; any change of B's API-visible state or raw rows.
 */
async function probeCrossOrg(
  t: TestApp,
  a: OrgWorld,
  b: OrgWorld,
  options: { randomCalls: number; seed: number },
): Promise<{ calls: number; findings: string[]; statuses: Record<number, number> }> {
  const findings: string[] = [];
  const statuses: Record<number, number> = {};
  const routes = t.routes.filter((route) => route.auth === 'org');
  const beforeApi = await snapshotViaApi(t, b.adminKey);
  const beforeRows = snapshotRows(t.dbFile, b.orgId);
  const future = (days: number) => new Date(t.clock.now().getTime() + days * 86_400_000).toISOString();
  let calls = 0;

  const send = async (
    phase: string,
    route: (typeof routes)[number],
    params: Record<string, string>,
    parts: RequestParts,
  ) => {
    const path = fillUrl(route.url, params);
    const url = withQuery(path, parts.query);
    const body = route.body ? (parts.body ?? {}) : undefined;
    const response = await t.call(route.method, url, { key: a.adminKey, body });
    calls++;
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    const bodyPart = body === undefined ? '' : ` ${JSON.stringify(body).slice(0, 400)}`;
    const where = `[${phase}] ${route.method} ${url}${bodyPart} → ${response.status}`;
    if (response.status >= 500) findings.push(`${where}: server error ${response.text.slice(0, 300)}`);
    const leaked = b.markers.filter((marker) => response.text.includes(marker));
    if (leaked.length > 0) findings.push(`${where}: answer contains B's ${leaked.join(', ')}`);
    const foreign = [...orgIdsIn(response.body)].filter((orgId) => orgId !== a.orgId);
    if (foreign.length > 0) findings.push(`${where}: answer holds objects of org(s) ${foreign.join(', ')}`);
    const bodyText = JSON.stringify(body ?? null);
    const asksAboutB = b.ids.some((id) => path.includes(id) || bodyText.includes(id));
    if (asksAboutB && response.status < 400) findings.push(`${where}: a request naming B's object succeeded`);
    // Nothing of A's permits (see the top of the file): an allow was decided with B's data.
    if (route.url.startsWith('/access/v1/search/') && response.status < 300) {
      // A search finds what is allowed: anything found, or any candidate, came from B.
      if (response.body?.results?.length !== 0 || response.body?.context?.candidates !== 0)
        findings.push(
          `${where}: found, which only B's entities or policies could give: ${response.text.slice(0, 300)}`,
        );
    } else if (route.url.startsWith('/access/v1/evaluation') && response.status < 300) {
      // (Evaluations only: an access-request task is not a decision.)
      const decisions = Array.isArray(response.body?.evaluations)
        ? response.body.evaluations
        : [response.body];
      if (decisions.some((d: any) => d?.decision !== false))
        findings.push(
          `${where}: allowed, which only B's policies or entities allow: ${response.text.slice(0, 300)}`,
        );
    }
    return response;
  };

  // 1. Exhaustive: every org route × every combination of B's ids in its path (bounded), bodies naming B.
  const onlyB = (rng: Rng): Gen => ({ rng, id: (kind) => rng.pick(b.pool[kind]), future });
  const rng = new Rng(options.seed);
  // A's log grows as the probe goes (A's own successful requests); keep a margin above its size.
  const aLogSize = (await listAll(t, a.adminKey, '/v1/audit/events')).length + 10;
  for (const route of routes) {
    const names = pathParamsOf(route.url);
    let combinations: Record<string, string>[] = [{}];
    for (const name of names) {
      const kind = paramKind(name);
      // For seq: B's events beyond A's log (an unscoped read would find them) and one inside it.
      const values =
        kind === 'seq'
          ? b.pool.seq.filter((s) => Number(s) >= aLogSize).concat(b.pool.seq.slice(0, 1))
          : b.pool[kind];
      combinations = combinations.flatMap((combo) => values.map((value) => ({ ...combo, [name]: value })));
    }
    for (const params of combinations.slice(0, 40)) {
      await send('exhaustive', route, params, await partsFor(route, onlyB(rng)));
    }
  }

  // 2. Random: seeded mixtures of B's, A's and nobody's ids, in paths, bodies and query filters.
  const pickId = (kind: IdKind): string => {
    const r = rng.next();
    if (r < 0.7) return rng.pick(b.pool[kind]);
    if (r < 0.93 && a.pool[kind].length > 0) return rng.pick(a.pool[kind]);
    return nobodysId(kind);
  };
  const mixed: Gen = { rng, id: pickId, future };
  for (let i = 0; i < options.randomCalls; i++) {
    const route = rng.pick(routes);
    const params: Record<string, string> = {};
    for (const name of pathParamsOf(route.url)) {
      // Now and then an id of the wrong kind (another org's agent id where a user id belongs).
      params[name] = rng.chance(0.05)
        ? rng.pick(b.pool[rng.pick(['agentId', 'userId', 'keyId'] as const)])
        : pickId(paramKind(name));
    }
    await send(`random#${i} seed=${options.seed}`, route, params, await partsFor(route, mixed));
  }

  // 3. B is exactly as it was.
  const afterApi = await snapshotViaApi(t, b.adminKey);
  const apiDiff = firstDifference(beforeApi, afterApi);
  if (apiDiff) findings.push(`B state changed (API): ${apiDiff}`);
  const rowsDiff = firstDifference(beforeRows, snapshotRows(t.dbFile, b.orgId));
  if (rowsDiff) findings.push(`B state changed (rows): ${rowsDiff}`);
  return { calls, findings, statuses };
}

describe('cross-org isolation', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof seedOrgA>>;
  let b: OrgWorld;

  beforeAll(async () => {
    t = await startTestApp();
    b = await seedOrgB(t);
    a = await seedOrgA(t);
  });
  afterAll(async () => t?.close());

  it('B is larger than A where it matters, so that an unscoped read by sequence number would show', () => {
    expect(b.pool.seq.length).toBeGreaterThan(a.pool.seq.length);
    expect(b.pool.kid.length).toBeGreaterThanOrEqual(6);
    // B has policy versions A does not (an unscoped read of version N would find B's).
    expect(b.pool.version.length).toBeGreaterThan(a.pool.version.length + 2);
  });

  it("B's policy texts and entities hold its markers, and B's own key reaches them (the markers are live)", async () => {
    const last = b.pool.version[b.pool.version.length - 1] as string;
    const version = await t.call('GET', `/v1/policies/${last}`, { key: b.adminKey });
    expect(version.status, version.text).toBe(200);
    // Its label and note (and the id of B's admin key, who published it).
    expect(b.markers.filter((m) => version.text.includes(m)).length).toBeGreaterThanOrEqual(3);
    for (const type of b.pool.type) {
      for (const id of b.pool.id) {
        const url = `/v1/entities/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;
        const entity = await t.call('GET', url, { key: b.adminKey });
        expect([entity.status, entity.body?.uid], `${url} ${entity.text}`).toEqual([200, { type, id }]);
        expect(b.markers.some((m) => entity.text.includes(m))).toBe(true);
      }
    }
    // With B's policies and entities an evaluation is an allow (so the probe's deny check can fire).
    const decision = await t.call('POST', '/access/v1/evaluation', {
      key: b.adminKey,
      body: {
        subject: { type: 'User', id: b.pool.id[0] },
        action: { name: 'read' },
        resource: { type: 'OrgB::Secret', id: b.pool.id[1] },
      },
    });
    expect([decision.status, decision.body?.decision], decision.text).toEqual([200, true]);
  });

  it('direct reads of B objects by id answer 404 with no trace of B', async () => {
    for (const agentId of b.pool.agentId) {
      const r = await t.call('GET', `/v1/agents/${agentId}`, { key: a.adminKey });
      expect([r.status, r.body?.error?.code]).toEqual([404, 'not_found']);
    }
    for (const userId of b.pool.userId) {
      const r = await t.call('GET', `/v1/users/${userId}`, { key: a.adminKey });
      expect([r.status, r.body?.error?.code]).toEqual([404, 'not_found']);
    }
    for (const keyId of b.pool.keyId) {
      const r = await t.call('GET', `/v1/api-keys/${keyId}`, { key: a.adminKey });
      expect([r.status, r.body?.error?.code]).toEqual([404, 'not_found']);
    }
    for (const delegationId of b.pool.delegationId) {
      for (const suffix of ['', '/tree']) {
        const r = await t.call('GET', `/v1/delegations/${delegationId}${suffix}`, { key: a.adminKey });
        expect([r.status, r.body?.error?.code]).toEqual([404, 'not_found']);
      }
      const revoke = await t.call('POST', `/v1/delegations/${delegationId}/revoke`, {
        key: a.adminKey,
        body: { reason: 'probe' },
      });
      expect([revoke.status, revoke.body?.error?.code]).toEqual([404, 'not_found']);
    }
    // Listing with B's ids as filters finds nothing (and A's own delegation is all A sees).
    const listed = await listAll(t, a.adminKey, '/v1/delegations');
    expect(listed.map((d) => d.id)).toEqual([a.delegationId]);
    for (const filter of [
      `agent=${b.pool.agentId[1]}`,
      `user=${b.pool.userId[0]}`,
      `parent=${b.pool.delegationId[0]}`,
    ]) {
      const r = await t.call('GET', `/v1/delegations?${filter}`, { key: a.adminKey });
      expect([r.status, r.body?.items], filter).toEqual([200, []]);
    }
    const lastB = b.pool.seq[b.pool.seq.length - 1] as string;
    const aLog = await listAll(t, a.adminKey, '/v1/audit/events');
    expect(aLog.length).toBeLessThanOrEqual(Number(lastB));
    const r = await t.call('GET', `/v1/audit/events/${lastB}`, { key: a.adminKey });
    expect([r.status, r.body?.error?.code]).toEqual([404, 'not_found']);
    // A's own event with the same number is A's.
    const own = await t.call('GET', '/v1/audit/events/1', { key: a.adminKey });
    expect([own.status, own.body.orgId]).toEqual([200, a.orgId]);
    // The same 404 as for an id that names nothing at all (no existence oracle across orgs).
    const foreign = await t.call('GET', `/v1/agents/${b.pool.agentId[0]}`, { key: a.adminKey });
    const nobody = await t.call('GET', `/v1/agents/${nobodysId('agentId')}`, { key: a.adminKey });
    expect(foreign.text).toBe(nobody.text);
  });

  it("A neither sees, releases nor locks anything of B's through the kill switch", async () => {
    const key = a.adminKey;
    const leaks = (text: string) => b.markers.filter((m) => text.includes(m));
    const bRowsBefore = snapshotRows(t.dbFile, b.orgId);
    const bLocks = await listAll(t, b.adminKey, '/v1/killswitch?all=true');
    expect(bLocks.map((l) => l.id).sort()).toEqual([...b.pool.lockId].sort());
    expect(bLocks.filter((l) => l.releasedAt === undefined)).toHaveLength(2);

    // B's locks, in force or released, answer exactly as a lock id that names nothing.
    const nobody = nobodysId('lockId');
    const nobodyShown = await t.call('GET', `/v1/killswitch/${nobody}`, { key });
    expect([nobodyShown.status, nobodyShown.body?.error?.code]).toEqual([404, 'not_found']);
    const nobodyReleased = await t.call('POST', `/v1/killswitch/${nobody}/release`, {
      key,
      body: { reason: 'probe' },
    });
    expect([nobodyReleased.status, nobodyReleased.body?.error?.code]).toEqual([404, 'not_found']);
    for (const lockId of b.pool.lockId) {
      const shown = await t.call('GET', `/v1/killswitch/${lockId}`, { key });
      expect(shown.text, lockId).toBe(nobodyShown.text);
      const released = await t.call('POST', `/v1/killswitch/${lockId}/release`, {
        key,
        body: { reason: 'probe' },
      });
      expect(released.text, lockId).toBe(nobodyReleased.text);
    }

    // A's lists hold A's one lock only, whatever the filter or cursor (B's ids as cursors too).
    for (const query of [
      '',
      '?all=true',
      '?all=false',
      ...b.pool.lockId.map((id) => `?all=true&cursor=${id}`),
    ]) {
      const listed = await t.call('GET', `/v1/killswitch${query}`, { key });
      expect(listed.status, listed.text).toBe(200);
      expect(leaks(listed.text), query).toEqual([]);
      for (const lock of listed.body.items) expect(lock.id, query).toBe(a.lockId);
    }
    expect((await listAll(t, key, '/v1/killswitch?all=true')).map((l) => l.id)).toEqual([a.lockId]);

    // Locking B's agents, B's owners or B's org is refused as locking what exists nowhere.
    const refusal = async (scope: string, targetId: string) => {
      const r = await t.call('POST', '/v1/killswitch', { key, body: { scope, targetId, reason: 'probe' } });
      expect([r.status, r.body?.error?.code], `${scope} ${targetId} ${r.text}`).toEqual([
        400,
        'invalid_request',
      ]);
      expect(leaks(r.text)).toEqual([]);
      return r.text;
    };
    const nobodyAgent = await refusal('agent', nobodysId('agentId'));
    for (const agentId of b.pool.agentId) expect(await refusal('agent', agentId)).toBe(nobodyAgent);
    const nobodyOwner = await refusal('owner', nobodysId('userId'));
    for (const userId of b.pool.userId) expect(await refusal('owner', userId)).toBe(nobodyOwner);
    expect(await refusal('org', b.orgId)).toBe(await refusal('org', nobodysId('orgId')));

    // Nothing changed: A has still one lock, B's locks and rows are as they were, B's chain is live.
    expect((await listAll(t, key, '/v1/killswitch?all=true')).map((l) => l.id)).toEqual([a.lockId]);
    expect(await listAll(t, b.adminKey, '/v1/killswitch?all=true')).toEqual(bLocks);
    const delegation = await t.call('GET', `/v1/delegations/${b.pool.delegationId[0]}`, { key: b.adminKey });
    expect([delegation.status, delegation.body?.live], delegation.text).toEqual([200, true]);
    expect(firstDifference(bRowsBefore, snapshotRows(t.dbFile, b.orgId))).toBeUndefined();
  });

  it("A neither sees, decides nor gets a task handle for B's approval requests; B's webhook and risk settings stay B's", async () => {
    const key = a.adminKey;
    const leaks = (text: string) => b.markers.filter((m) => text.includes(m));
    const bRowsBefore = snapshotRows(t.dbFile, b.orgId);
    const bBefore = {
      approvals: await listAll(t, b.adminKey, '/v1/approvals'),
      webhook: (await t.call('GET', '/v1/approvals/webhook', { key: b.adminKey })).body,
      risk: (await t.call('GET', '/v1/risk/settings', { key: b.adminKey })).body,
    };
    // B's requests are live for B (so that a leak would show): B's admin reads each, and its webhook
    // and risk settings are B's own (not the defaults).
    expect(bBefore.approvals.map((x) => x.id).sort()).toEqual([...b.pool.approvalId].sort());
    expect(leaks(JSON.stringify(bBefore)).length).toBeGreaterThan(b.pool.approvalId.length);
    expect(bBefore.risk.approvalAt).toBe(80);

    // Keys of A: its admin, a key bound to A's root user (who may read and decide A's own), and a
    // pep key (which submits and follows tasks).
    const rootKey = (await createKey(t, key, ['pep'], { userId: a.user.id })).secret;
    const pep = (await createKey(t, key, ['pep'])).secret;
    const nobody = nobodysId('approvalId');
    const asks = (id: string) =>
      [
        ['GET', `/v1/approvals/${id}`, key, undefined],
        ['GET', `/v1/approvals/${id}?wait=2`, key, undefined],
        ['GET', `/v1/approvals/${id}`, rootKey, undefined],
        ['POST', `/v1/approvals/${id}/approve`, key, { comment: 'probe' }],
        ['POST', `/v1/approvals/${id}/deny`, key, { comment: 'probe' }],
        ['POST', `/v1/approvals/${id}/approve`, rootKey, {}],
        ['POST', `/v1/approvals/${id}/deny`, rootKey, {}],
        ['GET', `/access/v1/requests/${id}`, key, undefined],
        ['GET', `/access/v1/requests/${id}`, pep, undefined],
      ] as const;
    // Each answer for B's request is exactly the answer for an id that names nothing: a 404.
    const expected: string[] = [];
    for (const [method, url, k, body] of asks(nobody)) {
      const r = await t.call(method, url, { key: k, body });
      expect([r.status, r.body?.error?.code], `${method} ${url} ${r.text}`).toEqual([404, 'not_found']);
      expected.push(r.text);
    }
    for (const id of b.pool.approvalId) {
      const answers = [];
      for (const [method, url, k, body] of asks(id))
        answers.push((await t.call(method, url, { key: k, body })).text);
      expect(answers, id).toEqual(expected);
    }

    // A submitting B's requestable denials (B's decision numbers) gets what that number is in A's
    // own log: never B's task. Numbers beyond A's log answer as a number that names nothing.
    const aLog = (await listAll(t, key, '/v1/audit/events')).length;
    const submit = (evaluationId: string) =>
      t.call('POST', '/access/v1/requests', { key: pep, body: { denial: { evaluation_id: evaluationId } } });
    const nowhere = await submit(nobodysId('seq'));
    expect([nowhere.status, nowhere.body?.error?.code], nowhere.text).toEqual([400, 'invalid_request']);
    for (const evaluationId of b.requestable) {
      const r = await submit(evaluationId);
      expect(leaks(r.text), evaluationId).toEqual([]);
      if (Number(evaluationId) >= aLog) expect(r.text, evaluationId).toBe(nowhere.text);
      else if (!a.requestable.includes(evaluationId)) expect(r.status, r.text).toBe(400);
    }

    // A's lists hold A's requests only, whatever the status filter or cursor (B's ids as cursors).
    for (const query of [
      '',
      ...['pending', 'approved', 'denied', 'expired', 'cancelled', 'used'].map((s) => `?status=${s}`),
      ...b.pool.approvalId.map((id) => `?cursor=${id}`),
    ]) {
      const listed = await t.call('GET', `/v1/approvals${query}`, { key });
      expect(listed.status, listed.text).toBe(200);
      expect(leaks(listed.text), query).toEqual([]);
      for (const item of listed.body.items) expect(a.pool.approvalId, query).toContain(item.id);
    }
    expect((await listAll(t, key, '/v1/approvals')).map((x) => x.id).sort()).toEqual(
      [...a.pool.approvalId].sort(),
    );

    // A's webhook and risk settings are A's own: A sets them, and sees neither B's nor a trace of them.
    const before = await t.call('GET', '/v1/approvals/webhook', { key });
    expect([before.status, leaks(before.text)], before.text).toEqual([200, []]);
    const set = await t.call('PUT', '/v1/approvals/webhook', {
      key,
      body: { url: 'http://127.0.0.1:9/a-hook' },
    });
    expect([set.status, set.body?.url, leaks(set.text)], set.text).toEqual([
      200,
      'http://127.0.0.1:9/a-hook',
      [],
    ]);
    const risk = await t.call('GET', '/v1/risk/settings', { key });
    expect([risk.status, risk.body?.approvalAt, leaks(risk.text)], risk.text).toEqual([200, 70, []]);
    const put = await t.call('PUT', '/v1/risk/settings', { key, body: { approvalAt: 85, denyAt: 101 } });
    expect([put.status, put.body?.approvalAt, leaks(put.text)], put.text).toEqual([200, 85, []]);
    const shown = await t.call('GET', '/v1/risk/settings', { key });
    expect([shown.body?.approvalAt, shown.body?.userHours], shown.text).toEqual([85, undefined]);

    // Nothing of B changed: its requests, webhook, risk settings and rows are as they were.
    expect({
      approvals: await listAll(t, b.adminKey, '/v1/approvals'),
      webhook: (await t.call('GET', '/v1/approvals/webhook', { key: b.adminKey })).body,
      risk: (await t.call('GET', '/v1/risk/settings', { key: b.adminKey })).body,
    }).toEqual(bBefore);
    expect(firstDifference(bRowsBefore, snapshotRows(t.dbFile, b.orgId))).toBeUndefined();
  });

  it('enforcement points record outcomes only in their own org, and agents follow only their own approval requests', async () => {
    const leaks = (text: string) => b.markers.filter((m) => text.includes(m));
    // A's enforcement points (a fresh pep key, A's admins), and a fresh pep key of B.
    const aKeys = [(await createKey(t, a.adminKey, ['pep'])).secret, a.adminKey, t.adminKey];
    const bPep = (await createKey(t, b.adminKey, ['pep'])).secret;
    const bRowsBefore = snapshotRows(t.dbFile, b.orgId);
    const aRowsBefore = snapshotRows(t.dbFile, a.orgId);
    const outcome = (decisionId: string, key: string) =>
      t.call('POST', `/v1/enforcement/decisions/${decisionId}/outcome`, {
        key,
        body: { status: 'success', durationMs: 1 },
      });
    // A's keys on B's decisions: the 404 of nothing.
    for (const key of aKeys) {
      const nothing = await outcome(nobodysId('decisionId'), key);
      expect([nothing.status, nothing.body?.error?.code], nothing.text).toEqual([404, 'not_found']);
      for (const decisionId of b.enforced) {
        const r = await outcome(decisionId, key);
        expect(r.text, decisionId).toBe(nothing.text);
      }
    }
    // B's pep, on A's decision asked by A's admin: the 404 of nothing too.
    const bNothing = await outcome(nobodysId('decisionId'), bPep);
    expect((await outcome(a.enforced[0] as string, bPep)).text).toBe(bNothing.text);
    expect(firstDifference(bRowsBefore, snapshotRows(t.dbFile, b.orgId))).toBeUndefined();
    expect(firstDifference(aRowsBefore, snapshotRows(t.dbFile, a.orgId))).toBeUndefined();

    // Agents: each reads the status of its own requests (exactly id, status, expiry), and of no one
    // else's: another agent of its org, or an agent of the other org, gets the 404 of nothing.
    const everyone = [...a.asking, ...b.asking];
    for (const asker of everyone) {
      const nothing = await agentStatus(t, asker, nobodysId('approvalId'));
      expect([nothing.status, nothing.body?.error?.code], nothing.text).toEqual([404, 'not_found']);
      for (const owner of everyone) {
        for (const approvalId of owner.approvalIds) {
          const r = await agentStatus(t, asker, approvalId);
          if (owner === asker) {
            expect([r.status, Object.keys(r.body).sort(), r.body.id], r.text).toEqual([
              200,
              ['expiresAt', 'id', 'status'],
              approvalId,
            ]);
          } else {
            expect(r.text, `${asker.agentId} asks about ${approvalId}`).toBe(nothing.text);
          }
          if (!b.asking.includes(asker)) expect(leaks(r.text)).toEqual([]);
        }
      }
    }
    // The ids are live in B: B's admin did not ask (404), the pep key that asked records it (201).
    const last = b.enforced[b.enforced.length - 1] as string;
    const notAsked = await outcome(last, b.adminKey);
    expect([notAsked.status, notAsked.body?.error?.code], notAsked.text).toEqual([404, 'not_found']);
    const recorded = await outcome(last, b.enforcer);
    expect(recorded.status, recorded.text).toBe(201);
  });

  // Found by the probe: the submission once answered 500 (an unbound method building the task's URL).
  it("A's PEP submitting A's own requestable denial gets its task handle (202)", async () => {
    const pep = (await createKey(t, a.adminKey, ['pep'])).secret;
    const evaluationId = a.requestable[2] as string;
    const r = await t.call('POST', '/access/v1/requests', {
      key: pep,
      body: { denial: { evaluation_id: evaluationId } },
    });
    expect([r.status, r.body?.task?.id], r.text).toEqual([202, a.pool.approvalId[2]]);
  });

  it("A asking for B's policy versions and entities by name gets its own object of that name or a 404, never B's", async () => {
    const key = a.adminKey;
    const leaks = (text: string) => b.markers.filter((m) => text.includes(m));
    const aVersions = new Map(
      (await listAll(t, key, '/v1/policies')).map((v) => [String(v.version), v] as const),
    );
    expect([...aVersions.keys()]).toEqual(a.pool.version);
    const nobody = await t.call('GET', `/v1/policies/${nobodysId('version')}`, { key });
    expect([nobody.status, nobody.body?.error?.code]).toEqual([404, 'not_found']);
    for (const version of b.pool.version) {
      const mine = aVersions.get(version);
      const shown = await t.call('GET', `/v1/policies/${version}`, { key });
      expect(leaks(shown.text), `version ${version}`).toEqual([]);
      if (mine) {
        // A's own version with that number: A's text and hash.
        expect([shown.status, shown.body.hash, shown.body.policies]).toEqual([200, mine.hash, mine.policies]);
      } else {
        // The same 404 as a version that exists nowhere (no existence oracle).
        expect(shown.text, `version ${version}`).toBe(nobody.text);
      }
      const diff = await t.call('GET', `/v1/policies/${version}/diff?against=0`, { key });
      expect(leaks(diff.text), `diff ${version}`).toEqual([]);
      expect(diff.status, diff.text).toBe(mine ? 200 : 404);
      const back = await t.call('GET', `/v1/policies/1/diff?against=${version}`, { key });
      expect(leaks(back.text), `diff against ${version}`).toEqual([]);
      expect(back.status, back.text).toBe(mine ? 200 : 404);
      if (!mine) {
        const activate = await t.call('POST', `/v1/policies/${version}/activate`, {
          key,
          body: { reason: 'probe' },
        });
        expect([activate.status, activate.body?.error?.code], activate.text).toEqual([404, 'not_found']);
      }
    }
    // A's list holds A's versions only, and A's active one is still A's.
    const list = await t.call('GET', '/v1/policies?limit=200', { key });
    expect(leaks(list.text)).toEqual([]);
    expect([list.body.active, list.body.items.map((v: any) => String(v.version))]).toEqual([
      1,
      a.pool.version,
    ]);

    // Entities: none of B's names exists in A; the same 404 as a uid that names nothing.
    const nothing = await t.call(
      'GET',
      `/v1/entities/${encodeURIComponent(nobodysId('type'))}/${encodeURIComponent(nobodysId('id'))}`,
      { key },
    );
    expect([nothing.status, nothing.body?.error?.code]).toEqual([404, 'not_found']);
    for (const type of b.pool.type) {
      for (const id of b.pool.id) {
        const url = `/v1/entities/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;
        const shown = await t.call('GET', url, { key });
        expect(shown.text, url).toBe(nothing.text);
        const removed = await t.call('DELETE', url, { key });
        expect(removed.text, url).toBe(nothing.text);
      }
      const listed = await t.call('GET', `/v1/entities?type=${encodeURIComponent(type)}&limit=200`, { key });
      expect(leaks(listed.text), type).toEqual([]);
      expect(
        listed.body.items.map((e: any) => e.uid),
        type,
      ).toEqual(a.pool.type.includes(type) ? a.pool.id.map((id) => ({ type, id })) : []);
    }
    expect(leaks((await t.call('GET', '/v1/entities?limit=200', { key })).text)).toEqual([]);

    // Decisions in A about B's names use A's policies and A's entities: B permits everything and
    // B's entities carry the clearance A's policy asks for, yet A's answer is a deny.
    const asks = b.pool.type.flatMap((type) =>
      b.pool.id.map((id) => ({
        subject: { type, id },
        action: { name: 'read' },
        resource: { type: 'OrgB::Secret', id: b.pool.id[0] as string },
      })),
    );
    for (const ask of asks) {
      const r = await t.call('POST', '/access/v1/evaluation', { key, body: ask });
      expect([r.status, r.body?.decision, r.body?.context?.reason], r.text).toEqual([
        200,
        false,
        'no_policy_permits',
      ]);
    }
    const batch = await t.call('POST', '/access/v1/evaluations', {
      key,
      body: { evaluations: asks, options: { evaluations_semantic: 'permit_on_first_permit' } },
    });
    expect(batch.status, batch.text).toBe(200);
    expect(batch.body.evaluations.map((d: any) => d.decision)).toEqual(asks.map(() => false));
    // ...while A's policy is live: the clearance sent as a property is an allow.
    const control = await t.call('POST', '/access/v1/evaluation', {
      key,
      body: {
        ...asks[0],
        subject: { ...asks[0]?.subject, properties: { [PROBE_CLEARANCE.attr]: PROBE_CLEARANCE.value } },
      },
    });
    expect([control.status, control.body?.decision], control.text).toEqual([200, true]);
    // A's decision records hold nothing of B's either.
    const decisions = await t.call('GET', '/v1/audit/events?type=decision&limit=200', { key });
    expect(decisions.body.items.length).toBeGreaterThanOrEqual(asks.length * 2 + 1);
    expect(leaks(decisions.text)).toEqual([]);
  });

  it("A reaches its own objects through the same routes (the probe's 404s are scoping, not broken URLs)", async () => {
    const key = a.adminKey;
    // Mirror every route that has path parameters, with A's own ids: never a 404, never a 5xx.
    const owner = await createUser(t, key, { displayName: 'mirror owner' });
    const other = await createUser(t, key, { displayName: 'mirror other' });
    const agent = await createAgent(t, key, owner.id, { state: 'active', keyCount: 2 });
    const apiKey = await createKey(t, key, ['pep'], { name: 'mirror key' });
    // Rooted at the owner (the mirror offboards `other`, which would revoke it first).
    const delegation = await createDelegation(t, key, agent.id, owner.id);
    // A lock of A's own, on an agent of its own (the mirror shows it, then releases it).
    const ownLock = await lockOf(t, key, 'agent', (await createAgent(t, key, owner.id)).id, 'mirror');
    // Two more policy versions: the mirror shows, diffs and activates the earlier (not active) one.
    const publish = async (label: string) =>
      expectStatus(
        await t.call('POST', '/v1/policies', { key, body: { policies: probePolicies(label) } }),
        201,
        'publish',
      ).version as number;
    const mirrorLabel = uniqueName('mirror-policy');
    const ownVersion = await publish(mirrorLabel);
    await publish(uniqueName('mirror-later'));
    // An entity of A's own, with a namespaced type and an id that needs encoding in a path.
    const ownEntity = { type: 'Mirror::Doc', id: `${uniqueName('mirror doc')}/ü?#%` };
    expectStatus(
      await t.call('PUT', '/v1/entities', {
        key,
        body: { entities: [{ uid: ownEntity, attrs: { title: 'mirror' } }] },
      }),
      200,
      'put',
    );
    const own: Record<IdKind, string> = {
      agentId: agent.id,
      userId: other.id,
      keyId: apiKey.id,
      kid: agent.keys[1].kid,
      seq: '0',
      orgId: t.defaultOrgId,
      delegationId: delegation.id,
      lockId: ownLock.id,
      // A's own requests (they name A's admins: the mirror approves the first, then its deny is a 409).
      approvalId: a.pool.approvalId[0] as string,
      taskId: a.pool.taskId[1] as string,
      // The probe A's key asked for: found (a 409, it takes no outcome), never a 404.
      decisionId: a.enforced[0] as string,
      version: String(ownVersion),
      type: ownEntity.type,
      id: ownEntity.id,
    };
    // A's own version and entity, by name, are A's.
    const shown = await t.call('GET', `/v1/policies/${ownVersion}`, { key });
    expect([shown.status, shown.body.policies.includes(mirrorLabel)], shown.text).toEqual([200, true]);
    const entityUrl = `/v1/entities/${encodeURIComponent(ownEntity.type)}/${encodeURIComponent(ownEntity.id)}`;
    const entity = await t.call('GET', entityUrl, { key });
    expect([entity.status, entity.body?.uid, entity.body?.attrs], entity.text).toEqual([
      200,
      ownEntity,
      { title: 'mirror' },
    ]);
    const ownGen: Gen = {
      rng: new Rng(1),
      id: (kind) => (kind === 'userId' ? other.id : own[kind]),
      future: (days) => new Date(t.clock.now().getTime() + days * 86_400_000).toISOString(),
    };
    let mirrored = 0;
    for (const route of t.routes.filter((r) => r.auth === 'org' && pathParamsOf(r.url).length > 0)) {
      const params = Object.fromEntries(pathParamsOf(route.url).map((name) => [name, own[paramKind(name)]]));
      const parts = await partsFor(route, ownGen);
      const url = withQuery(fillUrl(route.url, params), parts.query);
      const response = await t.call(route.method, url, {
        key,
        body: route.body ? (parts.body ?? {}) : undefined,
      });
      expect(response.status, `${routeName(route)} ${response.text}`).not.toBe(404);
      expect(response.status, `${routeName(route)} ${response.text}`).toBeLessThan(500);
      if (route.method === 'GET') expect(response.status, `${routeName(route)} ${response.text}`).toBe(200);
      mirrored++;
    }
    expect(mirrored).toBeGreaterThanOrEqual(24);
    // The mirror activated the earlier version and deleted the entity (both A's own).
    const policies = await t.call('GET', '/v1/policies?limit=200', { key });
    expect(policies.body.active).toBe(ownVersion);
    expect((await t.call('GET', entityUrl, { key })).status).toBe(404);
    // ...and released A's own lock.
    const released = await t.call('GET', `/v1/killswitch/${ownLock.id}`, { key });
    expect([released.status, released.body?.releaseReason !== undefined], released.text).toEqual([200, true]);

    // The body-level counterparts: A's own user as owner is accepted where B's is refused.
    const registered = await t.call('POST', '/v1/agents', {
      key,
      body: {
        name: 'own owner',
        ownerId: owner.id,
        boundaries: { actions: ['a.*'], resources: ['r:x/*'] },
        keys: [await publicJwk()],
      },
    });
    expect(registered.status, registered.text).toBe(201);
    const foreignOwner = await t.call('POST', '/v1/agents', {
      key,
      body: {
        name: 'b owner',
        ownerId: b.pool.userId[0],
        boundaries: { actions: ['a.*'], resources: ['r:x/*'] },
        keys: [await publicJwk()],
      },
    });
    expect(foreignOwner.status, foreignOwner.text).toBe(400);
    const boundKey = await t.call('POST', '/v1/api-keys', {
      key,
      body: { name: 'bound', roles: ['operator'], userId: owner.id },
    });
    expect(boundKey.status, boundKey.text).toBe(201);
    const foreignBound = await t.call('POST', '/v1/api-keys', {
      key,
      body: { name: 'bound', roles: ['operator'], userId: b.pool.userId[0] },
    });
    expect(foreignBound.status, foreignBound.text).toBe(400);
    // A grant to A's own active agent for A's own user succeeds; B's agent or B's user is refused.
    const grant = (delegateAgentId: string, onBehalfOf: string) =>
      t.call('POST', '/v1/delegations', {
        key,
        body: {
          delegateAgentId,
          purpose: 'mirror',
          scope: {
            actions: ['email.send'],
            resources: ['mailbox:alice/inbox'],
            expiresAt: new Date(t.clock.now().getTime() + 3_600_000).toISOString(),
          },
          onBehalfOf,
        },
      });
    const ownGrant = await grant(a.agent.id, a.user.id);
    expect(ownGrant.status, ownGrant.text).toBe(201);
    const foreignAgent = await grant(b.pool.agentId[1] as string, a.user.id);
    expect(foreignAgent.status, foreignAgent.text).toBe(400);
    const foreignUser = await grant(a.agent.id, b.pool.userId[0] as string);
    expect(foreignUser.status, foreignUser.text).toBe(400);
    // (Revoked again, so that A's list keeps only A's seeded delegation for the later checks.)
    const revoked = await t.call('POST', `/v1/delegations/${ownGrant.body.id}/revoke`, {
      key,
      body: { reason: 'mirror' },
    });
    expect(revoked.status, revoked.text).toBe(200);
  });

  it('no route, with any mixture of B ids, shows or changes anything of B (>= 200 calls)', async () => {
    const result = await probeCrossOrg(t, a, b, { randomCalls: 240, seed: SEED });
    expect(result.findings, `seed ${SEED}`).toEqual([]);
    expect(result.calls).toBeGreaterThanOrEqual(200);
    // The probe did real work: plenty of refusals, and some of A's own requests succeeded.
    expect(result.statuses[404] ?? 0).toBeGreaterThan(50);
    expect(Object.entries(result.statuses).some(([s, n]) => Number(s) < 300 && n > 10)).toBe(true);
  });

  it("A's own objects are still there and reachable by A afterwards", async () => {
    const agent = await t.call('GET', `/v1/agents/${a.agent.id}`, { key: a.adminKey });
    expect([agent.status, agent.body.id, agent.body.orgId]).toEqual([200, a.agent.id, a.orgId]);
    const user = await t.call('GET', `/v1/users/${a.user.id}`, { key: a.adminKey });
    expect([user.status, user.body.id]).toEqual([200, a.user.id]);
    const key = await t.call('GET', `/v1/api-keys/${a.keyId}`, { key: a.adminKey });
    expect([key.status, key.body.id]).toEqual([200, a.keyId]);
    const event = await t.call('GET', '/v1/audit/events/0', { key: a.adminKey });
    expect([event.status, event.body.orgId]).toEqual([200, a.orgId]);
    const listed = await listAll(t, a.adminKey, '/v1/agents');
    expect(listed.map((x) => x.id)).toContain(a.agent.id);
    // ...and B, with its own key, still sees all of its own.
    const bAgents = await listAll(t, b.adminKey, '/v1/agents');
    expect(bAgents.map((x) => x.id).sort()).toEqual([...b.pool.agentId].sort());
    const bDelegations = await listAll(t, b.adminKey, '/v1/delegations');
    expect(bDelegations.map((x) => [x.id, x.status, x.live]).sort()).toEqual(
      b.pool.delegationId.map((id) => [id, 'active', true]).sort(),
    );
    // B's approval requests: as seeded (pending, pending, approved, denied).
    const bApprovals = await listAll(t, b.adminKey, '/v1/approvals');
    expect(Object.fromEntries(bApprovals.map((x) => [x.id, x.status]))).toEqual(
      Object.fromEntries(
        b.pool.approvalId.map((id, i) => [id, ['pending', 'pending', 'approved', 'denied'][i]]),
      ),
    );
    const bPolicies = await t.call('GET', '/v1/policies?limit=200', { key: b.adminKey });
    expect([bPolicies.body.active, bPolicies.body.items.map((v: any) => String(v.version))]).toEqual([
      2,
      b.pool.version,
    ]);
    const bEntities = await listAll(t, b.adminKey, '/v1/entities');
    expect(bEntities).toHaveLength(b.pool.type.length * b.pool.id.length);
    // B's locks: the first two still in force, the third still released, none added.
    const bLocks = await listAll(t, b.adminKey, '/v1/killswitch?all=true');
    expect(Object.fromEntries(bLocks.map((l) => [l.id, l.releasedAt === undefined]))).toEqual(
      Object.fromEntries(b.pool.lockId.map((id, i) => [id, i < 2])),
    );
  });
});

/**
 * userHours (PUT /v1/risk/settings) is keyed by user id, and the keys are not checked against the
 * org's users: an org may store another org's user ids (or ids of nobody) in its own settings, and
 * its audit log (risk.settings.updated) then holds them. Nothing of B is shown or changed, and the
 * answer is the same as for nobody's id (no existence oracle); but it breaks the rule the probe
 * holds every other request to: a body naming another org's object is refused (ownerId, userId,
 * onBehalfOf and lock targets all answer 400). On an app of its own: A's log would otherwise hold
 * B's user id, which the probe rightly reports. The probe's generator leaves userHours out.
 */
describe("risk settings: userHours naming B's users", () => {
  let t: TestApp;
  let bUser: string;
  let bOrgId: string;
  const hours = { timeZone: 'UTC', days: [1], start: '09:00', end: '10:00' };
  const put = (userId: string) =>
    t.call('PUT', '/v1/risk/settings', { key: t.adminKey, body: { userHours: { [userId]: hours } } });

  beforeAll(async () => {
    t = await startTestApp();
    const b = await createOrg(t, uniqueName('orgb-name'));
    bOrgId = b.orgId;
    bUser = (await createUser(t, b.adminKey, { displayName: uniqueName('orgb-user') })).id;
  });
  afterAll(async () => t?.close());

  it("A's answer for B's user is the answer for nobody's, and B is untouched", async () => {
    const before = snapshotRows(t.dbFile, bOrgId);
    const foreign = await put(bUser);
    const nobody = await put(nobodysId('userId'));
    expect(foreign.status).toBe(nobody.status);
    // The id is named twice (field and message): every occurrence stands for "the user".
    expect(foreign.text.replaceAll(bUser, 'USER')).toBe(nobody.text.replace(/usr_[0-9A-Z]{26}/g, 'USER'));
    expect(firstDifference(before, snapshotRows(t.dbFile, bOrgId))).toBeUndefined();
  });

  // Found by the probe: userHours once accepted another org's user (and nobody's).
  it("A refuses userHours for a user that is not A's, as every other body naming a user", async () => {
    const answers = [];
    for (const userId of [bUser, nobodysId('userId')]) {
      const r = await put(userId);
      answers.push([r.status, r.body?.error?.code]);
    }
    expect(answers).toEqual([
      [400, 'invalid_request'],
      [400, 'invalid_request'],
    ]);
  });
});

/**
 * The probe must fail when isolation breaks. Each case breaks the store at run time in one way,
 * runs a shorter probe, and expects it to report; the original method is always put back.
 */
describe('the probe is not vacuous', () => {
  type Proto = Record<string, unknown>;
  const reader = SqliteOrgReader.prototype as unknown as Proto;
  const transaction = SqliteOrgTransaction.prototype as unknown as Proto;
  const unscopedDoc = (table: string) =>
    async function (this: { db: any }, id: string) {
      const row = this.db.prepare(`SELECT doc FROM ${table} WHERE id = ?`).get(id) as
        | { doc: string }
        | undefined;
      return row ? JSON.parse(row.doc) : undefined;
    };

  /** getDocument by (kind, id) that forgot org_id, and prefers another org's row. */
  const unscopedGetDocument = async function (this: { db: any; orgId: string }, kind: string, id: string) {
    const rows = this.db
      .prepare('SELECT org_id, id, tag, doc FROM documents WHERE kind = ? AND id = ?')
      .all(kind, id) as { org_id: string; id: string; tag: string; doc: string }[];
    const row = rows.find((r) => r.org_id !== this.orgId) ?? rows[0];
    return row ? { id: row.id, tag: row.tag, doc: JSON.parse(row.doc) } : undefined;
  };

  /** A read by (part of) the primary key that forgot org_id, and prefers another org's row. */
  const foreignFirst = (table: string, where: string) =>
    async function (this: { db: any; orgId: string }, ...args: unknown[]) {
      const rows = this.db.prepare(`SELECT org_id, doc FROM ${table} WHERE ${where}`).all(...args) as {
        org_id: string;
        doc: string;
      }[];
      const row = rows.find((r) => r.org_id !== this.orgId) ?? rows[0];
      return row ? JSON.parse(row.doc) : undefined;
    };

  type Patch = Array<[Proto, string, unknown]>;
  const mutations: Array<{
    name: string;
    patch: Patch | ((t: TestApp, b: OrgWorld) => Patch);
    expect: RegExp;
  }> = [
    {
      name: 'getAgent ignores org_id',
      patch: [[reader, 'getAgent', unscopedDoc('agents')]],
      expect: /GET \/v1\/agents\/agt_\w+ → 200: answer contains B's/,
    },
    {
      name: 'getUser ignores org_id',
      patch: [[reader, 'getUser', unscopedDoc('users')]],
      expect: /GET \/v1\/users\/usr_\w+ → 200: answer contains B's/,
    },
    {
      name: 'getApiKey ignores org_id',
      patch: [[reader, 'getApiKey', unscopedDoc('api_keys')]],
      expect: /GET \/v1\/api-keys\/key_\w+ → 200: answer contains B's/,
    },
    {
      name: 'getDelegation ignores org_id',
      patch: [[reader, 'getDelegation', unscopedDoc('delegations')]],
      expect: /GET \/v1\/delegations\/dlg_\w+ → 200: answer contains B's/,
    },
    {
      name: 'getAuditCanonical ignores org_id',
      patch: [
        [
          reader,
          'getAuditCanonical',
          async function (this: { db: any; orgId: string }, seq: number) {
            const rows = this.db
              .prepare('SELECT org_id, record FROM audit_events WHERE seq = ?')
              .all(seq) as {
              org_id: string;
              record: string;
            }[];
            // Prefers another org's record when there is one: a store that forgot org_id.
            return (rows.find((r) => r.org_id !== this.orgId) ?? rows[0])?.record;
          },
        ],
      ],
      expect: /GET \/v1\/audit\/events\/\d+ → 200: answer (contains B's|holds objects of org)/,
    },
    {
      name: 'getAgent and updateAgent ignore org_id (a write reaches B)',
      patch: [
        [reader, 'getAgent', unscopedDoc('agents')],
        [
          transaction,
          'updateAgent',
          (() => {
            const original = transaction.updateAgent as (this: any, ...args: unknown[]) => Promise<void>;
            return async function (this: any, agent: { orgId: string }, expectedVersion: number) {
              const scoped = this.orgId;
              this.orgId = agent.orgId; // writes under the agent's own org, whichever that is
              try {
                return await original.call(this, agent, expectedVersion);
              } finally {
                this.orgId = scoped;
              }
            };
          })(),
        ],
      ],
      expect: /^B state changed \((API|rows)\)/,
    },
    {
      name: 'getPolicyVersion ignores org_id',
      patch: [[reader, 'getPolicyVersion', foreignFirst('policy_versions', 'version = ?')]],
      expect: /GET \/v1\/policies\/\d+ → 200: answer contains B's/,
    },
    {
      name: 'getEntity ignores org_id',
      patch: [[reader, 'getEntity', foreignFirst('entities', 'type = ? AND id = ?')]],
      expect: /GET \/v1\/entities\/\S+ → 200: answer contains B's/,
    },
    {
      name: 'getDocument ignores org_id',
      patch: [[reader, 'getDocument', unscopedGetDocument]],
      expect: /GET \/v1\/killswitch\/lck_\w+ → 200: answer contains B's/,
    },
    {
      name: 'getDocument ignores org_id (approval requests and their tasks)',
      patch: [[reader, 'getDocument', unscopedGetDocument]],
      expect: /GET \/(v1\/approvals|access\/v1\/requests)\/apr_\w+\S* → 200: answer contains B's/,
    },
    {
      name: 'listDocuments ignores org_id',
      patch: [
        [
          reader,
          'listDocuments',
          async function (
            this: { db: any },
            kind: string,
            tag: string | undefined,
            page: { limit: number; after?: string },
          ) {
            const rows = this.db
              .prepare(
                'SELECT id, tag, doc FROM documents WHERE kind = ? AND (? IS NULL OR tag = ?) AND id > ? ORDER BY id LIMIT ?',
              )
              .all(kind, tag ?? null, tag ?? null, page.after ?? '', page.limit) as {
              id: string;
              tag: string;
              doc: string;
            }[];
            return { items: rows.map((r) => ({ id: r.id, tag: r.tag, doc: JSON.parse(r.doc) })) };
          },
        ],
      ],
      // Locks and approval requests are both listed through listDocuments; which of the two lists
      // shows B's first depends on the seeded queries (a B lock id as cursor lists past B's locks).
      expect: /GET \/v1\/(killswitch|approvals)(\?\S*)? → 200: answer contains B's/,
    },
    {
      name: "decisions are taken with another org's active policy",
      patch: (t, b) => {
        const policies = t.engine.policies as unknown as Proto & { active: (orgId: string) => unknown };
        const original = policies.active;
        return [[policies, 'active', (_orgId: string) => original.call(policies, b.orgId)]];
      },
      expect: /POST \/access\/v1\/evaluations? .*→ 200: allowed, which only B's/,
    },
  ];

  for (const mutation of mutations) {
    it(`reports a store where ${mutation.name}`, async () => {
      const t = await startTestApp();
      let saved: Array<readonly [Proto, string, unknown]> = [];
      try {
        // The patched prototypes are the ones the app uses.
        expect(Object.getPrototypeOf(Object.getPrototypeOf(t.engine.store.org(t.defaultOrgId)))).toBe(
          SqliteOrgReader.prototype,
        );
        const b = await seedOrgB(t);
        const a = await seedOrgA(t);
        const patch = typeof mutation.patch === 'function' ? mutation.patch(t, b) : mutation.patch;
        saved = patch.map(([proto, name]) => [proto, name, proto[name]] as const);
        for (const [proto, name, replacement] of patch) proto[name] = replacement;
        const result = await probeCrossOrg(t, a, b, { randomCalls: 20, seed: SEED });
        expect(result.findings.length).toBeGreaterThan(0);
        expect(
          result.findings.some((finding) => mutation.expect.test(finding)),
          result.findings.slice(0, 5).join('\n'),
        ).toBe(true);
      } finally {
        for (const [proto, name, original] of saved) proto[name] = original;
        await t.close();
      }
    });
  }
});
