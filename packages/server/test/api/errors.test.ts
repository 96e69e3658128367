import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundaries, publicJwk, startTestApp, type TestApp } from '../harness.js';
import { createUser, expectError, expectOk, type Response, registerAgent, unknownId } from './helpers.js';

/** A stack frame as V8 prints it: "at fn (/path/file.ts:1:2)" or "at /path/file.js:1:2". */
const STACK_FRAME = /\bat (?:[^\s()]+ )?\(?(?:file:\/\/)?(?:\/|[A-Za-z]:\\)[^\s)]+\.(?:[cm]?[jt]s):\d+/;

/** No 5xx, no stack trace, and the error shape `{ error: { code, message } }` on every error. */
function expectClean(response: Response, what: string): void {
  expect(response.status, `${what}: ${response.text}`).toBeLessThan(500);
  expect(response.text, what).not.toMatch(STACK_FRAME);
  expect(response.text, what).not.toContain('"stack"');
  if (response.status >= 400) {
    // The OAuth endpoints answer in their RFC's shape; every other route in ours.
    const oauth = typeof response.body?.error === 'string';
    if (oauth && what.includes(' /oauth/')) {
      expect(response.body, `${what}: ${response.text}`).toEqual({
        error: expect.any(String),
        error_description: expect.any(String),
      });
      return;
    }
    expect(response.body?.error, `${what}: ${response.text}`).toEqual(
      expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
    );
  }
}

const FORM = 'application/x-www-form-urlencoded';

let t: TestApp;
let ownerId: string;
let agentId: string;
beforeAll(async () => {
  t = await startTestApp();
  ownerId = (await createUser(t, t.adminKey)).id;
  agentId = (await registerAgent(t, t.adminKey, ownerId)).id;
});
afterAll(async () => t.close());

async function validAgent(): Promise<Record<string, unknown>> {
  return { name: 'x', ownerId, boundaries, keys: [await publicJwk()] };
}

describe('bad request bodies: 400 invalid_request with the field', () => {
  it('a missing required field', async () => {
    const { name: _name, ...noName } = await validAgent();
    expectError(
      await t.call('POST', '/v1/agents', { key: t.adminKey, body: noName }),
      400,
      'invalid_request',
      'name',
    );
    expectError(
      await t.call('POST', '/v1/users', { key: t.adminKey, body: {} }),
      400,
      'invalid_request',
      'displayName',
    );
    const { actions: _actions, ...noActions } = boundaries;
    expectError(
      await t.call('POST', '/v1/agents', {
        key: t.adminKey,
        body: { ...(await validAgent()), boundaries: noActions },
      }),
      400,
      'invalid_request',
      'boundaries.actions',
    );
  });

  it('a wrong type', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 123 }, 'name'],
      [{ labels: 'team' }, 'labels'],
      [{ metadata: { model: ['a'] } }, 'metadata.model'],
      [{ boundaries: { ...boundaries, maxDelegationDepth: 'deep' } }, 'boundaries.maxDelegationDepth'],
      [{ keys: 'a key' }, 'keys'],
      [{ expiresAt: 1_900_000_000 }, 'expiresAt'],
    ];
    for (const [change, field] of cases) {
      const response = await t.call('POST', '/v1/agents', {
        key: t.adminKey,
        body: { ...(await validAgent()), ...change },
      });
      expectError(response, 400, 'invalid_request', field);
      expect(response.body.error.message).toMatch(new RegExp(`^${field.replace('.', '\\.')}: `));
    }
  });

  it('a value out of its range or pattern', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: '' }, 'name'],
      [{ name: 'x'.repeat(129) }, 'name'],
      [{ labels: ['has space'] }, 'labels.0'],
      [{ boundaries: { ...boundaries, actions: ['not a pattern!'] } }, 'boundaries.actions.0'],
      [{ boundaries: { ...boundaries, maxDataClass: 'top-secret' } }, 'boundaries.maxDataClass'],
      [{ boundaries: { ...boundaries, maxCredentialTtlSeconds: 10 } }, 'boundaries.maxCredentialTtlSeconds'],
      [{ expiresAt: 'next week' }, 'expiresAt'],
      [{ ownerId: 'usr_nope' }, 'ownerId'],
    ];
    for (const [change, field] of cases) {
      const response = await t.call('POST', '/v1/agents', {
        key: t.adminKey,
        body: { ...(await validAgent()), ...change },
      });
      expectError(response, 400, 'invalid_request', field);
    }
  });

  it('an unknown field (bodies are strict), at the top level and nested', async () => {
    const top = await t.call('POST', '/v1/users', {
      key: t.adminKey,
      body: { displayName: 'x', isAdmin: true },
    });
    expectError(top, 400, 'invalid_request', 'body');
    expect(top.body.error.message).toContain('isAdmin');

    const nested = await t.call('POST', '/v1/agents', {
      key: t.adminKey,
      body: { ...(await validAgent()), boundaries: { ...boundaries, unlimited: true } },
    });
    expectError(nested, 400, 'invalid_request', 'boundaries');
    expect(nested.body.error.message).toContain('unlimited');

    const command = await t.call('POST', `/v1/agents/${agentId}/activate`, {
      key: t.adminKey,
      body: { force: true },
    });
    expectError(command, 400, 'invalid_request', 'body');
  });

  it('a body that is JSON but not an object', async () => {
    for (const body of ['[]', '"text"', '42']) {
      expectError(
        await t.call('POST', '/v1/users', { key: t.adminKey, body }),
        400,
        'invalid_request',
        'body',
      );
    }
  });
});

