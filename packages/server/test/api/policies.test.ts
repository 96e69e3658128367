/**
 * Policies and entities over HTTP: the baseline in force at first; a publish refused with
 * Cedar's own messages leaves the active version unchanged; versions, diff and re-activation;
 * entities stored and used by evaluations with their ancestors; reserved context and entity
 * types refused; the evaluations semantics; every decision durable in the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../harness.js';

let t: TestApp;
let pep: string;
const SCHEMA = `entity Team; entity Person in [Team] { level: Long }; entity Doc { owner: String };
action read, write appliesTo { principal: Person, resource: Doc };`;
const V1 = `permit (principal in Team::"eng", action == Action::"read", resource);`;
const V2 = `${V1}\npermit (principal, action == Action::"write", resource) when { principal.level >= 3 };`;

const evaluate = (body: unknown) => t.call('POST', '/access/v1/evaluation', { key: pep, body });
const ask = (person: string, action: string, context?: Record<string, unknown>) =>
  evaluate({
    subject: { type: 'Person', id: person },
    action: { name: action },
    resource: { type: 'Doc', id: 'd1' },
    ...(context ? { context } : {}),
  });

beforeAll(async () => {
  t = await startTestApp();
  pep = (await t.call('POST', '/v1/api-keys', { key: t.adminKey, body: { name: 'pep', roles: ['pep'] } }))
    .body.secret;
  const put = await t.call('PUT', '/v1/entities', {
    key: t.adminKey,
    body: {
      entities: [
        { uid: { type: 'Team', id: 'eng' }, attrs: {}, parents: [{ type: 'Team', id: 'all' }] },
        { uid: { type: 'Team', id: 'all' } },
        { uid: { type: 'Person', id: 'ada' }, attrs: { level: 4 }, parents: [{ type: 'Team', id: 'eng' }] },
        { uid: { type: 'Person', id: 'bob' }, attrs: { level: 1 }, parents: [] },
      ],
    },
  });
  expect(put.status, put.text).toBe(200);
});
afterAll(async () => t?.close());

describe('policy versions', () => {
  it('starts on the built-in baseline (version 0), which denies plain requests', async () => {
    const list = await t.call('GET', '/v1/policies', { key: t.adminKey });
    expect(list.body.active).toBe(0);
    expect(list.body.items[0]).toMatchObject({ version: 0, active: true });
    const answer = await ask('ada', 'read');
    expect(answer.body).toMatchObject({ decision: false, context: { reason: 'no_policy_permits' } });
  });

  it('refuses text that does not parse, or does not validate against the schema, with Cedar’s messages; nothing changes', async () => {
    const broken = await t.call('POST', '/v1/policies', {
      key: t.adminKey,
      body: { policies: 'permit(principal' },
    });
    expect(broken.status).toBe(400);
    expect(broken.body.error.field).toBe('policies');
    const invalid = await t.call('POST', '/v1/policies', {
      key: t.adminKey,
      body: { policies: 'permit(principal, action == Action::"fly", resource);', schema: SCHEMA },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.message).toMatch(/fly/);
    expect((await t.call('GET', '/v1/policies', { key: t.adminKey })).body.active).toBe(0);
    const check = await t.call('POST', '/v1/policies/validate', {
      key: t.adminKey,
      body: { policies: 'permit(principal, action == Action::"fly", resource);', schema: SCHEMA },
    });
    expect(check.body.valid).toBe(false);
  });

  it('publishes versions that take effect at once, shows, diffs and re-activates them (all audited)', async () => {
    const v1 = await t.call('POST', '/v1/policies', {
      key: t.adminKey,
      body: { policies: V1, schema: SCHEMA },
    });
    expect(v1.status, v1.text).toBe(201);
    expect(v1.body).toMatchObject({ version: 1, active: true });
    // ada is in eng (directly), so read is allowed; bob is not.
    expect((await ask('ada', 'read')).body.decision).toBe(true);
    expect((await ask('bob', 'read')).body.decision).toBe(false);
    expect((await ask('ada', 'write')).body.decision).toBe(false);

    const v2 = await t.call('POST', '/v1/policies', {
      key: t.adminKey,
      body: { policies: V2, schema: SCHEMA },
    });
    expect(v2.body).toMatchObject({ version: 2, active: true });
    expect((await ask('ada', 'write')).body.decision).toBe(true);
    expect((await ask('bob', 'write')).body.decision).toBe(false);

    const diff = await t.call('GET', '/v1/policies/2/diff', { key: t.adminKey });
    expect(diff.body.diff).toMatch(/\+permit \(principal, action == Action::"write"/);
    const back = await t.call('POST', '/v1/policies/1/activate', {
      key: t.adminKey,
      body: { reason: 'roll back' },
    });
    expect(back.body).toMatchObject({ version: 1, active: true });
    expect((await ask('ada', 'write')).body.decision).toBe(false);
    const again = await t.call('POST', '/v1/policies/1/activate', {
      key: t.adminKey,
      body: { reason: 'twice' },
    });
    expect(again.status).toBe(409);
    expect((await t.call('GET', '/v1/policies/9', { key: t.adminKey })).status).toBe(404);

    const events = await t.call('GET', '/v1/audit/events?limit=200', { key: t.adminKey });
    const types = events.body.items.map((e: { type: string }) => e.type);
    expect(types.filter((x: string) => x === 'policy.published')).toHaveLength(2);
    expect(types).toContain('policy.activated');
  });
});

describe('entities and evaluation', () => {
  beforeAll(async () => {
    await t.call('POST', '/v1/policies', {
      key: t.adminKey,
      body: {
        policies: `permit (principal in Team::"all", action == Action::"read", resource);
forbid (principal, action, resource) when { context has blocked && context.blocked == true };`,
      },
    });
  });

  it('loads ancestors: ada is in eng, eng is in all', async () => {
    expect((await ask('ada', 'read')).body.decision).toBe(true);
  });

  it('a forbid names the reason kind, never the policy text', async () => {
    const answer = await ask('ada', 'read', { blocked: true });
    expect(answer.body).toMatchObject({ decision: false, context: { reason: 'policy_denied' } });
    expect(answer.text).not.toMatch(/forbid|blocked ==/);
  });

  it('refuses a context that sets a key Mandate reserves', async () => {
    const answer = await ask('ada', 'read', { mandate: { delegated: true } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(/reserved/);
  });

  it('refuses to store Agent and Org entities (they come from the registry) and malformed entities', async () => {
    for (const type of ['Agent', 'Org']) {
      const put = await t.call('PUT', '/v1/entities', {
        key: t.adminKey,
        body: { entities: [{ uid: { type, id: 'agt_x' } }] },
      });
      expect(put.status).toBe(400);
    }
    const bad = await t.call('PUT', '/v1/entities', {
      key: t.adminKey,
      body: { entities: [{ uid: { type: 'Doc', id: 'x' }, attrs: { n: 2 ** 60 } }] },
    });
    expect(bad.status).toBe(400);
  });

  it('shows, lists and deletes entities; a deleted parent ends the inheritance', async () => {
    const shown = await t.call('GET', `/v1/entities/Person/ada`, { key: t.adminKey });
    expect(shown.body).toMatchObject({ uid: { type: 'Person', id: 'ada' }, attrs: { level: 4 } });
    const listed = await t.call('GET', '/v1/entities?type=Team', { key: t.adminKey });
    expect(listed.body.items.map((e: { uid: { id: string } }) => e.uid.id)).toEqual(['all', 'eng']);
    expect((await t.call('DELETE', '/v1/entities/Team/eng', { key: t.adminKey })).status).toBe(200);
    expect((await ask('ada', 'read')).body.decision).toBe(false);
    expect((await t.call('DELETE', '/v1/entities/Team/eng', { key: t.adminKey })).status).toBe(404);
  });

  it('evaluations: defaults, overrides and the three semantics', async () => {
    await t.call('PUT', '/v1/entities', {
      key: t.adminKey,
      body: { entities: [{ uid: { type: 'Person', id: 'cy' }, parents: [{ type: 'Team', id: 'all' }] }] },
    });
    const body = (semantic?: string) => ({
      action: { name: 'read' },
      resource: { type: 'Doc', id: 'd1' },
      evaluations: [
        { subject: { type: 'Person', id: 'cy' } },
        { subject: { type: 'Person', id: 'bob' } },
        { subject: { type: 'Person', id: 'cy' } },
      ],
      ...(semantic ? { options: { evaluations_semantic: semantic } } : {}),
    });
    const decisions = async (semantic?: string) =>
      (
        await t.call('POST', '/access/v1/evaluations', { key: pep, body: body(semantic) })
      ).body.evaluations.map((e: { decision: boolean }) => e.decision);
    expect(await decisions()).toEqual([true, false, true]);
    expect(await decisions('execute_all')).toEqual([true, false, true]);
    expect(await decisions('deny_on_first_deny')).toEqual([true, false]);
    expect(await decisions('permit_on_first_permit')).toEqual([true]);
    const missing = await t.call('POST', '/access/v1/evaluations', {
      key: pep,
      body: { evaluations: [{ subject: { type: 'Person', id: 'cy' } }] },
    });
    expect(missing.status).toBe(400);
  });

  it('publishes its configuration', async () => {
    const config = await t.call('GET', '/.well-known/authzen-configuration');
    expect(config.body).toEqual({
      policy_decision_point: 'http://mandate.test',
      access_evaluation_endpoint: 'http://mandate.test/access/v1/evaluation',
      access_evaluations_endpoint: 'http://mandate.test/access/v1/evaluations',
      search_subject_endpoint: 'http://mandate.test/access/v1/search/subject',
      search_resource_endpoint: 'http://mandate.test/access/v1/search/resource',
      search_action_endpoint: 'http://mandate.test/access/v1/search/action',
      access_request_endpoint: 'http://mandate.test/access/v1/requests',
      capabilities: ['urn:openid:authzen:capability:access-request'],
    });
  });
});
