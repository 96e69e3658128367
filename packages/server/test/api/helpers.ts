import { type IdKind, newId } from '@mandate/core';
import { expect } from 'vitest';
import { boundaries, publicJwk, type TestApp } from '../harness.js';

export type Response = Awaited<ReturnType<TestApp['call']>>;

const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** Asserts an error answer: status, `{ error: { code, message } }`, and the field when given. */
export function expectError(response: Response, status: number, code: string, field?: string): void {
  expect({ status: response.status, code: response.body?.error?.code }, response.text).toEqual({
    status,
    code,
  });
  expect(typeof response.body.error.message).toBe('string');
  expect(response.body.error.message.length).toBeGreaterThan(0);
  if (field !== undefined) expect(response.body.error.field, response.text).toBe(field);
}

/** Asserts a success answer with the given status and returns its body. */
export function expectOk(response: Response, status = 200): any {
  expect(response.status, response.text).toBe(status);
  return response.body;
}

/** The id part (`key_…`) of an API key secret `mk_key_…_<secret>`. */
export function keyIdOf(secret: string): string {
  const match = /^mk_(key_[0-9A-Z]{26})_/.exec(secret);
  if (!match) throw new Error(`not an API key secret: ${secret}`);
  return match[1] as string;
}

/** A well-formed id that names nothing. */
export const unknownId = (kind: IdKind) => newId(kind);

/** An ISO time `ms` from the test clock's now (negative: in the past). */
export const fromNow = (t: TestApp, ms: number) => new Date(t.clock.now().getTime() + ms).toISOString();

export async function createUser(t: TestApp, key: string, body: Record<string, unknown> = {}): Promise<any> {
  return expectOk(await t.call('POST', '/v1/users', { key, body: { displayName: 'someone', ...body } }), 201);
}

/** Creates an API key; returns the stored view (`key`), its `id` and its `secret`. */
export async function createApiKey(
  t: TestApp,
  key: string,
  body: { roles: string[]; userId?: string; name?: string; expiresAt?: string },
): Promise<{ key: any; id: string; secret: string }> {
  const created = expectOk(
    await t.call('POST', '/v1/api-keys', { key, body: { name: 'test key', ...body } }),
    201,
  );
  return { key: created.key, id: created.key.id, secret: created.secret };
}

/** A user together with an operator key bound to them (acts as that user). */
export async function userWithOperatorKey(
  t: TestApp,
  name = 'owner',
): Promise<{ user: any; secret: string; keyId: string }> {
  const user = await createUser(t, t.adminKey, { displayName: name });
  const { secret, id } = await createApiKey(t, t.adminKey, { roles: ['operator'], userId: user.id });
  return { user, secret, keyId: id };
}

export async function agentBody(
  ownerId: string,
  extra: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  return { name: 'agent', ownerId, boundaries, keys: [await publicJwk()], ...extra };
}

export async function registerAgent(
  t: TestApp,
  key: string,
  ownerId: string,
  extra: Record<string, unknown> = {},
): Promise<any> {
  return expectOk(await t.call('POST', '/v1/agents', { key, body: await agentBody(ownerId, extra) }), 201);
}

/** Every page of a list endpoint, following `nextCursor`. */
export async function walk(t: TestApp, key: string, url: string): Promise<{ items: any[]; pages: any[][] }> {
  const items: any[] = [];
  const pages: any[][] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const separator = url.includes('?') ? '&' : '?';
    const page = expectOk(
      await t.call('GET', cursor ? `${url}${separator}cursor=${encodeURIComponent(cursor)}` : url, { key }),
    );
    items.push(...page.items);
    pages.push(page.items);
    if (!page.nextCursor) return { items, pages };
    cursor = page.nextCursor;
  }
  throw new Error(`${url}: more than 1000 pages`);
}

/** Every audit event of the principal's org, in order. */
export async function auditEvents(t: TestApp, key = t.adminKey, query = ''): Promise<any[]> {
  return (await walk(t, key, `/v1/audit/events?limit=200${query ? `&${query}` : ''}`)).items;
}
