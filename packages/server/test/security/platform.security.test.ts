/**
 * The two kinds of principal stay apart: org keys (even admin, even holding every role) never
 * reach platform routes, the platform key never acts inside an org, and only health, OpenAPI and
 * the discovery documents (OAuth, JWKS, AuthZEN) answer without a credential. Routes are
 * enumerated from the route table, and the table is checked against what Fastify actually
 * serves, so a route added outside it would fail here too.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startTestApp } from '../harness.js';
import {
  ALL_ROLES,
  createKey,
  createOrg,
  fillUrl,
  type Gen,
  type IdKind,
  nobodysId,
  pathParamsOf,
  REQUEST_GENERATORS,
  Rng,
  requestFromSchemas,
  routeName,
  withQuery,
} from './helpers.js';

const t = await startTestApp();
afterAll(async () => t.close());

const other = await createOrg(t, 'other org');
const allRoles = (await createKey(t, t.adminKey, ALL_ROLES)).secret;
const orgRoutes = t.routes.filter((route) => route.auth === 'org');
const platformRoutes = t.routes.filter((route) => route.auth === 'platform');
const openRoutes = t.routes.filter((route) => route.auth === 'none');

const gen: Gen = {
  rng: new Rng(7),
  id: (kind: IdKind) => (kind === 'orgId' ? other.orgId : nobodysId(kind)),
  future: (days) => new Date(t.clock.now().getTime() + days * 86_400_000).toISOString(),
};

/** A well-formed request for `route`: path ids, query and body as the route expects them. */
async function request(route: (typeof t.routes)[number], key: string | undefined) {
  const params = Object.fromEntries(pathParamsOf(route.url).map((name) => [name, gen.id(name as IdKind)]));
  const generator = REQUEST_GENERATORS[route.operationId];
  const parts =
    route.auth === 'platform'
      ? { body: route.body ? { name: 'renamed by an org key' } : undefined }
      : generator
        ? await generator(gen)
        : await requestFromSchemas(route, gen);
  const url = withQuery(fillUrl(route.url, params), 'query' in parts ? parts.query : undefined);
  if (route.consumes === 'form') return t.call(route.method, url, { key, form: { token: 'x' } });
  return t.call(route.method, url, { key, body: route.body ? (parts.body ?? {}) : undefined });
}

/** `printRoutes` tree → "METHOD /full/path" for every route Fastify serves (HEAD left out). */
function servedRoutes(): string[] {
  const served: string[] = [];
  const stack: string[] = [];
  for (const line of t.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│├└─\s]*?)([├└]── )(\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (!match) continue;
    const depth = ((match[1] as string).length + 4) / 4;
    stack.length = depth - 1;
    const full = `${stack.join('')}${match[3]}`;
    stack.push(match[3] as string);
    for (const method of (match[4] ?? '').split(',').map((m) => m.trim())) {
      if (method && method !== 'HEAD') served.push(`${method} ${full}`);
    }
  }
  return served.sort();
}

