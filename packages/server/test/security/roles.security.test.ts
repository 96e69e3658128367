/**
 * Who may call what inside an org. The expected table below is written here, by hand, from the
 * product's rules; it deliberately does not import PERMISSIONS from src (a test that read the
 * table it checks would pass whatever the table said).
 *
 * For every org route (taken from the route table: a new route without an expectation fails)
 * and every role, a key holding only that role calls the route on fresh objects: 403 `forbidden`
 * when the role may not, a success when it may. (Approval requests by id answer a key that may not
 * read them 404, as for an id that names nothing, see APPROVAL_BY_ID; and deciding one is no role
 * rule at all: "who decides an approval" below.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import { boundaries, publicJwk, startTestApp } from '../harness.js';
import {
  ALL_ROLES,
  approvalChain,
  createAgent,
  createDelegation,
  createKey,
  createUser,
  enforcementDecision,
  type FiledApproval,
  fillUrl,
  type IdKind,
  keyIdOf,
  nobodysId,
  pathParamsOf,
  type Role,
  routeName,
  uniqueName,
  withQuery,
} from './helpers.js';

const READERS: Role[] = ['admin', 'operator', 'approver', 'auditor'];
const WRITERS: Role[] = ['admin', 'operator'];
const ADMIN: Role[] = ['admin'];
const AUDIT: Role[] = ['admin', 'auditor'];
/** Policies and entities are read by those who write or review them, never by approvers or peps. */
const POLICY_READERS: Role[] = ['admin', 'operator', 'auditor'];
/** Decisions are asked for by enforcement points (and the admin), nobody else. */
const DECIDERS: Role[] = ['admin', 'pep'];

/** Our own statement of the rules: route (or route#variant) → roles allowed. pep: decisions only. */
const EXPECTED: Record<string, Role[]> = {
  'POST /v1/agents': WRITERS,
  'GET /v1/agents': READERS,
  'GET /v1/agents/:agentId': READERS,
  'PATCH /v1/agents/:agentId': WRITERS,
  'PATCH /v1/agents/:agentId#boundaries': ADMIN,
  'POST /v1/agents/:agentId/activate': ADMIN, // or an operator acting for the agent's owner (below)
  'POST /v1/agents/:agentId/suspend': WRITERS,
  'POST /v1/agents/:agentId/resume': WRITERS,
  'POST /v1/agents/:agentId/revoke': ADMIN, // or an operator acting for the agent's owner (below)
  'POST /v1/agents/:agentId/renew': WRITERS,
  'GET /v1/agents/:agentId/keys': READERS,
  'POST /v1/agents/:agentId/keys': ADMIN, // or an operator acting for the agent's owner (below)
  'POST /v1/agents/:agentId/keys/:kid/retire': WRITERS,
  'POST /v1/agents/:agentId/transfer': ADMIN,
  'POST /v1/users': ADMIN,
  'GET /v1/users': READERS,
  'GET /v1/users/:userId': READERS,
  'PATCH /v1/users/:userId': ADMIN,
  'POST /v1/users/:userId/offboard': ADMIN,
  'POST /v1/api-keys': ADMIN,
  'GET /v1/api-keys': ADMIN,
  'GET /v1/api-keys/:keyId': ADMIN,
  'POST /v1/api-keys/:keyId/revoke': ADMIN,
  'POST /oauth/introspect': ['admin', 'auditor', 'pep'],
  'GET /v1/audit/events': AUDIT,
  'GET /v1/audit/events/:seq': AUDIT,
  'GET /v1/audit/checkpoint': AUDIT,
  'POST /v1/audit/checkpoint': AUDIT,
  'GET /v1/audit/verifier-key': AUDIT,
  'GET /v1/audit/checkpoints': AUDIT,
  'GET /v1/audit/events/:seq/proof': AUDIT,
  'GET /v1/audit/consistency': AUDIT,
  'GET /v1/audit/leaves': AUDIT,
  'GET /v1/audit/export': AUDIT,
  'GET /v1/audit/explain/:seq': AUDIT,
  // A key is never a user in person, so a grant by key is always one recorded for a named user
  // (onBehalfOf): admin only. (A user in person needs no role: see api/delegations.test.ts.)
  'POST /v1/delegations': ADMIN,
  'GET /v1/delegations': READERS,
  'GET /v1/delegations/:delegationId': READERS,
  'GET /v1/delegations/:delegationId/tree': READERS,
  'POST /v1/delegations/:delegationId/revoke': ADMIN,
  // The org's Cedar policy set: read by admin, operator, auditor; written (and checked) by admin.
  'POST /v1/policies': ADMIN,
  'POST /v1/policies/validate': ADMIN,
  'GET /v1/policies': POLICY_READERS,
  'GET /v1/policies/:version': POLICY_READERS,
  'GET /v1/policies/:version/diff': POLICY_READERS,
  'POST /v1/policies/:version/activate': ADMIN,
  // The org's entities: read by admin, operator, auditor; written by admin and operator.
  'PUT /v1/entities': WRITERS,
  'GET /v1/entities': POLICY_READERS,
  'GET /v1/entities/:type/:id': POLICY_READERS,
  'DELETE /v1/entities/:type/:id': WRITERS,
  // The kill switch: any operator can stop, only an admin can start again; reviewers can look.
  'POST /v1/killswitch': WRITERS,
  'GET /v1/killswitch': READERS,
  'GET /v1/killswitch/:lockId': READERS,
  'POST /v1/killswitch/:lockId/release': ADMIN,
  // Risk settings: reviewed like policies, changed by an admin.
  'GET /v1/risk/settings': POLICY_READERS,
  'PUT /v1/risk/settings': ADMIN,
  // Approval requests: seen by reviewers (and by the chain's root user, through any key bound to
  // them: see "who decides an approval" below); where their events go is the admin's business.
  'GET /v1/approvals': READERS,
  'GET /v1/approvals/:approvalId': READERS,
  'GET /v1/approvals/webhook': ADMIN,
  'PUT /v1/approvals/webhook': ADMIN,
  // Deciding one is NOT a role rule: the chain's root user, or the users and roles the request
  // names, may. The fixture's request names `role:approver` (a policy annotation
  // `@mandate_approvers("role:approver")` on the permit that determined the decision), so the
  // approver key may and no other role's key may, admin included.
  'POST /v1/approvals/:approvalId/approve': ['approver'],
  'POST /v1/approvals/:approvalId/deny': ['approver'],
  // Withdrawing a request only takes a possible yes away: admins and operators may, as may
  // whoever may decide it (here the named approver role).
  'POST /v1/approvals/:approvalId/cancel': ['admin', 'operator', 'approver'],
  // A request that names nobody (the delegation's requireApproval asked for it): only the root
  // user may decide it, so no role's key (none is bound to a user here) may.
  'POST /v1/approvals/:approvalId/approve#unnamed': [],
  'POST /v1/approvals/:approvalId/deny#unnamed': [],
  // AuthZEN decisions, and the access-request profile: a PEP submits a requestable denial and
  // follows the task (the approval behind it).
  'POST /access/v1/requests': DECIDERS,
  'GET /access/v1/requests/:taskId': DECIDERS,
  'POST /access/v1/evaluation': DECIDERS,
  'POST /access/v1/evaluations': DECIDERS,
  'POST /access/v1/search/subject': DECIDERS,
  'POST /access/v1/search/resource': DECIDERS,
  'POST /access/v1/search/action': DECIDERS,
  // What an enforcement point reports back (the MCP gateway): the outcome of an agent decision it
  // asked for itself (AuthZEN with context.agent_credential), and tool pin events. Whoever may ask
  // for decisions may, nobody else; and an outcome only by the very key that asked (the fixture
  // is a decision the calling key asked for when its role may ask; "only the asking key" below).
  'POST /v1/enforcement/decisions/:decisionId/outcome': DECIDERS,
  'POST /v1/enforcement/events': DECIDERS,
};

