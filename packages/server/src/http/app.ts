import { CanonicalJsonError, canonicalize, TokenError } from '@mandate/core';
import type {
  AuthenticatedAgent,
  Authenticator,
  Engine,
  OrgPrincipal,
  PlatformPrincipal,
} from '@mandate/engine';
import { ChainError, MandateError } from '@mandate/engine';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { toHttpError } from './http-errors.js';
import { toOAuthError } from './oauth-errors.js';
import type { RouteSpec } from './route.js';
import { agentRoutes } from './routes/agents.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { approvalRoutes } from './routes/approvals.js';
import { auditLogRoutes, auditRoutes } from './routes/audit.js';
import { authzenRoutes } from './routes/authzen.js';
import { decisionRoutes } from './routes/decisions.js';
import { agentDelegationRoutes, delegationRoutes } from './routes/delegations.js';
import { entityRoutes } from './routes/entities.js';
import { healthRoutes } from './routes/health.js';
import { killSwitchRoutes } from './routes/killswitch.js';
import { oauthRoutes } from './routes/oauth.js';
import { openApiDocument } from './routes/openapi.js';
import { orgRoutes } from './routes/orgs.js';
import { policyRoutes } from './routes/policies.js';
import { riskRoutes } from './routes/risk.js';
import { userRoutes } from './routes/users.js';

export interface AppDeps {
  engine: Engine;
  authenticator: Authenticator;
  logger: Logger;
  bodyLimitBytes: number;
  version: string;
}

/** Every route of the API, in one table (tests walk it to cover each endpoint). */
export function routeTable(deps: AppDeps): RouteSpec[] {
  const routes = [
    ...healthRoutes(deps),
    ...orgRoutes(deps),
    ...userRoutes(deps),
    ...apiKeyRoutes(deps),
    ...agentRoutes(deps),
    ...delegationRoutes(deps),
    ...agentDelegationRoutes(deps),
    ...oauthRoutes(deps),
    ...policyRoutes(deps),
    ...entityRoutes(deps),
    ...authzenRoutes(deps),
    ...decisionRoutes(deps),
    ...killSwitchRoutes(deps),
    ...riskRoutes(deps),
    ...approvalRoutes(deps),
    ...auditRoutes(deps),
    ...auditLogRoutes(deps),
  ];
  let document: Record<string, unknown> | undefined;
  routes.push({
    method: 'GET',
    url: '/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This API as an OpenAPI 3.1 document',
    tag: 'meta',
    auth: 'none',
    handler: async () => {
      document ??= openApiDocument(routes, deps.version);
      return document;
    },
  });
  return routes;
}