describe('the route table is what is served', () => {
  it('Fastify serves exactly the routes of the table (so enumerating the table covers every endpoint)', () => {
    const served = servedRoutes();
    expect(served.length).toBeGreaterThan(20);
    expect(served).toEqual(t.routes.map(routeName).sort());
  });

  it('routes without authentication are exactly health, OpenAPI and the OAuth and AuthZEN discovery documents', () => {
    expect(openRoutes.map(routeName).sort()).toEqual([
      'GET /.well-known/authzen-configuration',
      'GET /.well-known/jwks.json',
      'GET /.well-known/oauth-authorization-server',
      'GET /healthz',
      'GET /openapi.json',
      'GET /readyz',
    ]);
    expect(platformRoutes.length).toBeGreaterThanOrEqual(4);
    expect(orgRoutes.length).toBeGreaterThanOrEqual(24);
    expect(
      t.routes.every((route) => ['org', 'platform', 'agent', 'token', 'client', 'none'].includes(route.auth)),
    ).toBe(true);
    // Routes that authenticate an agent (its access token; `token`: the decision pipeline checks
    // the token itself) or an OAuth client (private_key_jwt):
    expect(
      t.routes
        .filter((r) => r.auth === 'agent')
        .map(routeName)
        .sort(),
    ).toEqual([
      // The asking agent follows its own approval request (SDK guard), never anyone else's.
      'GET /v1/approvals/:approvalId/status',
      'POST /v1/decisions/:decisionId/outcome',
      'POST /v1/delegations/:delegationId/redelegate',
    ]);
    expect(t.routes.filter((r) => r.auth === 'token').map(routeName)).toEqual(['POST /v1/decisions']);
    expect(
      t.routes
        .filter((r) => r.auth === 'client')
        .map(routeName)
        .sort(),
    ).toEqual(['POST /oauth/revoke', 'POST /oauth/token']);
  });

  it.each(
    t.routes
      .filter((r) => r.auth === 'agent' || r.auth === 'token')
      .map((route) => [routeName(route), route] as const),
  )('%s answers 401 without an agent token, with an API key, and with a garbage token', async (_n, route) => {
    const url = fillUrl(route.url, {
      delegationId: nobodysId('delegationId'),
      decisionId: '424242',
      approvalId: nobodysId('approvalId'),
    });
    // A well-formed body: what is refused is the credential, whatever the route checks first.
    const { body } = await requestFromSchemas(route, gen);
    for (const key of [undefined, t.adminKey, t.platformKey, 'garbage']) {
      const response = await t.call(route.method, url, { key, body: route.body ? (body ?? {}) : undefined });
      expect([response.status, response.body?.error?.code], response.text).toEqual([401, 'unauthorized']);
    }
  });

  it.each(t.routes.filter((r) => r.auth === 'client').map((route) => [routeName(route), route] as const))(
    '%s answers 401 invalid_client without a client assertion',
    async (_n, route) => {
      const response = await t.call(route.method, route.url, {
        form: { grant_type: 'client_credentials', token: 'x' },
      });
      expect([response.status, response.body?.error], response.text).toEqual([401, 'invalid_client']);
    },
  );

  it.each(openRoutes.map((route) => [routeName(route), route] as const))(
    '%s answers without a credential',
    async (_n, route) => {
      expect((await t.call(route.method, route.url)).status).toBe(200);
    },
  );

  it('the AuthZEN metadata names this PDP, its evaluation, search and access-request endpoints, and nothing of any org', async () => {
    const response = await t.call('GET', '/.well-known/authzen-configuration');
    expect([response.status, response.body], response.text).toEqual([
      200,
      {
        policy_decision_point: expect.any(String),
        access_evaluation_endpoint: `${response.body.policy_decision_point}/access/v1/evaluation`,
        access_evaluations_endpoint: `${response.body.policy_decision_point}/access/v1/evaluations`,
        search_subject_endpoint: `${response.body.policy_decision_point}/access/v1/search/subject`,
        search_resource_endpoint: `${response.body.policy_decision_point}/access/v1/search/resource`,
        search_action_endpoint: `${response.body.policy_decision_point}/access/v1/search/action`,
        access_request_endpoint: `${response.body.policy_decision_point}/access/v1/requests`,
        capabilities: ['urn:openid:authzen:capability:access-request'],
      },
    ]);
    expect(response.text).not.toMatch(/org_[0-9A-Z]{26}/);
    // Every endpoint it names wants a credential.
    for (const url of [
      '/access/v1/evaluation',
      '/access/v1/evaluations',
      '/access/v1/search/subject',
      '/access/v1/search/resource',
      '/access/v1/search/action',
      '/access/v1/requests',
    ]) {
      const refused = await t.call('POST', url, { body: {} });
      expect([refused.status, refused.body?.error?.code], refused.text).toEqual([401, 'unauthorized']);
    }
  });

  it.each([...orgRoutes, ...platformRoutes].map((route) => [routeName(route), route] as const))(
    '%s answers 401 without a credential, and with a garbage one',
    async (_n, route) => {
      for (const key of [undefined, 'garbage']) {
        const response = await request(route, key);
        const code = route.errors === 'oauth' ? response.body?.error : response.body?.error?.code;
        expect([response.status, code], response.text).toEqual([
          401,
          route.errors === 'oauth' ? 'invalid_client' : 'unauthorized',
        ]);
      }
    },
  );

  it('the OpenAPI document asks for a bearer credential on exactly the authenticated routes', async () => {
    const document = (await t.call('GET', '/openapi.json')).body;
    for (const route of t.routes) {
      const operation =
        document.paths[route.url.replace(/:([A-Za-z]+)/g, '{$1}')]?.[route.method.toLowerCase()];
      // (Earlier builds left /openapi.json itself out of the document.)
      if (route.url === '/openapi.json' && operation === undefined) continue;
      expect(operation, routeName(route)).toBeDefined();
      expect(Boolean(operation.security), routeName(route)).toBe(route.auth !== 'none');
    }
  });
});

describe('org keys never reach platform routes', () => {
  const cases = platformRoutes.flatMap((route) => [
    [`${routeName(route)} with the org admin key`, route, 'admin'] as const,
    [`${routeName(route)} with an org key holding every role`, route, 'all'] as const,
  ]);

  it.each(cases)('%s → 403 forbidden', async (_n, route, which) => {
    const key = which === 'admin' ? t.adminKey : allRoles;
    const response = await request(route, key);
    expect([response.status, response.body?.error?.code], response.text).toEqual([403, 'forbidden']);
  });

  it('nothing changed on the platform side: orgs are as they were', async () => {
    const orgs = (await t.call('GET', '/v1/orgs?limit=200', { key: t.platformKey })).body.items;
    expect(orgs.map((o: any) => o.name).sort()).toEqual(['default', 'other org']);
  });
});

describe('the platform key never acts inside an org', () => {
  it.each(orgRoutes.map((route) => [routeName(route), route] as const))(
    '%s → 403 forbidden',
    async (_n, route) => {
      const response = await request(route, t.platformKey);
      const code = route.errors === 'oauth' ? response.body?.error : response.body?.error?.code;
      expect([response.status, code], response.text).toEqual([
        403,
        route.errors === 'oauth' ? 'access_denied' : 'forbidden',
      ]);
    },
  );

  it("the default org's state did not change", async () => {
    const events = (await t.call('GET', '/v1/audit/events?limit=200', { key: t.adminKey })).body.items;
    // org.created, its admin key, and the all-roles key created above: nothing from the platform key.
    expect(events.map((e: any) => e.type)).toEqual(['org.created', 'api_key.created', 'api_key.created']);
  });
});