describe('bad path parameters: 400 with the parameter as field', () => {
  it.each([
    ['/v1/agents/not-an-id', 'agentId'],
    [`/v1/agents/${unknownId('user')}`, 'agentId'],
    ['/v1/agents/agt_01ARZ3NDEKTSV4RRFFQ69G5FA', 'agentId'],
    ['/v1/agents/not-an-id/keys', 'agentId'],
    ['/v1/users/42', 'userId'],
    ['/v1/api-keys/mk_key', 'keyId'],
    ['/v1/audit/events/first', 'seq'],
    ['/v1/audit/events/-1', 'seq'],
    ['/v1/delegations/not-an-id', 'delegationId'],
    [`/v1/delegations/${unknownId('agent')}/tree`, 'delegationId'],
    ['/v1/policies/latest', 'version'],
    ['/v1/policies/-1', 'version'],
    ['/v1/policies/1.5/diff', 'version'],
    ['/v1/policies/1000000001', 'version'],
    ['/v1/entities/not%20a%20type/x', 'type'],
    ['/v1/entities/A%3A%3A/x', 'type'],
    ['/v1/entities/1User/x', 'type'],
  ])('GET %s → field %s', async (url, field) => {
    expectError(await t.call('GET', url, { key: t.adminKey }), 400, 'invalid_request', field);
  });

  // Path parameters as long as the schemas allow reach the route (fastify's default limit was 100),
  // and a version is digits only (z.coerce.number read blank, hex, exponent and signed forms).
  it('an entity id PUT accepts (up to 1024 characters) is reachable by GET and DELETE', async () => {
    const id = 'x'.repeat(1024);
    expectOk(
      await t.call('PUT', '/v1/entities', {
        key: t.adminKey,
        body: { entities: [{ uid: { type: 'User', id } }] },
      }),
    );
    expect(expectOk(await t.call('GET', `/v1/entities/User/${id}`, { key: t.adminKey })).uid).toEqual({
      type: 'User',
      id,
    });
    expectOk(await t.call('DELETE', `/v1/entities/User/${id}`, { key: t.adminKey }));
    // One more than the schema allows is the parameter's 400, not the router's.
    expectError(
      await t.call('GET', `/v1/entities/User/${id}x`, { key: t.adminKey }),
      400,
      'invalid_request',
      'id',
    );
  });

  it.each([
    ['/v1/policies/%20', 'version'],
    ['/v1/policies/0x1', 'version'],
    ['/v1/policies/1e0', 'version'],
    ['/v1/policies/+1', 'version'],
    ['/v1/policies/0/diff?against=%20', 'against'],
  ])('GET %s → field %s (a version is digits only)', async (url, field) => {
    expectError(await t.call('GET', url, { key: t.adminKey }), 400, 'invalid_request', field);
  });

  it('POST to a malformed agent id or kid', async () => {
    expectError(
      await t.call('POST', '/v1/agents/bad/activate', { key: t.adminKey }),
      400,
      'invalid_request',
      'agentId',
    );
    expectError(
      await t.call('POST', `/v1/agents/${agentId}/keys/not-a-thumbprint/retire`, { key: t.adminKey }),
      400,
      'invalid_request',
      'kid',
    );
  });

  it('a malformed org id (platform API)', async () => {
    expectError(
      await t.call('GET', '/v1/orgs/org_bad', { key: t.platformKey }),
      400,
      'invalid_request',
      'orgId',
    );
  });
});

