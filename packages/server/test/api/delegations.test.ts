/**
 * Delegations over HTTP (grant, list, show, tree, revoke) and re-delegation through the engine
 * (it has no HTTP route yet: an agent will re-delegate with its own credential at the token
 * endpoint). Every widening is refused with the dimension named; revoking cascades in one audited
 * event; a chain is live only while every link of it is; offboarding the root user ends the chain.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicJwk, startTestApp, type TestApp } from '../harness.js';
import {
  auditEvents,
  createApiKey,
  createUser,
  expectError,
  expectOk,
  fromNow,
  keyIdOf,
  unknownId,
} from './helpers.js';

const HOUR = 3_600_000;
const ISSUER = 'https://idp.delegations.test';
const AUDIENCE = 'mandate';
const KID = 'idp-key-1';

let t: TestApp;
let idp: Awaited<ReturnType<typeof generateKeyPair>>;
let tmp: string;
let adminActor: { kind: 'api_key'; id: string };

beforeAll(async () => {
  idp = await generateKeyPair('RS256', { extractable: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-dlg-oidc-'));
  const jwksFile = path.join(tmp, 'jwks.json');
  fs.writeFileSync(
    jwksFile,
    JSON.stringify({ keys: [{ ...(await exportJWK(idp.publicKey)), kid: KID, alg: 'RS256', use: 'sig' }] }),
  );
  t = await startTestApp({
    oidc: [
      {
        issuer: ISSUER,
        audience: AUDIENCE,
        jwksFile,
        roleMap: { 'mandate-admins': 'admin', 'mandate-ops': 'operator' },
        rolesClaim: 'groups',
      },
    ],
  });
  adminActor = { kind: 'api_key', id: keyIdOf(t.adminKey) };
});
afterAll(async () => {
  await t?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** An ID token of the test issuer for `subject` (no groups: no role). */
async function idToken(subject: string, groups: string[] = []): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: subject, iat: now, exp: now + 600, groups })
    .setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'JWT' })
    .sign(idp.privateKey);
}

let subjects = 0;
/** A user of the issuer in person (created by their first request), with their bearer token. */
async function oidcUser(): Promise<{ bearer: string; user: any }> {
  const subject = `dlg-user-${++subjects}`;
  const bearer = await idToken(subject);
  expectOk(await t.call('GET', '/v1/agents', { key: bearer }));
  const users = expectOk(await t.call('GET', '/v1/users?kind=oidc&limit=200', { key: t.adminKey })).items;
  const user = users.find((u: any) => u.issuer === ISSUER && u.subject === subject);
  expect(user).toBeDefined();
  return { bearer, user };
}

const BROAD = {
  actions: ['email.*'],
  resources: ['mailbox:alice/*'],
  maxDataClass: 'internal',
  maxDelegationDepth: 2,
};

/** Registers an agent (owned by `ownerId`, never Alice) and, unless told otherwise, activates it. */
async function agent(
  ownerId: string,
  options: { state?: 'pending' | 'active' | 'suspended' | 'revoked'; extra?: Record<string, unknown> } = {},
): Promise<any> {
  let body = expectOk(
    await t.call('POST', '/v1/agents', {
      key: t.adminKey,
      body: { name: 'agent', ownerId, boundaries: BROAD, keys: [await publicJwk()], ...options.extra },
    }),
    201,
  );
  const state = options.state ?? 'active';
  const step = async (command: string, extra: Record<string, unknown> = {}) => {
    body = expectOk(
      await t.call('POST', `/v1/agents/${body.id}/${command}`, { key: t.adminKey, body: extra }),
    );
  };
  if (state !== 'pending') await step('activate');
  if (state === 'suspended') await step('suspend', { reason: 'test' });
  if (state === 'revoked') await step('revoke', { reason: 'test' });
  expect(body.status).toBe(state);
  return body;
}

/** Alice (a user), an owner of the agents (another user), and two active agents A and B. */
async function world() {
  const owner = await createUser(t, t.adminKey, { displayName: 'agent owner' });
  const alice = await createUser(t, t.adminKey, { displayName: 'Alice' });
  return { owner, alice, a: await agent(owner.id), b: await agent(owner.id) };
}

/** Alice's grant to A as the issue describes it: email.* on mailbox:alice/*, internal, 2 h, depth 1. */
const aliceScope = (extra: Record<string, unknown> = {}) => ({
  actions: ['email.*'],
  resources: ['mailbox:alice/*'],
  dataClass: 'internal',
  expiresAt: fromNow(t, 2 * HOUR),
  maxDepth: 1,
  ...extra,
});

const grant = (body: Record<string, unknown>, key = t.adminKey) =>
  t.call('POST', '/v1/delegations', { key, body: { purpose: 'triage the inbox', ...body } });

