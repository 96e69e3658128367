/**
 * AuthZEN interop: the Todo scenario's users, roles and rules (examples/authzen-todo/) loaded
 * through the HTTP API, then all 40 decisions of the interop suite asked of
 * POST /access/v1/evaluation with an enforcement point's key, and of /access/v1/evaluations.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFORMANCE } from '../../../core/test/conformance-path.js';
import { startTestApp, type TestApp } from '../harness.js';
import { REPO } from '../processes.js';

const EXAMPLE = path.join(REPO, 'examples/authzen-todo');
const cases = JSON.parse(fs.readFileSync(path.join(CONFORMANCE, 'authzen/todo-decisions.json'), 'utf8'))
  .decisions as Array<{ request: Record<string, any>; expected: boolean }>;

let t: TestApp;
let pep: string;

beforeAll(async () => {
  t = await startTestApp();
  const entities = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'entities.json'), 'utf8'));
  const put = await t.call('PUT', '/v1/entities', { key: t.adminKey, body: entities });
  expect(put.status, put.text).toBe(200);
  const published = await t.call('POST', '/v1/policies', {
    key: t.adminKey,
    body: {
      policies: fs.readFileSync(path.join(EXAMPLE, 'policies.cedar'), 'utf8'),
      schema: fs.readFileSync(path.join(EXAMPLE, 'schema.cedarschema'), 'utf8'),
      note: 'AuthZEN Todo scenario',
    },
  });
  expect(published.status, published.text).toBe(201);
  expect(published.body).toMatchObject({ version: 1, active: true });
  const key = await t.call('POST', '/v1/api-keys', {
    key: t.adminKey,
    body: { name: 'pep', roles: ['pep'] },
  });
  pep = key.body.secret;
});
afterAll(async () => t?.close());

describe('the AuthZEN interop Todo suite', () => {
  it('has 40 cases', () => expect(cases).toHaveLength(40));

  it.each(
    cases.map(
      (c, i) => [i, `${c.request.subject.id} ${c.request.action.name} ${c.request.resource.id}`, c] as const,
    ),
  )('case %i: %s', async (_i, _name, c) => {
    const response = await t.call('POST', '/access/v1/evaluation', { key: pep, body: c.request });
    expect(response.status, response.text).toBe(200);
    expect(response.body.decision).toBe(c.expected);
    expect(response.body.context.decision_id).toMatch(/^\d+$/);
    if (!c.expected) expect(response.body.context.reason).toBe('no_policy_permits');
  });

  it('the same 40 through /access/v1/evaluations (execute_all) give the same decisions, in order', async () => {
    const response = await t.call('POST', '/access/v1/evaluations', {
      key: pep,
      body: { evaluations: cases.map((c) => c.request) },
    });
    expect(response.status, response.text).toBe(200);
    expect(response.body.evaluations.map((e: { decision: boolean }) => e.decision)).toEqual(
      cases.map((c) => c.expected),
    );
  });

  it('search: which actions may Morty take on his own todo; which users may read Beth; which todos Rick may delete', async () => {
    const actions = await t.call('POST', '/access/v1/search/action', {
      key: pep,
      body: {
        subject: { type: 'user', id: 'morty@the-citadel.com' },
        resource: { type: 'todo', id: 't1', properties: { ownerID: 'morty@the-citadel.com' } },
      },
    });
    expect(actions.status, actions.text).toBe(200);
    // (policy0 permits can_read_user on any resource, as the scenario's rules say for users.)
    expect(actions.body.results.map((a: { name: string }) => a.name)).toEqual([
      'can_create_todo',
      'can_delete_todo',
      'can_read_todos',
      'can_read_user',
      'can_update_todo',
    ]);
    const viewerActions = await t.call('POST', '/access/v1/search/action', {
      key: pep,
      body: { subject: { type: 'user', id: 'beth@the-smiths.com' }, resource: { type: 'todo', id: 't1' } },
    });
    expect(viewerActions.body.results).toEqual([{ name: 'can_read_todos' }, { name: 'can_read_user' }]);
    const subjects = await t.call('POST', '/access/v1/search/subject', {
      key: pep,
      body: {
        subject: { type: 'user' },
        action: { name: 'can_create_todo' },
        resource: { type: 'todo', id: 't1' },
      },
    });
    expect(subjects.body.results.map((s: { id: string }) => s.id).sort()).toEqual([
      'morty@the-citadel.com',
      'rick@the-citadel.com',
      'summer@the-smiths.com',
    ]);
    expect(subjects.body.context.candidates).toBe(5);
  });

  it('every decision is in the audit log, with the policy version and the determining policies', async () => {
    const events = await t.call('GET', '/v1/audit/events?type=decision&limit=200', { key: t.adminKey });
    // (searches are recorded as decision.search)
    expect(events.body.items.length).toBeGreaterThanOrEqual(80);
    const first = events.body.items[0];
    expect(first.after).toMatchObject({
      kind: 'authzen',
      policyVersion: 1,
      result: 'allow',
      determining: ['policy0'],
    });
    expect(first.after.request.digest).toMatch(/^[0-9a-f]{64}$/);
  });
});