describe('bad query values: 400 with the parameter as field', () => {
  it.each([
    ['/v1/agents?limit=0', 'limit'],
    ['/v1/agents?limit=201', 'limit'],
    ['/v1/agents?limit=abc', 'limit'],
    ['/v1/agents?limit=1.5', 'limit'],
    ['/v1/agents?limit=', 'limit'],
    ['/v1/agents?limit=1&limit=2', 'limit'],
    ['/v1/agents?status=bogus', 'status'],
    ['/v1/agents?status=', 'status'],
    ['/v1/agents?owner=alice', 'owner'],
    ['/v1/agents?label=has%20space', 'label'],
    ['/v1/agents?sort=name', 'query'],
    ['/v1/users?status=gone', 'status'],
    ['/v1/api-keys?limit=-1', 'limit'],
    ['/v1/audit/events?cursor=abc', 'cursor'],
    ['/v1/audit/events?since=yesterday', 'since'],
    ['/v1/audit/events?until=2024-02-30T00:00:00Z', 'until'],
    ['/v1/delegations?status=expired', 'status'],
    ['/v1/delegations?agent=alice', 'agent'],
    [`/v1/delegations?parent=${unknownId('user')}`, 'parent'],
    ['/v1/policies?limit=0', 'limit'],
    ['/v1/policies/0/diff?against=abc', 'against'],
    ['/v1/policies/0/diff?against=-1', 'against'],
    ['/v1/entities?type=has%20space', 'type'],
    ['/v1/entities?limit=201', 'limit'],
  ])('GET %s → field %s', async (url, field) => {
    expectError(await t.call('GET', url, { key: t.adminKey }), 400, 'invalid_request', field);
  });

  it('accepts the bounds of limit (1 and 200)', async () => {
    expectOk(await t.call('GET', '/v1/agents?limit=1', { key: t.adminKey }));
    expectOk(await t.call('GET', '/v1/agents?limit=200', { key: t.adminKey }));
  });
});