/** Admin grants `agentId` for `userId`; returns the delegation. */
async function granted(agentId: string, userId: string, scope = aliceScope()): Promise<any> {
  return expectOk(await grant({ delegateAgentId: agentId, onBehalfOf: userId, scope }), 201);
}

const redelegate = (actingAgentId: string, parentId: string, delegateAgentId: string, scope: object) =>
  t.engine.delegations.redelegate(t.defaultOrgId, actingAgentId, parentId, {
    delegateAgentId,
    purpose: 'read the inbox',
    scope,
  });

/** The dimensions a widening refusal names: "scope: wider than X: action (…); depth (…)". */
function dimensionsIn(message: string): string[] {
  const list = message.replace(/^scope: wider than [^:]+: /, '');
  return list.split('; ').map((part) => part.split(' ')[0] as string);
}

const getDelegation = async (id: string, key = t.adminKey) =>
  expectOk(await t.call('GET', `/v1/delegations/${id}`, { key }));

const countDelegations = async () =>
  expectOk(await t.call('GET', '/v1/delegations?limit=200', { key: t.adminKey })).items.length;

describe('grant and re-delegate: the chain of the issue', () => {
  let w: Awaited<ReturnType<typeof world>>;
  let root: any;
  let child: any;

  beforeAll(async () => {
    w = await world();
  });

  it('an admin grants A for Alice: 201, delegator Alice, depth 0, chain [id], recorded as the admin', async () => {
    const response = await grant({ delegateAgentId: w.a.id, onBehalfOf: w.alice.id, scope: aliceScope() });
    root = expectOk(response, 201);
    expect(root).toMatchObject({
      id: expect.stringMatching(/^dlg_[0-9A-Z]{26}$/),
      orgId: t.defaultOrgId,
      rootUserId: w.alice.id,
      delegator: { kind: 'user', id: w.alice.id },
      delegateAgentId: w.a.id,
      purpose: 'triage the inbox',
      depth: 0,
      status: 'active',
      createdBy: adminActor,
      live: true,
      scope: {
        actions: ['email.*'],
        resources: ['mailbox:alice/*'],
        dataClass: 'internal',
        maxDepth: 1,
        expiresAt: fromNow(t, 2 * HOUR),
      },
    });
    expect(root.chain).toEqual([root.id]);
    expect(root.parentId).toBeUndefined();
    expect(root.version).toBeUndefined();
    expect(await getDelegation(root.id)).toEqual(root);
  });

  it('A re-delegates email.read to B: depth 1, chain [parent, child], root Alice, delegator A, maxDepth 0', async () => {
    child = await redelegate(w.a.id, root.id, w.b.id, { actions: ['email.read'] });
    expect(child).toMatchObject({
      parentId: root.id,
      rootUserId: w.alice.id,
      delegator: { kind: 'agent', id: w.a.id },
      delegateAgentId: w.b.id,
      depth: 1,
      status: 'active',
      createdBy: { kind: 'agent', id: w.a.id },
      live: true,
      scope: {
        actions: ['email.read'],
        resources: ['mailbox:alice/*'],
        dataClass: 'internal',
        maxDepth: 0,
        expiresAt: root.scope.expiresAt,
      },
    });
    expect(child.chain).toEqual([root.id, child.id]);
    const shown = await getDelegation(child.id);
    expect(shown).toMatchObject({ id: child.id, live: true, chain: [root.id, child.id] });
  });

  it('the tree lists the parent, then the child; the tree of the child is the child alone', async () => {
    const tree = expectOk(await t.call('GET', `/v1/delegations/${root.id}/tree`, { key: t.adminKey }));
    expect(tree.items.map((d: any) => d.id)).toEqual([root.id, child.id]);
    expect(tree.items.map((d: any) => d.depth)).toEqual([0, 1]);
    const leaf = expectOk(await t.call('GET', `/v1/delegations/${child.id}/tree`, { key: t.adminKey }));
    expect(leaf.items.map((d: any) => d.id)).toEqual([child.id]);
  });

  it('the list filters by agent, user, parent and status', async () => {
    const ids = async (query: string) =>
      expectOk(await t.call('GET', `/v1/delegations?${query}`, { key: t.adminKey })).items.map(
        (d: any) => d.id,
      );
    expect(await ids(`agent=${w.b.id}`)).toEqual([child.id]);
    expect(await ids(`user=${w.alice.id}`)).toEqual([root.id, child.id]);
    expect(await ids(`parent=${root.id}`)).toEqual([child.id]);
    expect(await ids(`user=${w.alice.id}&status=revoked`)).toEqual([]);
  });

  it('each grant is one delegation.granted event with refs.delegationId', async () => {
    const events = (await auditEvents(t)).filter(
      (e) => e.type === 'delegation.granted' && [root.id, child.id].includes(e.refs?.delegationId),
    );
    expect(events.map((e) => e.refs.delegationId)).toEqual([root.id, child.id]);
    expect(events[0]).toMatchObject({
      actor: adminActor,
      target: { type: 'delegation', id: root.id },
      refs: { delegationId: root.id, agentId: w.a.id, userId: w.alice.id },
      after: { id: root.id, delegator: { kind: 'user', id: w.alice.id } },
    });
    expect(events[1]).toMatchObject({
      actor: { kind: 'agent', id: w.a.id },
      target: { type: 'delegation', id: child.id },
      refs: { delegationId: child.id, agentId: w.b.id, userId: w.alice.id },
      after: { id: child.id, parentId: root.id },
    });
  });

  it('malformed requested scopes are refused as invalid_request, never a TypeError', async () => {
    for (const bad of [
      { actions: 'email.read' },
      { arguments: { 'email.*': { to: null } } },
      { expiresAt: 'soon' },
    ]) {
      await expect(redelegate(w.a.id, root.id, w.b.id, bad as never)).rejects.toMatchObject({
        code: 'invalid_request',
        field: 'scope',
      });
    }
  });

  it('only the delegate of the parent may re-delegate it (another agent: not found)', async () => {
    await expect(redelegate(w.b.id, root.id, w.a.id, { actions: ['email.read'] })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(redelegate(w.a.id, root.id, w.a.id, { actions: ['email.read'] })).rejects.toMatchObject({
      code: 'invalid_request',
      field: 'delegateAgentId',
    });
  });
});

describe('a grant never widens the delegate agent’s boundaries (400, field scope, dimension named)', () => {
  let w: Awaited<ReturnType<typeof world>>;
  beforeAll(async () => {
    w = await world();
  });

  async function refused(agentId: string, scope: Record<string, unknown>, dimension: string) {
    const before = await countDelegations();
    const response = await grant({ delegateAgentId: agentId, onBehalfOf: w.alice.id, scope });
    expectError(response, 400, 'invalid_request', 'scope');
    expect(response.body.error.message).toContain("wider than the delegate's boundaries");
    expect(dimensionsIn(response.body.error.message)).toEqual([dimension]);
    expect(await countDelegations()).toBe(before);
  }

  it('an action outside the boundaries', async () => {
    await refused(w.a.id, aliceScope({ actions: ['email.*', 'calendar.read'] }), 'action');
    await refused(w.a.id, aliceScope({ actions: ['*'] }), 'action');
  });

  it('a resource outside the boundaries', async () => {
    await refused(w.a.id, aliceScope({ resources: ['mailbox:bob/*'] }), 'resource');
    await refused(w.a.id, aliceScope({ resources: ['mailbox:*'] }), 'resource');
  });

  it("a data class above the agent's maxDataClass", async () => {
    await refused(w.a.id, aliceScope({ dataClass: 'confidential' }), 'data_class');
  });

  it("an environment outside the agent's environments", async () => {
    const prodOnly = await agent(w.owner.id, { extra: { environments: ['prod'] } });
    await refused(prodOnly.id, aliceScope({ environments: ['staging'] }), 'environment');
    await refused(prodOnly.id, aliceScope({ environments: ['prod', 'dev'] }), 'environment');
    // Inside: named, or left out (inherited from the boundaries).
    expect(
      (await granted(prodOnly.id, w.alice.id, aliceScope({ environments: ['prod'] }))).scope.environments,
    ).toEqual(['prod']);
    expect((await granted(prodOnly.id, w.alice.id)).scope.environments).toEqual(['prod']);
  });

  it('a maxDepth above the agent’s maxDelegationDepth', async () => {
    await refused(w.a.id, aliceScope({ maxDepth: 3 }), 'depth');
    expect((await granted(w.a.id, w.alice.id, aliceScope({ maxDepth: 2 }))).scope.maxDepth).toBe(2);
  });

  it("an expiry beyond the agent's own expiry", async () => {
    const shortLived = await agent(w.owner.id, { extra: { expiresAt: fromNow(t, 3 * HOUR) } });
    await refused(shortLived.id, aliceScope({ expiresAt: fromNow(t, 4 * HOUR) }), 'expiry');
    expectOk(
      await grant({
        delegateAgentId: shortLived.id,
        onBehalfOf: w.alice.id,
        scope: aliceScope({ expiresAt: fromNow(t, 3 * HOUR) }),
      }),
      201,
    );
  });

  it('an expiry in the past (400, field scope.expiresAt)', async () => {
    const response = await grant({
      delegateAgentId: w.a.id,
      onBehalfOf: w.alice.id,
      scope: aliceScope({ expiresAt: fromNow(t, -60_000) }),
    });
    expectError(response, 400, 'invalid_request', 'scope.expiresAt');
  });

  it('several widenings at once are all named', async () => {
    const response = await grant({
      delegateAgentId: w.a.id,
      onBehalfOf: w.alice.id,
      scope: aliceScope({ actions: ['files.*'], dataClass: 'restricted', maxDepth: 5 }),
    });
    expectError(response, 400, 'invalid_request', 'scope');
    expect(dimensionsIn(response.body.error.message).sort()).toEqual(['action', 'data_class', 'depth']);
  });
});

describe('a re-delegation never widens its parent (invalid_request, dimension named)', () => {
  let w: Awaited<ReturnType<typeof world>>;
  let parent: any;

  beforeAll(async () => {
    w = await world();
    parent = await granted(
      w.a.id,
      w.alice.id,
      aliceScope({
        environments: ['prod'],
        arguments: { 'email.*': { to: { suffix: '@example.com' } } },
        limits: { maxUses: 100, ratePerMinute: 10 },
      }),
    );
  });

  async function refused(scope: Record<string, unknown>, dimension: string, actingAgentId = w.a.id) {
    const before = await countDelegations();
    const error = await redelegate(actingAgentId, parent.id, w.b.id, scope).then(
      () => undefined,
      (e) => e,
    );
    expect(error, `expected a refusal naming ${dimension}`).toBeDefined();
    expect(error).toMatchObject({ name: 'MandateError', code: 'invalid_request', field: 'scope' });
    expect(error.message).toContain('wider than the parent delegation');
    expect(dimensionsIn(error.message)).toEqual([dimension]);
    expect(await countDelegations()).toBe(before);
  }

  it('an action the parent was not given', async () => {
    await refused({ actions: ['email.read', 'calendar.read'] }, 'action');
  });

  it('a resource the parent was not given', async () => {
    await refused({ actions: ['email.read'], resources: ['mailbox:bob/*'] }, 'resource');
  });

  it("a data class above the parent's", async () => {
    await refused({ actions: ['email.read'], dataClass: 'confidential' }, 'data_class');
  });

  it("an environment outside the parent's", async () => {
    await refused({ actions: ['email.read'], environments: ['staging'] }, 'environment');
  });

  it("an argument constraint looser than the parent's", async () => {
    await refused(
      { actions: ['email.read'], arguments: { 'email.read': { to: { suffix: '.com' } } } },
      'argument',
    );
    await refused(
      { actions: ['email.read'], arguments: { 'email.*': { to: { maxLength: 100 } } } },
      'argument',
    );
  });

  it("limits above the parent's", async () => {
    await refused({ actions: ['email.read'], limits: { maxUses: 1000 } }, 'limits');
    await refused({ actions: ['email.read'], limits: { ratePerMinute: 11 } }, 'limits');
  });

  it("an expiry beyond the parent's", async () => {
    await refused({ actions: ['email.read'], expiresAt: fromNow(t, 3 * HOUR) }, 'expiry');
  });

  it('depth: more than the parent allows, and any re-delegation of a maxDepth-0 delegation', async () => {
    await refused({ actions: ['email.read'], maxDepth: 1 }, 'depth');
    // B's delegation (maxDepth 0) cannot be passed on at all.
    const child = await redelegate(w.a.id, parent.id, w.b.id, { actions: ['email.read'] });
    expect(child.scope.maxDepth).toBe(0);
    const c = await agent(w.owner.id);
    const before = await countDelegations();
    const error = await redelegate(w.b.id, child.id, c.id, { actions: ['email.read'] }).then(
      () => undefined,
      (e) => e,
    );
    expect(error).toMatchObject({ code: 'invalid_request', field: 'scope' });
    expect(dimensionsIn(error.message)).toEqual(['depth']);
    expect(await countDelegations()).toBe(before);
  });

  it("the child keeps the parent's argument constraints and limits when it asks for none", async () => {
    const child = await redelegate(w.a.id, parent.id, w.b.id, {
      actions: ['email.read'],
      arguments: { 'email.read': { to: { suffix: 'team@example.com' } } },
    });
    expect(child.scope.arguments).toEqual({
      'email.*': { to: { suffix: '@example.com' } },
      'email.read': { to: { suffix: 'team@example.com' } },
    });
    expect(child.scope.limits).toEqual({ maxUses: 100, ratePerMinute: 10 });
    expect(child.scope.environments).toEqual(['prod']);
  });

  it("inside the parent is not enough: the child must also fit the delegate's own boundaries", async () => {
    const reader = expectOk(
      await t.call('POST', '/v1/agents', {
        key: t.adminKey,
        body: {
          name: 'reader',
          ownerId: w.owner.id,
          boundaries: { actions: ['email.read'], resources: ['mailbox:alice/inbox'], maxDataClass: 'public' },
          keys: [await publicJwk()],
        },
      }),
      201,
    );
    expectOk(await t.call('POST', `/v1/agents/${reader.id}/activate`, { key: t.adminKey, body: {} }));
    const error = await redelegate(w.a.id, parent.id, reader.id, { actions: ['email.*'] }).then(
      () => undefined,
      (e) => e,
    );
    expect(error).toMatchObject({ code: 'invalid_request', field: 'scope' });
    expect(error.message).toContain("wider than the delegate's boundaries");
    expect(dimensionsIn(error.message).sort()).toEqual(['action', 'data_class', 'resource']);
    const fitted = await redelegate(w.a.id, parent.id, reader.id, {
      actions: ['email.read'],
      resources: ['mailbox:alice/inbox'],
      dataClass: 'public',
    });
    expect(fitted.scope).toMatchObject({ actions: ['email.read'], resources: ['mailbox:alice/inbox'] });
  });

  it('to an agent that is not active: conflict; to an unknown agent: invalid delegateAgentId', async () => {
    const pending = await agent(w.owner.id, { state: 'pending' });
    await expect(
      redelegate(w.a.id, parent.id, pending.id, { actions: ['email.read'] }),
    ).rejects.toMatchObject({
      code: 'conflict',
    });
    await expect(
      redelegate(w.a.id, parent.id, unknownId('agent'), { actions: ['email.read'] }),
    ).rejects.toMatchObject({ code: 'invalid_request', field: 'delegateAgentId' });
  });

  it('an expiry already past is refused, as at grant', async () => {
    const before = await countDelegations();
    const error = await redelegate(w.a.id, parent.id, w.b.id, {
      actions: ['email.read'],
      expiresAt: fromNow(t, -1000),
    }).then(
      (view) => ({ accepted: view }),
      (e) => e,
    );
    expect(error).toMatchObject({ code: 'invalid_request' });
    expect(await countDelegations()).toBe(before);
  });
});

describe('the answer to a grant tells the truth about liveness', () => {
  it('a grant not valid before a future time is answered live: false, like GET /:id', async () => {
    const w = await world();
    const created = await granted(w.a.id, w.alice.id, aliceScope({ notBefore: fromNow(t, HOUR) }));
    const shown = await getDelegation(created.id);
    expect(shown.live).toBe(false);
    expect(shown.liveness).toContain('not valid yet');
    expect(created.live).toBe(shown.live);
  });
});

describe('who may grant, and to whom', () => {
  let w: Awaited<ReturnType<typeof world>>;
  beforeAll(async () => {
    w = await world();
  });

  it.each(['pending', 'suspended', 'revoked'] as const)('a %s delegate agent: 409', async (state) => {
    const delegate = await agent(w.owner.id, { state });
    const response = await grant({
      delegateAgentId: delegate.id,
      onBehalfOf: w.alice.id,
      scope: aliceScope(),
    });
    expectError(response, 409, 'conflict');
    expect(response.body.error.message).toContain(state);
  });

  it('an unknown delegate agent: 400 (field delegateAgentId)', async () => {
    const response = await grant({
      delegateAgentId: unknownId('agent'),
      onBehalfOf: w.alice.id,
      scope: aliceScope(),
    });
    expectError(response, 400, 'invalid_request', 'delegateAgentId');
  });

  it('an admin without onBehalfOf: 400 (field onBehalfOf)', async () => {
    const response = await grant({ delegateAgentId: w.a.id, scope: aliceScope() });
    expectError(response, 400, 'invalid_request', 'onBehalfOf');
  });

  it('an unknown or offboarded onBehalfOf user: 400', async () => {
    const unknown = await grant({
      delegateAgentId: w.a.id,
      onBehalfOf: unknownId('user'),
      scope: aliceScope(),
    });
    expectError(unknown, 400, 'invalid_request', 'onBehalfOf');
    const leaver = await createUser(t, t.adminKey, { displayName: 'leaver' });
    expectOk(
      await t.call('POST', `/v1/users/${leaver.id}/offboard`, { key: t.adminKey, body: { reason: 'left' } }),
    );
    const gone = await grant({ delegateAgentId: w.a.id, onBehalfOf: leaver.id, scope: aliceScope() });
    expectError(gone, 400, 'invalid_request', 'onBehalfOf');
  });

  it('an operator key: 403, even bound to Alice (a key is never the user in person)', async () => {
    const operator = await createApiKey(t, t.adminKey, { roles: ['operator'] });
    expectError(
      await grant({ delegateAgentId: w.a.id, onBehalfOf: w.alice.id, scope: aliceScope() }, operator.secret),
      403,
      'forbidden',
    );
    const bound = await createApiKey(t, t.adminKey, { roles: ['operator'], userId: w.alice.id });
    expectError(
      await grant({ delegateAgentId: w.a.id, scope: aliceScope() }, bound.secret),
      403,
      'forbidden',
    );
    expectError(
      await grant({ delegateAgentId: w.a.id, onBehalfOf: w.alice.id, scope: aliceScope() }, bound.secret),
      403,
      'forbidden',
    );
  });

  it('a purpose is required', async () => {
    const response = await grant({
      delegateAgentId: w.a.id,
      onBehalfOf: w.alice.id,
      scope: aliceScope(),
      purpose: ' ',
    });
    expectError(response, 400, 'invalid_request', 'purpose');
  });
});

describe('a user in person (OIDC ID token, no role)', () => {
  let w: Awaited<ReturnType<typeof world>>;
  let carol: { bearer: string; user: any };
  let dave: { bearer: string; user: any };
  let carols: any;
  let others: any;

  beforeAll(async () => {
    w = await world();
    carol = await oidcUser();
    dave = await oidcUser();
    others = await granted(w.a.id, w.alice.id);
  });

  it('grants in their own name without any role', async () => {
    carols = expectOk(await grant({ delegateAgentId: w.a.id, scope: aliceScope() }, carol.bearer), 201);
    expect(carols).toMatchObject({
      rootUserId: carol.user.id,
      delegator: { kind: 'user', id: carol.user.id },
      createdBy: { kind: 'user', id: carol.user.id, issuer: ISSUER },
      depth: 0,
      live: true,
    });
    // Naming themselves is the same as leaving onBehalfOf out.
    const named = await grant(
      { delegateAgentId: w.a.id, onBehalfOf: carol.user.id, scope: aliceScope() },
      carol.bearer,
    );
    expect(expectOk(named, 201).rootUserId).toBe(carol.user.id);
    expectOk(
      await t.call('POST', `/v1/delegations/${named.body.id}/revoke`, {
        key: carol.bearer,
        body: { reason: 'dup' },
      }),
    );
  });

  it('may not grant for someone else (403)', async () => {
    const response = await grant(
      { delegateAgentId: w.a.id, onBehalfOf: w.alice.id, scope: aliceScope() },
      carol.bearer,
    );
    expectError(response, 403, 'forbidden');
  });

  it('sees only their own delegations, whatever the filters say', async () => {
    const list = expectOk(await t.call('GET', '/v1/delegations?status=active', { key: carol.bearer }));
    expect(list.items.map((d: any) => d.id)).toEqual([carols.id]);
    // A filter naming another user is refused, not silently replaced by the caller.
    expectError(
      await t.call('GET', `/v1/delegations?user=${w.alice.id}`, { key: carol.bearer }),
      403,
      'forbidden',
    );
    const own = expectOk(await t.call('GET', `/v1/delegations?user=${carol.user.id}`, { key: carol.bearer }));
    expect(own.items.map((d: any) => d.id)).toContain(carols.id);
    expect(own.items.every((d: any) => d.rootUserId === carol.user.id)).toBe(true);
    expect((await getDelegation(carols.id, carol.bearer)).id).toBe(carols.id);
    expectError(await t.call('GET', `/v1/delegations/${others.id}`, { key: carol.bearer }), 404, 'not_found');
    expectError(
      await t.call('GET', `/v1/delegations/${others.id}/tree`, { key: carol.bearer }),
      404,
      'not_found',
    );
    expect(expectOk(await t.call('GET', '/v1/delegations', { key: dave.bearer })).items).toEqual([]);
    expectError(await t.call('GET', `/v1/delegations/${carols.id}`, { key: dave.bearer }), 404, 'not_found');
  });

  it("may not revoke another user's delegation; may revoke their own", async () => {
    expectError(
      await t.call('POST', `/v1/delegations/${carols.id}/revoke`, {
        key: dave.bearer,
        body: { reason: 'x' },
      }),
      404,
      'not_found',
    );
    expectError(
      await t.call('POST', `/v1/delegations/${others.id}/revoke`, {
        key: carol.bearer,
        body: { reason: 'x' },
      }),
      404,
      'not_found',
    );
    const revoked = expectOk(
      await t.call('POST', `/v1/delegations/${carols.id}/revoke`, {
        key: carol.bearer,
        body: { reason: 'done' },
      }),
    );
    expect(revoked.revoked.map((d: any) => [d.id, d.status, d.live])).toEqual([
      [carols.id, 'revoked', false],
    ]);
    expect(revoked.revoked[0].revokedBy).toEqual({ kind: 'user', id: carol.user.id, issuer: ISSUER });
    expect((await getDelegation(others.id)).status).toBe('active');
  });
});

describe('revoking', () => {
  it('revoking the root revokes the whole subtree at once, in one delegation.revoked event', async () => {
    const w = await world();
    const c = await agent(w.owner.id);
    const root = await granted(w.a.id, w.alice.id, aliceScope({ maxDepth: 2 }));
    const child = await redelegate(w.a.id, root.id, w.b.id, { actions: ['email.read'] });
    const grandchild = await redelegate(w.b.id, child.id, c.id, { actions: ['email.read'] });
    const sibling = await granted(w.a.id, w.alice.id);
    const seqBefore = (await auditEvents(t)).at(-1).seq;

    const response = expectOk(
      await t.call('POST', `/v1/delegations/${root.id}/revoke`, {
        key: t.adminKey,
        body: { reason: 'task done' },
      }),
    );
    expect(response.revoked.map((d: any) => d.id)).toEqual([root.id, child.id, grandchild.id]);
    expect(response.revoked.every((d: any) => d.status === 'revoked' && d.live === false)).toBe(true);

    const events = (await auditEvents(t)).filter((e) => e.seq > seqBefore);
    expect(events.map((e) => e.type)).toEqual(['delegation.revoked']);
    expect(events[0]).toMatchObject({
      actor: adminActor,
      target: { type: 'delegation', id: root.id },
      refs: { delegationId: root.id, agentId: w.a.id, userId: w.alice.id },
      after: { revoked: [root.id, child.id, grandchild.id] },
      reason: 'task done',
    });

    for (const d of [root, child, grandchild]) {
      const shown = await getDelegation(d.id);
      expect(shown).toMatchObject({
        status: 'revoked',
        live: false,
        revokedBy: adminActor,
        revokedReason: 'task done',
      });
      expect(shown.liveness).toMatch(/^delegation_revoked/);
    }
    // A sibling under the same user is untouched.
    expect(await getDelegation(sibling.id)).toMatchObject({ status: 'active', live: true });

    // Again: 409, for the root and for a link already revoked with it.
    expectError(
      await t.call('POST', `/v1/delegations/${root.id}/revoke`, {
        key: t.adminKey,
        body: { reason: 'again' },
      }),
      409,
      'illegal_transition',
    );
    expectError(
      await t.call('POST', `/v1/delegations/${child.id}/revoke`, {
        key: t.adminKey,
        body: { reason: 'again' },
      }),
      409,
      'illegal_transition',
    );
    // A revoked delegation cannot be passed on.
    await expect(redelegate(w.b.id, child.id, c.id, { actions: ['email.read'] })).rejects.toMatchObject({
      code: 'conflict',
    });
  });

  it('revoking a child leaves its parent active', async () => {
    const w = await world();
    const root = await granted(w.a.id, w.alice.id);
    const child = await redelegate(w.a.id, root.id, w.b.id, { actions: ['email.read'] });
    const response = expectOk(
      await t.call('POST', `/v1/delegations/${child.id}/revoke`, {
        key: t.adminKey,
        body: { reason: 'narrow' },
      }),
    );
    expect(response.revoked.map((d: any) => d.id)).toEqual([child.id]);
    expect(await getDelegation(root.id)).toMatchObject({ status: 'active', live: true });
  });

  it('an unknown delegation: 404', async () => {
    expectError(
      await t.call('POST', `/v1/delegations/${unknownId('delegation')}/revoke`, {
        key: t.adminKey,
        body: { reason: 'x' },
      }),
      404,
      'not_found',
    );
  });
});

describe('liveness: a chain is usable only while every link is', () => {
  it('suspending A stops B’s delegation (agent_suspended); resuming brings it back', async () => {
    const w = await world();
    const root = await granted(w.a.id, w.alice.id);
    const child = await redelegate(w.a.id, root.id, w.b.id, { actions: ['email.read'] });

    expectOk(
      await t.call('POST', `/v1/agents/${w.a.id}/suspend`, { key: t.adminKey, body: { reason: 'look' } }),
    );
    const suspended = await getDelegation(child.id);
    expect(suspended).toMatchObject({ status: 'active', live: false });
    expect(suspended.liveness).toContain('agent_suspended');
    expect((await getDelegation(root.id)).live).toBe(false);
    // The list says so too; and a suspended link cannot be re-delegated from.
    const listed = expectOk(
      await t.call('GET', `/v1/delegations?agent=${w.b.id}`, { key: t.adminKey }),
    ).items;
    expect(listed.map((d: any) => [d.id, d.live, d.liveness])).toEqual([
      [child.id, false, 'agent_suspended'],
    ]);
    await expect(redelegate(w.a.id, root.id, w.b.id, { actions: ['email.read'] })).rejects.toMatchObject({
      code: 'conflict',
    });

    expectOk(await t.call('POST', `/v1/agents/${w.a.id}/resume`, { key: t.adminKey, body: {} }));
    const resumed = await getDelegation(child.id);
    expect(resumed.live).toBe(true);
    expect(resumed.liveness).toBeUndefined();
  });

  it('suspending B stops only B’s delegation, not A’s', async () => {
    const w = await world();
    const root = await granted(w.a.id, w.alice.id);
    const child = await redelegate(w.a.id, root.id, w.b.id, { actions: ['email.read'] });
    expectOk(
      await t.call('POST', `/v1/agents/${w.b.id}/suspend`, { key: t.adminKey, body: { reason: 'look' } }),
    );
    expect((await getDelegation(child.id)).liveness).toContain('agent_suspended');
    expect((await getDelegation(root.id)).live).toBe(true);
  });

  it('revoking agent A stops the chain (agent_revoked)', async () => {
    const w = await world();
    const root = await granted(w.a.id, w.alice.id);
    const child = await redelegate(w.a.id, root.id, w.b.id, { actions: ['email.read'] });
    expectOk(
      await t.call('POST', `/v1/agents/${w.a.id}/revoke`, { key: t.adminKey, body: { reason: 'gone' } }),
    );
    const shown = await getDelegation(child.id);
    expect(shown.live).toBe(false);
    expect(shown.liveness).toContain('agent_revoked');
  });

  it('the tree reports the same liveness as GET /:id (suspended link: live false)', async () => {
    const w = await world();
    const root = await granted(w.a.id, w.alice.id);
    const child = await redelegate(w.a.id, root.id, w.b.id, { actions: ['email.read'] });
    expectOk(
      await t.call('POST', `/v1/agents/${w.a.id}/suspend`, { key: t.adminKey, body: { reason: 'look' } }),
    );
    expect((await getDelegation(child.id)).live).toBe(false);
    const tree = expectOk(await t.call('GET', `/v1/delegations/${root.id}/tree`, { key: t.adminKey }));
    expect(tree.items.map((d: any) => [d.id, d.live])).toEqual([
      [root.id, false],
      [child.id, false],
    ]);
  });

  // Last in this file's use of the clock: it moves the shared clock forward (later tests only use
  // times relative to it).
  it('past its expiry a delegation is dead (delegation_expired), and cannot be re-delegated', async () => {
    const w = await world();
    const root = await granted(w.a.id, w.alice.id);
    const child = await redelegate(w.a.id, root.id, w.b.id, { actions: ['email.read'] });
    t.clock.advance(2 * HOUR - 1000);
    expect((await getDelegation(child.id)).live).toBe(true);
    t.clock.advance(2000);
    const expired = await getDelegation(child.id);
    expect(expired).toMatchObject({ status: 'active', live: false });
    expect(expired.liveness).toContain('delegation_expired');
    expect((await getDelegation(root.id)).liveness).toContain('delegation_expired');
    await expect(redelegate(w.a.id, root.id, w.b.id, { actions: ['email.read'] })).rejects.toMatchObject({
      code: 'conflict',
    });
  });
});

describe('offboarding the root user', () => {
  it('revokes every delegation rooted at them, in the user.offboarded event', async () => {
    const w = await world();
    const bob = await createUser(t, t.adminKey, { displayName: 'Bob' });
    const root = await granted(w.a.id, w.alice.id);
    const child = await redelegate(w.a.id, root.id, w.b.id, { actions: ['email.read'] });
    const second = await granted(w.b.id, w.alice.id, aliceScope({ maxDepth: 0 }));
    const alreadyRevoked = await granted(w.a.id, w.alice.id);
    expectOk(
      await t.call('POST', `/v1/delegations/${alreadyRevoked.id}/revoke`, {
        key: t.adminKey,
        body: { reason: 'x' },
      }),
    );
    const bobs = await granted(w.a.id, bob.id);
    const seqBefore = (await auditEvents(t)).at(-1).seq;

    // Alice owns no agent (they are the owner's), so she may leave at once.
    expectOk(
      await t.call('POST', `/v1/users/${w.alice.id}/offboard`, {
        key: t.adminKey,
        body: { reason: 'left the company' },
      }),
    );
    const events = (await auditEvents(t)).filter((e) => e.seq > seqBefore);
    expect(events.map((e) => e.type)).toEqual(['user.offboarded']);
    expect(events[0].after.status).toBe('offboarded');
    expect([...events[0].after.revokedDelegations].sort()).toEqual([root.id, child.id, second.id].sort());

    for (const d of [root, child, second]) {
      const shown = await getDelegation(d.id);
      expect(shown).toMatchObject({ status: 'revoked', live: false, revokedBy: adminActor });
      expect(shown.revokedReason).toContain('root user offboarded');
    }
    // The one revoked earlier keeps its own revocation; Bob's is untouched.
    expect((await getDelegation(alreadyRevoked.id)).revokedReason).toBe('x');
    expect(await getDelegation(bobs.id)).toMatchObject({ status: 'active', live: true });
  });

  it('an offboarding refused (Alice still owns an agent) revokes nothing', async () => {
    const w = await world();
    const root = await granted(w.a.id, w.alice.id);
    await agent(w.alice.id);
    expectError(
      await t.call('POST', `/v1/users/${w.alice.id}/offboard`, { key: t.adminKey, body: { reason: 'left' } }),
      409,
      'conflict',
    );
    expect(await getDelegation(root.id)).toMatchObject({ status: 'active', live: true });
  });
});