/**
 * Cases where the server disagrees with the table above; each runs as `it.fails` so that the
 * suite stays green while a bug stands, and turns red the day it is fixed (then drop it here).
 */
const KNOWN_BUGS = new Set<string>([]);

/**
 * The by-id approval routes answer a key that may not read approvals (pep) 404 not_found, exactly
 * as for an id that names nothing, instead of 403: the chain's root user may read and decide
 * through a key of any role bound to them, so the server looks the request up before it refuses,
 * and the same 404 either way tells such a key nothing of which requests exist.
 */
const APPROVAL_BY_ID = new Set([
  'GET /v1/approvals/:approvalId',
  'POST /v1/approvals/:approvalId/approve',
  'POST /v1/approvals/:approvalId/deny',
  'POST /v1/approvals/:approvalId/cancel',
]);
/**
 * Deciding is not a role rule (see EXPECTED), so no role is refused before the lookup: an id that
 * names nothing is a 404 for every role. (Those who may read approvals can list them anyway; for
 * the others the 404 is the same as on a real request, checked below.)
 */
const DECIDE = new Set([
  'POST /v1/approvals/:approvalId/approve',
  'POST /v1/approvals/:approvalId/deny',
  'POST /v1/approvals/:approvalId/cancel',
]);

/** Routes where the agent's owner, acting through an operator key bound to them, may also. */
const OWNER_MAY = new Set([
  'POST /v1/agents/:agentId/activate',
  'POST /v1/agents/:agentId/revoke',
  'POST /v1/agents/:agentId/keys',
]);

// The app is started while the file is collected, so that one test per route × role can be listed.
const t = await startTestApp();
afterAll(async () => t.close());

const admin = t.adminKey;
const owner = await createUser(t, admin, { displayName: 'owner' });
const stranger = await createUser(t, admin, { displayName: 'stranger' });
const roleKey = Object.fromEntries(
  await Promise.all(
    ALL_ROLES.map(async (role) => [role, (await createKey(t, admin, [role])).secret] as const),
  ),
) as Record<Role, string>;

interface Request {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  /** For the OAuth routes, which take forms. */
  form?: Record<string, string>;
}

const agentIn = (state: 'pending' | 'active' | 'suspended', keyCount = 1) =>
  createAgent(t, admin, owner.id, { state, keyCount });

/** A fresh active delegation (an admin grants a fresh active agent for the owner). */
const delegationIn = async () => createDelegation(t, admin, (await agentIn('active')).id, owner.id);

/** An admin publishes a fresh policy version (it becomes the active one); returns its number. */
async function publishedVersion(): Promise<number> {
  const response = await t.call('POST', '/v1/policies', {
    key: admin,
    body: {
      policies: `// ${uniqueName('roles')}\npermit (principal, action == Action::"read", resource);\n`,
      note: 'roles fixture',
    },
  });
  expect(response.status, response.text).toBe(201);
  return response.body.version as number;
}

/** An admin stores a fresh entity (namespaced type: the path carries it URL-encoded). */
async function storedEntity(): Promise<{ type: string; id: string }> {
  const uid = { type: 'Roles::Doc', id: uniqueName('doc') };
  const response = await t.call('PUT', '/v1/entities', {
    key: admin,
    body: { entities: [{ uid, attrs: { title: 'fixture' }, parents: [{ type: 'Roles::Folder', id: 'f' }] }] },
  });
  expect(response.status, response.text).toBe(200);
  return uid;
}

/** An admin locks a fresh agent; the lock's id. */
async function lockedAgent(): Promise<string> {
  const agent = await agentIn('active');
  const response = await t.call('POST', '/v1/killswitch', {
    key: admin,
    body: { scope: 'agent', targetId: agent.id, reason: 'fixture' },
  });
  expect(response.status, response.text).toBe(201);
  // A new lock in force on this very agent (not some earlier one handed back).
  expect([response.body.scope, response.body.targetId, response.body.releasedAt], response.text).toEqual([
    'agent',
    agent.id,
    undefined,
  ]);
  expect(response.body.id, response.text).toMatch(/^lck_[0-9A-HJKMNP-TV-Z]{26}$/);
  return response.body.id;
}