describe('unreadable bodies', () => {
  it('invalid JSON → 400', async () => {
    for (const body of ['{bad', '{"displayName": "x",}', "{'displayName':'x'}"]) {
      const response = await t.call('POST', '/v1/users', { key: t.adminKey, body });
      expectError(response, 400, 'invalid_request');
      expect(response.body.error.message).toContain('JSON');
    }
  });

  it('an empty body declared as JSON → 400', async () => {
    expectError(await t.call('POST', '/v1/users', { key: t.adminKey, body: '' }), 400, 'invalid_request');
  });

  it('a JSON body with __proto__ → 400', async () => {
    const body = '{"displayName":"x","__proto__":{"isAdmin":true}}';
    expectError(await t.call('POST', '/v1/users', { key: t.adminKey, body }), 400, 'invalid_request');
  });

  it.each(['application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'])(
    'a body sent as %s → 415 unsupported_media_type',
    async (contentType) => {
      const response = await t.call('POST', '/v1/users', {
        key: t.adminKey,
        body: 'displayName=x',
        headers: { 'content-type': contentType },
      });
      expectError(response, 415, 'unsupported_media_type');
    },
  );

  it('a body sent as text/plain → 415 unsupported_media_type', async () => {
    const response = await t.call('POST', '/v1/users', {
      key: t.adminKey,
      body: '{"displayName":"x"}',
      headers: { 'content-type': 'text/plain' },
    });
    expectError(response, 415, 'unsupported_media_type');
  });

  it('accepts application/json with a charset', async () => {
    const response = await t.call('POST', '/v1/users', {
      key: t.adminKey,
      body: '{"displayName":"x"}',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expectOk(response, 201);
  });
});

describe('body size limit', () => {
  let small: TestApp;
  beforeAll(async () => {
    small = await startTestApp({ bodyLimitBytes: 2048 });
  });
  afterAll(async () => small.close());

  it('refuses a body above the limit with 413 payload_too_large', async () => {
    const response = await small.call('POST', '/v1/users', {
      key: small.adminKey,
      body: { displayName: 'x', email: `${'a'.repeat(3000)}@example.com` },
    });
    expectError(response, 413, 'payload_too_large');
    expectClean(response, 'too large');
  });

  it('accepts a body under the limit', async () => {
    expectOk(
      await small.call('POST', '/v1/users', { key: small.adminKey, body: { displayName: 'x'.repeat(100) } }),
      201,
    );
  });
});

describe('authentication', () => {
  it.each([
    ['no credential', undefined],
    ['a garbage bearer', 'garbage'],
    ['an empty-looking bearer', '""'],
    ['a well-formed but unknown API key', `mk_${unknownId('apiKey')}_${'a'.repeat(43)}`],
    ['a well-formed but unknown platform key', `mpk_${unknownId('platformKey')}_${'a'.repeat(43)}`],
    ['a JWT-looking token with no issuer configured', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
  ])('401 unauthorized with %s', async (_what, key) => {
    const response = await t.call('GET', '/v1/agents', { key });
    expectError(response, 401, 'unauthorized');
  });

  it('401 for a scheme other than Bearer', async () => {
    const response = await t.call('GET', '/v1/agents', { headers: { authorization: `Basic ${t.adminKey}` } });
    expectError(response, 401, 'unauthorized');
  });

  it('checks the credential before path and body fields (only unreadable JSON is refused earlier, by the parser)', async () => {
    expectError(await t.call('GET', '/v1/agents/not-an-id'), 401, 'unauthorized');
    expectError(await t.call('POST', '/v1/users', { body: '{bad' }), 400, 'invalid_request');
  });
});

describe('not found', () => {
  it('404 not_found for an unknown agent, user, API key, delegation, audit event, policy version and entity', async () => {
    for (const url of [
      `/v1/agents/${unknownId('agent')}`,
      `/v1/users/${unknownId('user')}`,
      `/v1/api-keys/${unknownId('apiKey')}`,
      `/v1/delegations/${unknownId('delegation')}`,
      `/v1/delegations/${unknownId('delegation')}/tree`,
      '/v1/audit/events/999999',
      '/v1/policies/424242',
      '/v1/policies/424242/diff',
      '/v1/policies/0/diff?against=424242',
      '/v1/entities/User/nobody',
      '/v1/entities/NoSuch%3A%3AType/nobody',
    ]) {
      expectError(await t.call('GET', url, { key: t.adminKey }), 404, 'not_found');
    }
  });

  it('404 not_found for an unknown route and for an unknown method on a known path', async () => {
    const unknown = await t.call('GET', '/v1/nothing-here', { key: t.adminKey });
    expectError(unknown, 404, 'not_found');
    expect(unknown.body.error.message).toContain('/v1/nothing-here');
    expectError(await t.call('DELETE', `/v1/agents/${agentId}`, { key: t.adminKey }), 404, 'not_found');
    expectError(await t.call('GET', '/'), 404, 'not_found');
  });

  it('does not reveal whether an agent of another org exists', async () => {
    const created = expectOk(
      await t.call('POST', '/v1/orgs', { key: t.platformKey, body: { name: 'other' } }),
      201,
    );
    const response = await t.call('GET', `/v1/agents/${agentId}`, { key: created.adminKey.secret });
    expectError(response, 404, 'not_found');
  });
});

describe('no bad input yields a 500 or a stack trace', () => {
  /** A well-formed value for each path parameter (naming nothing). */
  const wellFormed: Record<string, () => string> = {
    agentId: () => unknownId('agent'),
    userId: () => unknownId('user'),
    keyId: () => unknownId('apiKey'),
    orgId: () => unknownId('org'),
    delegationId: () => unknownId('delegation'),
    kid: () => 'A'.repeat(43),
    seq: () => '424242',
    version: () => '424242',
    type: () => 'NoSuch::Type',
    id: () => 'nobody',
    decisionId: () => '424242',
    lockId: () => unknownId('lock'),
    approvalId: () => unknownId('approval'),
    taskId: () => unknownId('approval'),
  };

  it('holds for every route, with no key, a garbage key, malformed params, and garbage bodies', async () => {
    const checked: string[] = [];
    for (const route of t.routes) {
      const key = route.auth === 'platform' ? t.platformKey : route.auth === 'org' ? t.adminKey : undefined;
      const form = route.consumes === 'form';
      const malformedUrl = route.url.replace(/:([A-Za-z]+)/g, 'not%20an%20id');
      const wellFormedUrl = route.url.replace(/:([A-Za-z]+)/g, (_m, name: string) =>
        (wellFormed[name] as () => string)(),
      );
      const hasBody = route.method !== 'GET';
      const attempts: Array<
        [string, string, { key?: string; body?: unknown; headers?: Record<string, string> }]
      > = [
        ['no key', wellFormedUrl, {}],
        ['garbage key', wellFormedUrl, { key: 'garbage' }],
        ['malformed params', malformedUrl, { key, body: hasBody ? {} : undefined }],
        ['unknown query', `${wellFormedUrl}?zzz=1`, { key, body: hasBody ? {} : undefined }],
        ['unknown ids', wellFormedUrl, { key, body: hasBody ? { zzz: 1 } : undefined }],
      ];
      if (form) {
        attempts.push(
          ['empty form', wellFormedUrl, { key, form: {} }],
          ['garbage form', wellFormedUrl, { key, body: '%%%&&&==', headers: { 'content-type': FORM } }],
          [
            'repeated fields',
            wellFormedUrl,
            { key, body: 'token=a&token=b&grant_type=x&grant_type=y', headers: { 'content-type': FORM } },
          ],
          [
            'garbage assertion',
            wellFormedUrl,
            {
              key,
              form: {
                grant_type: 'client_credentials',
                client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
                client_assertion: 'a.b.c',
                token: 'x.y.z',
                subject_token: 'x',
                subject_token_type: 'y',
              },
            },
          ],
        );
      }
      if (hasBody) {
        attempts.push(
          ['array body', wellFormedUrl, { key, body: '[]' }],
          ['invalid JSON', wellFormedUrl, { key, body: '{"a":' }],
          ['deep nesting', wellFormedUrl, { key, body: `${'['.repeat(500)}${']'.repeat(500)}` }],
          ['null body', wellFormedUrl, { key, body: 'null' }],
          ['xml body', wellFormedUrl, { key, body: '<a/>', headers: { 'content-type': 'application/xml' } }],
        );
      }
      for (const [what, url, options] of attempts) {
        const response = await t.call(route.method, url, options);
        expectClean(response, `${route.method} ${route.url} (${what})`);
        checked.push(`${route.method} ${route.url}`);
      }
    }
    expect(new Set(checked).size).toBe(t.routes.length);
  });

  it('holds for the wrong kind of key on each route', async () => {
    // (Agent and OAuth client routes take no API key at all: their refusals are tested in oauth/.)
    for (const route of t.routes.filter((r) => r.auth === 'org' || r.auth === 'platform')) {
      const key = route.auth === 'platform' ? t.adminKey : t.platformKey;
      const url = route.url.replace(/:([A-Za-z]+)/g, (_m, name: string) =>
        (wellFormed[name] as () => string)(),
      );
      const response = await t.call(route.method, url, {
        key,
        body: route.method === 'GET' || route.consumes === 'form' ? undefined : {},
        form: route.consumes === 'form' ? { token: 'x' } : undefined,
      });
      if (route.errors === 'oauth')
        expect([response.status, response.body.error]).toEqual([403, 'access_denied']);
      else expectError(response, 403, 'forbidden');
      expectClean(response, `${route.method} ${route.url}`);
    }
  });

  it('refuses a metadata integer beyond 2^53 with 400, not 500', async () => {
    for (const value of [1e300, -1e20, 2 ** 53]) {
      const response = await t.call('PATCH', `/v1/agents/${agentId}`, {
        key: t.adminKey,
        body: { metadata: { n: value } },
      });
      expectClean(response, `metadata ${value}`);
      expectError(response, 400, 'invalid_request', 'metadata.n');
    }
  });

  it('refuses a string with a lone surrogate with 400, not 500', async () => {
    const agentName = await t.call('PATCH', `/v1/agents/${agentId}`, {
      key: t.adminKey,
      body: '{"name":"a\\ud800"}',
    });
    expectClean(agentName, 'agent name');
    expectError(agentName, 400, 'invalid_request', 'name');
    const userName = await t.call('POST', '/v1/users', {
      key: t.adminKey,
      body: '{"displayName":"\\udc00"}',
    });
    expectClean(userName, 'user displayName');
    expectError(userName, 400, 'invalid_request', 'displayName');
  });

  it('answers a malformed percent-encoded path in the API error shape', async () => {
    const response = await t.call('GET', '/v1/agents/%E0%A4%A', { key: t.adminKey });
    expectClean(response, 'bad url');
    expectError(response, 400, 'invalid_request');
  });
});