export async function buildApp(deps: AppDeps): Promise<{ app: FastifyInstance; routes: RouteSpec[] }> {
  const app = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    // Requests are logged once, at debug level, by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimitBytes,
    // Entity ids in paths may be long (the schema allows 1024 characters): not fastify's 100.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 4096 },
    // Errors fastify raises before routing (a URL that does not decode) get our error shape too.
    frameworkErrors: (_error, _request, reply) => {
      void (reply as FastifyReply)
        .code(400)
        .send({ error: { code: 'invalid_request', message: 'the URL could not be decoded' } });
    },
  });
  // JSON only: without this, fastify would hand a text/plain body to the schemas as a string.
  app.removeContentTypeParser('text/plain');
  // Form bodies, for the OAuth endpoints only (every other route refuses them, below).
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, parseForm(body as string));
    },
  );

  // AuthZEN: a request's X-Request-ID is echoed on its answer.
  app.addHook('onSend', async (request, reply) => {
    const id = request.headers['x-request-id'];
    if (typeof id === 'string' && id.length <= 256 && request.url.startsWith('/access/'))
      reply.header('x-request-id', id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode }, 'request');
  });
  app.setErrorHandler((error, request, reply) => {
    // Errors fastify raises before a handler runs (media type, body size) on an OAuth route
    // still answer in the OAuth shape.
    if (request.url.startsWith('/oauth/')) {
      const { status, body, unexpected } = toOAuthError(error);
      if (unexpected) request.log.error({ err: error }, 'unexpected error');
      reply.header('cache-control', 'no-store');
      return reply.code(status).type('application/json').send(body);
    }
    const { status, body, unexpected } = toHttpError(error);
    if (unexpected) request.log.error({ err: error }, 'unexpected error');
    reply.code(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` },
    });
  });

  const routes = routeTable(deps);
  for (const spec of routes) {
    app.route({
      method: spec.method,
      url: spec.url,
      handler: async (request, reply) => {
        const run = async () => {
          checkContentType(spec, request);
          const principal = await authenticate(deps, spec, request, reply);
          const params = parse(spec.params, request.params, 'path');
          const query = parse(spec.query, request.query, 'query');
          const body = parse(spec.body, request.body ?? {}, 'body');
          // Set first, so that a handler can answer another success status (201 vs 200).
          reply.code(spec.status ?? 200);
          const result = await spec.handler({ principal, params, query, body, request, reply } as never);
          if (spec.produces) reply.type(spec.produces);
          return result;
        };
        if (spec.errors !== 'oauth') return run();
        // Token answers and OAuth errors must never be cached (RFC 6749 §5.1).
        reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
        try {
          return await run();
        } catch (error) {
          const { status, body, unexpected } = toOAuthError(error);
          if (unexpected) request.log.error({ err: error }, 'unexpected error');
          if (status === 401) reply.header('www-authenticate', 'Bearer');
          return reply.code(status).type('application/json').send(body);
        }
      },
    });
  }
  return { app, routes };
}

const FORM = 'application/x-www-form-urlencoded';

/** `a=1&b=2&b=3` → `{ a: '1', b: ['2', '3'] }`: a repeated parameter stays visible as a list. */
function parseForm(text: string): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of new URLSearchParams(text)) {
    const known = params[name];
    params[name] = known === undefined ? value : [...(Array.isArray(known) ? known : [known]), value];
  }
  return { ...params };
}

/** Form bodies only where a route takes them, and only form bodies there. */
function checkContentType(spec: RouteSpec, request: FastifyRequest): void {
  if (request.body === undefined || request.body === null) {
    if (spec.consumes === 'form' && spec.method !== 'GET')
      throw new MandateError('invalid_request', `send the parameters as ${FORM}`);
    return;
  }
  const isForm = (request.headers['content-type'] ?? '').toLowerCase().startsWith(FORM);
  if (spec.consumes === 'form' && !isForm)
    throw new MandateError('unsupported_media_type', `send the parameters as ${FORM}`);
  if (spec.consumes !== 'form' && isForm)
    throw new MandateError('unsupported_media_type', 'send the body as application/json');
}

async function authenticate(
  deps: AppDeps,
  spec: RouteSpec,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<OrgPrincipal | PlatformPrincipal | AuthenticatedAgent | undefined> {
  if (spec.auth === 'token') {
    // The pipeline authenticates the token itself; a call without one is refused before anything is read.
    if (!/^(DPoP|Bearer) [^\s]+$/i.test(request.headers.authorization ?? '')) {
      reply.header('www-authenticate', 'DPoP');
      throw new MandateError(
        'unauthorized',
        'token_invalid: send the agent token as Authorization: DPoP (or Bearer)',
      );
    }
    return undefined;
  }
  if (spec.auth === 'none' || spec.auth === 'client') return undefined;
  if (spec.auth === 'agent') return authenticateAgent(deps, request, reply);
  const header = request.headers.authorization;
  const match = header ? /^Bearer ([^\s]+)$/i.exec(header) : null;
  const principal = await deps.authenticator.authenticate(match?.[1]);
  if (principal.kind !== spec.auth) {
    throw new MandateError(
      'forbidden',
      spec.auth === 'platform'
        ? 'this operation needs a platform key'
        : 'a platform key cannot act inside an org',
    );
  }
  return principal;
}

/** An agent's own access token (and DPoP proof); refusals name the reason code. */
async function authenticateAgent(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<AuthenticatedAgent> {
  try {
    return await deps.engine.oauth.authenticateAgent({
      authorization: request.headers.authorization,
      dpop: request.headers.dpop,
      method: request.method,
      path: request.url.split('?')[0] as string,
    });
  } catch (error) {
    if (!(error instanceof TokenError) && !(error instanceof ChainError)) throw error;
    const scheme = request.headers.authorization?.toLowerCase().startsWith('dpop') ? 'DPoP' : 'Bearer';
    reply.header('www-authenticate', `${scheme} error="invalid_token"`);
    throw new MandateError('unauthorized', `${error.code}: ${error.message}`);
  }
}

function parse(schema: unknown, value: unknown, where: string): unknown {
  if (!schema) return undefined;
  const result = (schema as z.ZodType).safeParse(value);
  if (result.success) {
    assertRecordable(result.data, where);
    return result.data;
  }
  const issue = result.error.issues[0];
  const field = issue?.path.length ? issue.path.join('.') : where;
  const detail =
    issue?.code === 'unrecognized_keys'
      ? `unknown field(s) ${issue.keys.join(', ')}`
      : (issue?.message ?? 'invalid');
  throw new MandateError('invalid_request', `${field}: ${detail}`, field);
}

/**
 * Anything a request carries may end up in an audit record, which must be canonical JSON:
 * refuse here (400, naming the field) what the audit log could not hold exactly, such as an
 * integer beyond 2^53 or a lone surrogate, instead of failing later with a 500.
 */
function assertRecordable(value: unknown, where: string): void {
  try {
    canonicalize(value);
  } catch (error) {
    if (!(error instanceof CanonicalJsonError)) throw error;
    const field = error.path === '$' ? where : error.path.replace(/^\$\.?/, '');
    const problem = error.message.slice(error.path.length + 2);
    throw new MandateError('invalid_request', `${field}: ${problem}`, field);
  }
}