/**
 * Runs `run` while a fresh policy version of `policies` is the active one, then makes the version
 * that was active before active again: decisions of the other fixtures (and routes) of this file
 * are taken under whatever is active, and this file publishes versions of its own all along.
 */
async function underPolicies<T>(policies: string, run: () => Promise<T>): Promise<T> {
  const before = await t.call('GET', '/v1/policies?limit=1', { key: admin });
  expect(before.status, before.text).toBe(200);
  const published = await t.call('POST', '/v1/policies', {
    key: admin,
    body: { policies, note: 'roles approval fixture' },
  });
  expect(published.status, published.text).toBe(201);
  try {
    return await run();
  } finally {
    const restored = await t.call('POST', `/v1/policies/${before.body.active}/activate`, {
      key: admin,
      body: { reason: 'roles approval fixture done' },
    });
    expect(restored.status, restored.text).toBe(200);
  }
}

const DELEGATED = 'context has mandate && context.mandate has delegated && context.mandate.delegated == true';
/** What a delegation covers is permitted, as by the baseline: no policy asks for a human. */
const plainPolicies = () =>
  `// ${uniqueName('roles-plain')}\npermit (principal, action, resource)\nwhen { ${DELEGATED} };\n`;
/** A delegated email.send is permitted by a policy that asks for a human and names `approvers`. */
const approvalPolicies = (approvers: string) =>
  `// ${uniqueName('roles-approval')}\n@mandate_approval("required")\n@mandate_approvers("${approvers}")\n` +
  `permit (principal, action == Action::"email.send", resource)\nwhen { ${DELEGATED} };\n`;

/**
 * A fresh pending approval request: a fresh agent (owned by `ownerId`, default `owner`) with a
 * delegation for `rootUserId` (default `owner`) asks for email.send. With `approvers`, a policy
 * annotation `@mandate_approvers(approvers)` on the determining permit asks for a human and names
 * who may decide; without, the delegation's `requireApproval` asks, and nobody is named (only the
 * root user may decide). Checked through the API: pending, for that root user, naming exactly that.
 */
async function pendingApproval(
  options: { approvers?: string; ownerId?: string; rootUserId?: string } = {},
): Promise<FiledApproval> {
  const rootUserId = options.rootUserId ?? owner.id;
  const chain = await approvalChain(t, admin, options.ownerId ?? owner.id, rootUserId, {
    requireApproval: options.approvers === undefined,
  });
  const filed = await underPolicies(
    options.approvers === undefined ? plainPolicies() : approvalPolicies(options.approvers),
    () => chain.ask(),
  );
  const shown = await t.call('GET', `/v1/approvals/${filed.approvalId}`, { key: admin });
  expect(shown.status, shown.text).toBe(200);
  const named = (options.approvers ?? '').split(',').filter(Boolean);
  expect([shown.body.status, shown.body.rootUserId, shown.body.approvers], shown.text).toEqual([
    'pending',
    rootUserId,
    {
      users: named.filter((entry) => entry.startsWith('usr_')),
      roles: named.filter((entry) => entry.startsWith('role:')).map((entry) => entry.slice(5)),
    },
  ]);
  return filed;
}

/** A webhook URL nothing listens on: a delivery of this file's approval events is refused at once. */
const NOWHERE = 'http://127.0.0.1:9/roles-hook';

/** A well-formed AuthZEN request (the answer may be a deny: what is tested is who may ask). */
const authzenRequest = () => ({
  subject: { type: 'User', id: 'alice', properties: { department: 'sales' } },
  action: { name: 'read' },
  resource: { type: 'Doc', id: uniqueName('doc') },
  context: { time: '2024-06-11T10:00:00Z' },
});

/**
 * A fresh allowed agent decision that the enforcement point holding `key` asked for: a fresh
 * credentialed agent with a delegation for the owner (no approval asked), asked about through
 * AuthZEN with the agent's credential while what a delegation covers is permitted.
 */
async function enforcedDecision(key: string): Promise<string> {
  const chain = await approvalChain(t, admin, owner.id, owner.id, { requireApproval: false });
  const asked = await underPolicies(plainPolicies(), () => enforcementDecision(t, key, chain));
  expect([asked.allowed, asked.reason], asked.decisionId).toEqual([true, undefined]);
  return asked.decisionId;
}

/**
 * Fresh objects for one call, so that an allowed call can succeed (not a 409 from earlier calls).
 * `role` is the role of the key that will call (most fixtures do not care).
 */
const FIXTURES: Record<string, (role: Role) => Promise<Request>> = {
  'POST /v1/agents': async () => ({
    body: { name: uniqueName('agent'), ownerId: owner.id, boundaries, keys: [await publicJwk()] },
  }),
  'GET /v1/agents': async () => ({}),
  'GET /v1/agents/:agentId': async () => ({ params: { agentId: (await agentIn('active')).id } }),
  'PATCH /v1/agents/:agentId': async () => ({
    params: { agentId: (await agentIn('active')).id },
    body: { description: 'changed', labels: ['x'] },
  }),
  'PATCH /v1/agents/:agentId#boundaries': async () => ({
    params: { agentId: (await agentIn('active')).id },
    body: {
      boundaries: {
        actions: ['email.send'],
        resources: ['mailbox:alice/inbox'],
        maxDataClass: 'internal',
        maxCredentialTtlSeconds: 600,
        maxDelegationDepth: 0,
      },
    },
  }),
  'POST /v1/agents/:agentId/activate': async () => ({
    params: { agentId: (await agentIn('pending')).id },
    body: {},
  }),
  'POST /v1/agents/:agentId/suspend': async () => ({
    params: { agentId: (await agentIn('active')).id },
    body: { reason: 'test' },
  }),
  'POST /v1/agents/:agentId/resume': async () => ({
    params: { agentId: (await agentIn('suspended')).id },
    body: {},
  }),
  'POST /v1/agents/:agentId/revoke': async () => ({
    params: { agentId: (await agentIn('active')).id },
    body: { reason: 'test' },
  }),
  'POST /v1/agents/:agentId/renew': async () => ({
    params: { agentId: (await agentIn('active')).id },
    body: {},
  }),
  'GET /v1/agents/:agentId/keys': async () => ({ params: { agentId: (await agentIn('active')).id } }),
  'POST /v1/agents/:agentId/keys': async () => ({
    params: { agentId: (await agentIn('active')).id },
    body: { jwk: await publicJwk('ES256') },
  }),
  'POST /v1/agents/:agentId/keys/:kid/retire': async () => {
    const agent = await agentIn('active', 2);
    return { params: { agentId: agent.id, kid: agent.keys[1].kid }, body: {} };
  },
  'POST /v1/agents/:agentId/transfer': async () => ({
    params: { agentId: (await agentIn('active')).id },
    body: { ownerId: stranger.id, reason: 'reorg' },
  }),
  'POST /v1/users': async () => ({ body: { displayName: uniqueName('user') } }),
  'GET /v1/users': async () => ({}),
  'GET /v1/users/:userId': async () => ({ params: { userId: owner.id } }),
  'PATCH /v1/users/:userId': async () => ({
    params: { userId: (await createUser(t, admin, { displayName: 'to change' })).id },
    body: { displayName: 'changed' },
  }),
  'POST /v1/users/:userId/offboard': async () => ({
    params: { userId: (await createUser(t, admin, { displayName: 'leaver' })).id },
    body: { reason: 'left' },
  }),
  'POST /v1/api-keys': async () => ({ body: { name: 'new key', roles: ['auditor'] } }),
  'GET /v1/api-keys': async () => ({}),
  'GET /v1/api-keys/:keyId': async () => ({ params: { keyId: (await createKey(t, admin, ['pep'])).id } }),
  'POST /v1/api-keys/:keyId/revoke': async () => ({
    params: { keyId: (await createKey(t, admin, ['pep'])).id },
    body: {},
  }),
  'POST /oauth/introspect': async () => ({ form: { token: 'not-a-token' } }),
  'GET /v1/audit/events': async () => ({}),
  'GET /v1/audit/events/:seq': async () => ({ params: { seq: '0' } }),
  'GET /v1/audit/checkpoint': async () => ({}),
  'POST /v1/audit/checkpoint': async () => ({}),
  'GET /v1/audit/verifier-key': async () => ({}),
  'GET /v1/audit/checkpoints': async () => ({}),
  'GET /v1/audit/events/:seq/proof': async () => ({ params: { seq: '0' } }),
  'GET /v1/audit/consistency': async () => ({ query: { from: '1' } }),
  'GET /v1/audit/leaves': async () => ({}),
  'GET /v1/audit/export': async () => ({ query: { format: 'jsonl' } }),
  'GET /v1/audit/explain/:seq': async () => ({ params: { seq: '1' } }),
  'POST /v1/delegations': async () => ({
    body: {
      delegateAgentId: (await agentIn('active')).id,
      purpose: 'triage the inbox',
      scope: {
        actions: ['email.send'],
        resources: ['mailbox:alice/inbox'],
        expiresAt: new Date(t.clock.now().getTime() + 3_600_000).toISOString(),
      },
      onBehalfOf: owner.id,
    },
  }),
  'GET /v1/delegations': async () => ({}),
  'GET /v1/delegations/:delegationId': async () => ({ params: { delegationId: (await delegationIn()).id } }),
  'GET /v1/delegations/:delegationId/tree': async () => ({
    params: { delegationId: (await delegationIn()).id },
  }),
  'POST /v1/delegations/:delegationId/revoke': async () => ({
    params: { delegationId: (await delegationIn()).id },
    body: { reason: 'done' },
  }),
  'POST /v1/policies': async () => ({
    body: {
      policies: `// ${uniqueName('roles')}\nforbid (principal, action == Action::"delete", resource);\n`,
    },
  }),
  'POST /v1/policies/validate': async () => ({
    body: { policies: 'permit (principal, action == Action::"read", resource);' },
  }),
  'GET /v1/policies': async () => ({}),
  'GET /v1/policies/:version': async () => ({ params: { version: String(await publishedVersion()) } }),
  'GET /v1/policies/:version/diff': async () => ({
    params: { version: String(await publishedVersion()) },
    query: { against: '0' },
  }),
  // Two fresh versions; the later is active, so activating the earlier one is a change (not a 409).
  'POST /v1/policies/:version/activate': async () => {
    const earlier = await publishedVersion();
    await publishedVersion();
    return { params: { version: String(earlier) }, body: { reason: 'roll back' } };
  },
  'PUT /v1/entities': async () => ({
    body: {
      entities: [
        { uid: { type: 'User', id: uniqueName('user') }, attrs: { department: 'sales' } },
        { uid: { type: 'Roles::Folder', id: uniqueName('folder') }, parents: [] },
      ],
    },
  }),
  'GET /v1/entities': async () => ({ query: { type: 'Roles::Doc' } }),
  'GET /v1/entities/:type/:id': async () => ({ params: await storedEntity() }),
  'DELETE /v1/entities/:type/:id': async () => ({ params: await storedEntity() }),
  // One fresh agent per lock: an org lock here would stop the decision routes of this file.
  'POST /v1/killswitch': async () => ({
    body: { scope: 'agent', targetId: (await agentIn('active')).id, reason: 'roles test' },
  }),
  'GET /v1/killswitch': async () => ({}),
  'GET /v1/killswitch/:lockId': async () => ({ params: { lockId: await lockedAgent() } }),
  'POST /v1/killswitch/:lockId/release': async () => ({
    params: { lockId: await lockedAgent() },
    body: { reason: 'all clear' },
  }),
  'GET /v1/risk/settings': async () => ({}),
  // The defaults, written explicitly: nothing else in this file changes behaviour.
  'PUT /v1/risk/settings': async () => ({ body: { approvalAt: 70, denyAt: 95 } }),
  'GET /v1/approvals': async () => ({ query: { status: 'pending' } }),
  'GET /v1/approvals/:approvalId': async () => ({
    params: { approvalId: (await pendingApproval()).approvalId },
    query: { wait: '0' },
  }),
  'GET /v1/approvals/webhook': async () => ({}),
  'PUT /v1/approvals/webhook': async () => ({ body: { url: NOWHERE } }),
  'POST /v1/approvals/:approvalId/approve': async () => ({
    params: { approvalId: (await pendingApproval({ approvers: 'role:approver' })).approvalId },
    body: { comment: 'fine by me' },
  }),
  'POST /v1/approvals/:approvalId/deny': async () => ({
    params: { approvalId: (await pendingApproval({ approvers: 'role:approver' })).approvalId },
    body: { comment: 'not this one' },
  }),
  'POST /v1/approvals/:approvalId/cancel': async () => ({
    params: { approvalId: (await pendingApproval({ approvers: 'role:approver' })).approvalId },
    body: { comment: 'no longer needed' },
  }),
  'POST /v1/approvals/:approvalId/approve#unnamed': async () => ({
    params: { approvalId: (await pendingApproval()).approvalId },
    body: {},
  }),
  'POST /v1/approvals/:approvalId/deny#unnamed': async () => ({
    params: { approvalId: (await pendingApproval()).approvalId },
    body: { comment: 'no' },
  }),
  // The decision that filed a pending request is a requestable denial: its id is the evaluation id.
  'POST /access/v1/requests': async () => ({
    body: { denial: { evaluation_id: (await pendingApproval()).decisionId } },
  }),
  'GET /access/v1/requests/:taskId': async () => ({
    params: { taskId: (await pendingApproval()).approvalId },
  }),
  'POST /access/v1/evaluation': async () => ({ body: authzenRequest() }),
  'POST /access/v1/search/subject': async () => ({
    body: {
      subject: { type: 'User' },
      action: { name: 'read' },
      resource: { type: 'Doc', id: uniqueName('doc') },
    },
  }),
  'POST /access/v1/search/resource': async () => ({
    body: {
      subject: { type: 'User', id: uniqueName('user') },
      action: { name: 'read' },
      resource: { type: 'Doc' },
    },
  }),
  'POST /access/v1/search/action': async () => {
    // An action search needs the actions the active version's schema declares.
    const published = await t.call('POST', '/v1/policies', {
      key: admin,
      body: {
        policies: 'permit (principal, action == Action::"read", resource);',
        schema: 'entity User; entity Doc; action read, write appliesTo { principal: User, resource: Doc };',
      },
    });
    if (published.status !== 201) throw new Error(`publish for the action search: ${published.text}`);
    return {
      body: { subject: { type: 'User', id: uniqueName('user') }, resource: { type: 'Doc', id: 'd' } },
    };
  },
  'POST /access/v1/evaluations': async () => {
    const { subject, action, context } = authzenRequest();
    return {
      body: {
        subject,
        action,
        context,
        evaluations: [
          { resource: { type: 'Doc', id: uniqueName('doc') } },
          { action: { name: 'write' }, resource: { type: 'Doc', id: uniqueName('doc') } },
        ],
        options: { evaluations_semantic: 'execute_all' },
      },
    };
  },
  // A decision the calling key itself asked for, when its role may ask; for the other roles one the
  // pep key asked for (they are refused before any lookup).
  'POST /v1/enforcement/decisions/:decisionId/outcome': async (role) => ({
    params: { decisionId: await enforcedDecision(DECIDERS.includes(role) ? roleKey[role] : roleKey.pep) },
    body: { status: 'success', resultDigest: 'a'.repeat(64), durationMs: 12 },
  }),
  'POST /v1/enforcement/events': async () => ({
    body: {
      type: 'mcp.tool.pinned',
      target: { type: 'mcp_tool', id: `srv/${uniqueName('tool')}` },
      detail: { hash: 'b'.repeat(64) },
    },
  }),
};

const orgRoutes = t.routes.filter((route) => route.auth === 'org');
const routeFor = (name: string) => orgRoutes.find((route) => routeName(route) === name.split('#')[0]);
const cases = [...orgRoutes.map(routeName), ...Object.keys(EXPECTED).filter((name) => name.includes('#'))];

async function call(name: string, key: string, request: Request) {
  const route = routeFor(name);
  if (!route) throw new Error(`no route ${name}`);
  const url = withQuery(fillUrl(route.url, request.params ?? {}), request.query);
  if (route.consumes === 'form') return t.call(route.method, url, { key, form: request.form ?? {} });
  return t.call(route.method, url, { key, body: route.body ? (request.body ?? {}) : undefined });
}

/** The refusal a role gets: ours, or the OAuth shape on the OAuth routes. */
const refusalOf = (response: { status: number; body: any }) => [
  response.status,
  typeof response.body?.error === 'string' ? response.body.error : response.body?.error?.code,
];
const REFUSED = (name: string) => [403, name.includes(' /oauth/') ? 'access_denied' : 'forbidden'];
/** The refusal `role` gets on `name` (see APPROVAL_BY_ID for the 404s). */
const refusalFor = (name: string, role: Role) =>
  APPROVAL_BY_ID.has(name.split('#')[0] as string) && !READERS.includes(role)
    ? [404, 'not_found']
    : REFUSED(name);

describe('the expected table covers the route table', () => {
  it('every org route has an expectation and a fixture, and every expectation a route', () => {
    expect(orgRoutes.map(routeName).filter((name) => !EXPECTED[name] || !FIXTURES[name])).toEqual([]);
    expect(Object.keys(EXPECTED).filter((name) => !routeFor(name))).toEqual([]);
    expect(orgRoutes.length).toBeGreaterThanOrEqual(24);
  });
});

/** `it`, or `it.fails` for a case listed in KNOWN_BUGS. */
const test = (bug: string) => (KNOWN_BUGS.has(bug) ? it.fails : it);

describe.each(cases)('%s', (name) => {
  const allowed = EXPECTED[name] ?? [];
  for (const role of ALL_ROLES) {
    const may = allowed.includes(role);
    test(`${name} as ${role}`)(`as ${role}: allowed = ${may}`, async () => {
      const fixture = FIXTURES[name];
      if (!fixture || !EXPECTED[name])
        throw new Error(`${name}: no expectation or fixture; add them to this file`);
      const response = await call(name, roleKey[role], await fixture(role));
      if (may) {
        expect(response.status, response.text).toBeGreaterThanOrEqual(200);
        expect(response.status, response.text).toBeLessThan(300);
      } else {
        expect(refusalOf(response), response.text).toEqual(refusalFor(name, role));
      }
    });
  }

  // A role that may not act learns nothing either: ids that name nothing still get 403, not 404.
  const forbidden = ALL_ROLES.filter(
    (role) => !allowed.includes(role) && !(OWNER_MAY.has(name) && role === 'operator'),
  );
  const route = routeFor(name);
  if (route && pathParamsOf(route.url).length > 0) {
    for (const role of forbidden) {
      test(`${name} as ${role} on nothing`)(`as ${role} on ids that name nothing: 403, not 404`, async () => {
        const fixture = FIXTURES[name];
        if (!fixture) throw new Error(`${name}: no fixture`);
        const request = await fixture(role);
        const params = Object.fromEntries(
          pathParamsOf(route.url).map((param) => [param, nobodysId(param as IdKind)]),
        );
        const response = await call(name, roleKey[role], { ...request, params });
        if (!APPROVAL_BY_ID.has(routeName(route))) {
          expect([response.status, response.body?.error?.code], response.text).toEqual([403, 'forbidden']);
          return;
        }
        // Approvals by id: a 404 (see APPROVAL_BY_ID and DECIDE)...
        const readers = READERS.includes(role);
        expect(DECIDE.has(routeName(route)) || !readers, `${name} as ${role}`).toBe(true);
        expect([response.status, response.body?.error?.code], response.text).toEqual([404, 'not_found']);
        // ...and one who may not read approvals gets exactly the same answer on a real request.
        if (!readers) expect((await call(name, roleKey[role], request)).text).toBe(response.text);
      });
    }
  }
});

describe('owner rules: activate and revoke', () => {
  const boundKey = async (roles: Role[], userId: string) =>
    (await createKey(t, admin, roles, { userId })).secret;

  it('an operator key bound to the owner may add a key; one bound to another user may not', async () => {
    const agent = await agentIn('active');
    const mine = await t.call('POST', `/v1/agents/${agent.id}/keys`, {
      key: await boundKey(['operator'], owner.id),
      body: { jwk: await publicJwk() },
    });
    expect(mine.status, mine.text).toBe(201);
    const theirs = await t.call('POST', `/v1/agents/${agent.id}/keys`, {
      key: await boundKey(['operator'], stranger.id),
      body: { jwk: await publicJwk() },
    });
    expect([theirs.status, theirs.body?.error?.code], theirs.text).toEqual([403, 'forbidden']);
    const after = await t.call('GET', `/v1/agents/${agent.id}/keys`, { key: admin });
    expect(after.body.items).toHaveLength(agent.keys.length + 1);
  });

  it.each(['activate', 'revoke'] as const)('an operator key bound to the owner may %s', async (command) => {
    const key = await boundKey(['operator'], owner.id);
    const agent = await agentIn(command === 'activate' ? 'pending' : 'active');
    const response = await t.call('POST', `/v1/agents/${agent.id}/${command}`, {
      key,
      body: command === 'revoke' ? { reason: 'mine' } : {},
    });
    expect(response.status, response.text).toBe(200);
    expect(response.body.status).toBe(command === 'activate' ? 'active' : 'revoked');
  });

  it.each(['activate', 'revoke'] as const)(
    'an operator key bound to another user may not %s',
    async (command) => {
      const key = await boundKey(['operator'], stranger.id);
      const agent = await agentIn(command === 'activate' ? 'pending' : 'active');
      const response = await t.call('POST', `/v1/agents/${agent.id}/${command}`, {
        key,
        body: command === 'revoke' ? { reason: 'not mine' } : {},
      });
      expect([response.status, response.body?.error?.code], response.text).toEqual([403, 'forbidden']);
      const after = await t.call('GET', `/v1/agents/${agent.id}`, { key: admin });
      expect(after.body.status).toBe(command === 'activate' ? 'pending' : 'active');
    },
  );

  it.each(['approver', 'auditor', 'pep'] as const)(
    'ownership does not lift a %s key above its role: activate and revoke are 403',
    async (role) => {
      const key = await boundKey([role], owner.id);
      const pending = await agentIn('pending');
      const activate = await t.call('POST', `/v1/agents/${pending.id}/activate`, { key, body: {} });
      expect([activate.status, activate.body?.error?.code], activate.text).toEqual([403, 'forbidden']);
      const active = await agentIn('active');
      const revoke = await t.call('POST', `/v1/agents/${active.id}/revoke`, { key, body: { reason: 'x' } });
      expect([revoke.status, revoke.body?.error?.code], revoke.text).toEqual([403, 'forbidden']);
    },
  );

  it('ownership gives an operator nothing beyond activate and revoke (transfer, boundaries stay admin-only)', async () => {
    const key = await boundKey(['operator'], owner.id);
    const agent = await agentIn('active');
    const transfer = await t.call('POST', `/v1/agents/${agent.id}/transfer`, {
      key,
      body: { ownerId: stranger.id, reason: 'give away' },
    });
    expect([transfer.status, transfer.body?.error?.code], transfer.text).toEqual([403, 'forbidden']);
    const widen = await t.call('PATCH', `/v1/agents/${agent.id}`, {
      key,
      body: {
        boundaries: {
          actions: ['*'],
          resources: ['*'],
          maxDataClass: 'restricted',
          maxCredentialTtlSeconds: 86_400,
          maxDelegationDepth: 10,
        },
      },
    });
    expect([widen.status, widen.body?.error?.code], widen.text).toEqual([403, 'forbidden']);
  });

  it("a key's roles are its own: a key bound to a user with role admin is still only what the key says", async () => {
    const boss = await createUser(t, admin, { displayName: 'boss', roles: ['admin'] });
    const key = await boundKey(['auditor'], boss.id);
    const response = await t.call('POST', '/v1/users', { key, body: { displayName: 'x' } });
    expect([response.status, response.body?.error?.code], response.text).toEqual([403, 'forbidden']);
  });

  it('a key with several roles has the union of them, and no more', async () => {
    const key = (await createKey(t, admin, ['approver', 'auditor'])).secret;
    expect((await t.call('GET', '/v1/audit/events', { key })).status).toBe(200);
    expect((await t.call('GET', '/v1/agents', { key })).status).toBe(200);
    const write = await t.call('POST', '/v1/users', { key, body: { displayName: 'x' } });
    expect([write.status, write.body?.error?.code]).toEqual([403, 'forbidden']);
  });
});

describe('who decides an approval: the root user, or whom the request names (never a role by itself)', () => {
  const decide = (approvalId: string, outcome: 'approve' | 'deny', key: string) =>
    t.call('POST', `/v1/approvals/${approvalId}/${outcome}`, {
      key,
      body: outcome === 'deny' ? { comment: 'no' } : {},
    });
  const bound = async (roles: Role[], userId: string) =>
    (await createKey(t, admin, roles, { userId })).secret;
  const statusOf = async (approvalId: string) =>
    (await t.call('GET', `/v1/approvals/${approvalId}`, { key: admin })).body?.status;

  it.each(['approve', 'deny'] as const)(
    'without named approvers no API key may %s, whatever its roles; the root user may, through a key of any role',
    async (outcome) => {
      const { approvalId } = await pendingApproval();
      const everyRole = (await createKey(t, admin, ALL_ROLES)).secret;
      for (const key of [admin, everyRole, await bound(['admin', 'approver'], stranger.id)]) {
        const refused = await decide(approvalId, outcome, key);
        expect([refused.status, refused.body?.error?.code], refused.text).toEqual([403, 'forbidden']);
        expect(refused.body.error.message).toMatch(/only the root user/);
      }
      // A key that may not even read approvals, bound to someone else: the same 404 as for nothing.
      const hidden = await decide(approvalId, outcome, await bound(['pep'], stranger.id));
      const nothing = await decide(nobodysId('approvalId'), outcome, await bound(['pep'], stranger.id));
      expect([hidden.status, hidden.text]).toEqual([404, nothing.text]);
      expect(await statusOf(approvalId)).toBe('pending');
      // The root user (the owner here, through a pep key bound to them) decides.
      const decided = await decide(approvalId, outcome, await bound(['pep'], owner.id));
      expect(decided.status, decided.text).toBe(200);
      expect(decided.body).toMatchObject({
        status: outcome === 'approve' ? 'approved' : 'denied',
        decidedBy: { userId: owner.id },
      });
      expect(await statusOf(approvalId)).toBe(outcome === 'approve' ? 'approved' : 'denied');
    },
  );

  it("the root user reads their own request through a key of any role; that role bound to someone else doesn't", async () => {
    const { approvalId } = await pendingApproval();
    const own = await t.call('GET', `/v1/approvals/${approvalId}`, { key: await bound(['pep'], owner.id) });
    expect([own.status, own.body?.id], own.text).toEqual([200, approvalId]);
    const otherKey = await bound(['pep'], stranger.id);
    const other = await t.call('GET', `/v1/approvals/${approvalId}`, { key: otherKey });
    const nothing = await t.call('GET', `/v1/approvals/${nobodysId('approvalId')}`, { key: otherKey });
    expect([other.status, other.text]).toEqual([404, nothing.text]);
    // Listing stays a role rule: the root user's pep key lists nothing.
    const listed = await t.call('GET', '/v1/approvals', { key: await bound(['pep'], owner.id) });
    expect([listed.status, listed.body?.error?.code], listed.text).toEqual([403, 'forbidden']);
  });

  it.each(['approve', 'deny'] as const)(
    'the owner of an agent in the chain may not %s even holding the named role; the root user may, as a named approver',
    async (outcome) => {
      // The agent is the owner's; the chain acts for the stranger; the request names role:approver.
      const { approvalId } = await pendingApproval({ approvers: 'role:approver', rootUserId: stranger.id });
      const ownersKey = await bound(['approver'], owner.id);
      const refused = await decide(approvalId, outcome, ownersKey);
      expect([refused.status, refused.body?.error?.code], refused.text).toEqual([403, 'forbidden']);
      expect(refused.body.error.message).toMatch(/own an agent/);
      expect(await statusOf(approvalId)).toBe('pending');
      // A policy named the approvers, so the root user decides only as one of them: not through a
      // key whose role is not named, but through one holding the named role.
      const notNamed = await decide(approvalId, outcome, await bound(['auditor'], stranger.id));
      expect([notNamed.status, notNamed.body?.error?.code], notNamed.text).toEqual([403, 'forbidden']);
      const decided = await decide(approvalId, outcome, await bound(['approver'], stranger.id));
      expect([decided.status, decided.body?.decidedBy?.userId], decided.text).toEqual([200, stranger.id]);
    },
  );

  it('a user the request names may decide through a key of any role bound to them; others of that role may not', async () => {
    const named = await createUser(t, admin, { displayName: 'named approver' });
    const { approvalId } = await pendingApproval({ approvers: named.id });
    for (const key of [roleKey.approver, admin, await bound(['auditor'], stranger.id)]) {
      const refused = await decide(approvalId, 'approve', key);
      expect([refused.status, refused.body?.error?.code], refused.text).toEqual([403, 'forbidden']);
      expect(refused.body.error.message).toMatch(/not one of the approvers/);
    }
    const decided = await decide(approvalId, 'approve', await bound(['auditor'], named.id));
    expect([decided.status, decided.body?.decidedBy?.userId], decided.text).toEqual([200, named.id]);
  });

  it('a request is decided once: a second decision, by anyone allowed, is a conflict', async () => {
    const { approvalId } = await pendingApproval({ approvers: 'role:approver' });
    expect((await decide(approvalId, 'deny', roleKey.approver)).status).toBe(200);
    for (const outcome of ['approve', 'deny'] as const) {
      const again = await decide(approvalId, outcome, roleKey.approver);
      expect([again.status, again.body?.error?.code], again.text).toEqual([409, 'illegal_transition']);
    }
    expect(await statusOf(approvalId)).toBe('denied');
  });
});

describe('an enforcement outcome is recorded by the key that asked for the decision, and by no other', () => {
  const outcome = (decisionId: string, key: string) =>
    t.call('POST', `/v1/enforcement/decisions/${decisionId}/outcome`, {
      key,
      body: { status: 'success', durationMs: 5 },
    });
  const outcomesOf = async (decisionId: string) =>
    (
      await t.call('GET', '/v1/audit/events?type=decision.outcome&limit=200', { key: admin })
    ).body.items.filter((e: any) => e.refs?.decisionId === decisionId);

  it('another key that may ask for decisions (another pep, the admin, every role, one bound to the root user) gets the 404 of nothing', async () => {
    const decisionId = await enforcedDecision(roleKey.pep);
    const others = [
      (await createKey(t, admin, ['pep'])).secret,
      admin,
      (await createKey(t, admin, ALL_ROLES)).secret,
      (await createKey(t, admin, ['pep'], { userId: owner.id })).secret,
    ];
    for (const key of others) {
      const refused = await outcome(decisionId, key);
      const nothing = await outcome(nobodysId('decisionId'), key);
      expect([refused.status, refused.body?.error?.code], refused.text).toEqual([404, 'not_found']);
      expect(refused.text).toBe(nothing.text);
    }
    // A key bound to the root user that may not ask for decisions is refused by its role.
    const bound = (await createKey(t, admin, ['approver', 'auditor', 'operator'], { userId: owner.id }))
      .secret;
    const byRole = await outcome(decisionId, bound);
    expect([byRole.status, byRole.body?.error?.code], byRole.text).toEqual([403, 'forbidden']);
    expect(await outcomesOf(decisionId)).toEqual([]);
    // The asking key records it, once; the record names that key.
    const recorded = await outcome(decisionId, roleKey.pep);
    expect(recorded.status, recorded.text).toBe(201);
    const again = await outcome(decisionId, roleKey.pep);
    expect([again.status, again.body?.error?.code], again.text).toEqual([409, 'conflict']);
    const records = await outcomesOf(decisionId);
    expect(records.map((r: any) => [r.actor.kind, r.actor.id])).toEqual([['api_key', keyIdOf(roleKey.pep)]]);
  });

  it('a decision the agent asked for itself, or a probe, takes no enforcement outcome', async () => {
    const chain = await approvalChain(t, admin, owner.id, owner.id, { requireApproval: false });
    const native = await underPolicies(plainPolicies(), () =>
      chain.creds.decide(chain.token, {
        action: 'email.send',
        resource: { type: 'mailbox', id: `alice/${uniqueName('box')}` },
      }),
    );
    expect(native.decision).toBe('allow');
    const own = await outcome(native.decisionId, roleKey.pep);
    expect([own.status, own.body?.error?.code], own.text).toEqual([404, 'not_found']);
    const probe = await underPolicies(plainPolicies(), () =>
      enforcementDecision(t, roleKey.pep, chain, { probe: true }),
    );
    expect(probe.allowed).toBe(true);
    const probed = await outcome(probe.decisionId, roleKey.pep);
    expect([probed.status, probed.body?.error?.code], probed.text).toEqual([409, 'conflict']);
  });

  it('an enforcement event names the calling key as its actor', async () => {
    const id = `srv/${uniqueName('tool')}`;
    const sent = await t.call('POST', '/v1/enforcement/events', {
      key: roleKey.pep,
      body: { type: 'mcp.tool.changed', target: { type: 'mcp_tool', id }, detail: { hash: 'c'.repeat(64) } },
    });
    expect(sent.status, sent.text).toBe(201);
    const record = await t.call('GET', `/v1/audit/events/${sent.body.seq}`, { key: admin });
    expect([record.body.type, record.body.actor.kind, record.body.actor.id, record.body.target]).toEqual([
      'mcp.tool.changed',
      'api_key',
      keyIdOf(roleKey.pep),
      { type: 'mcp_tool', id },
    ]);
  });
});

describe('the kill switch answers as documented', () => {
  const lock = (targetId: string) =>
    t.call('POST', '/v1/killswitch', {
      key: admin,
      body: { scope: 'agent', targetId, reason: 'status check' },
    });

  it('locking what is already locked is 200 with the lock in force (nothing new)', async () => {
    const agent = await agentIn('active');
    const first = await lock(agent.id);
    expect(first.status, first.text).toBe(201);
    const again = await lock(agent.id);
    expect([again.status, again.body?.id], again.text).toEqual([200, first.body.id]);
    const listed = await t.call('GET', '/v1/killswitch?limit=200', { key: admin });
    expect(listed.body.items.filter((l: { targetId: string }) => l.targetId === agent.id)).toHaveLength(1);
  });

  it('a new lock is 201', async () => {
    const response = await lock((await agentIn('active')).id);
    expect(response.status, response.text).toBe(201);
  });
});
