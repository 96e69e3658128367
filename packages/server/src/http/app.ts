import { CanonicalJsonError, canonicalize } from '@mandate/core';
import type { Authenticator, Engine, OrgPrincipal, PlatformPrincipal } from '@mandate/engine';
import { MandateError } from '@mandate/engine';
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
import type { RouteSpec } from './route.js';
import { agentRoutes } from './routes/agents.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { auditLogRoutes, auditRoutes } from './routes/audit.js';
import { delegationRoutes } from './routes/delegations.js';
import { healthRoutes } from './routes/health.js';
import { openApiDocument } from './routes/openapi.js';
import { orgRoutes } from './routes/orgs.js';
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
    routerOptions: { ignoreTrailingSlash: true },
    // Errors fastify raises before routing (a URL that does not decode) get our error shape too.
    frameworkErrors: (_error, _request, reply) => {
      void (reply as FastifyReply)
        .code(400)
        .send({ error: { code: 'invalid_request', message: 'the URL could not be decoded' } });
    },
  });
  // JSON only: without this, fastify would hand a text/plain body to the schemas as a string.
  app.removeContentTypeParser('text/plain');

  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode }, 'request');
  });
  app.setErrorHandler((error, request, reply) => {
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
        const principal = await authenticate(deps.authenticator, spec, request);
        const params = parse(spec.params, request.params, 'path');
        const query = parse(spec.query, request.query, 'query');
        const body = parse(spec.body, request.body ?? {}, 'body');
        const result = await spec.handler({ principal, params, query, body, request, reply } as never);
        reply.code(spec.status ?? 200);
        if (spec.produces) reply.type(spec.produces);
        return result;
      },
    });
  }
  return { app, routes };
}

async function authenticate(
  authenticator: Authenticator,
  spec: RouteSpec,
  request: FastifyRequest,
): Promise<OrgPrincipal | PlatformPrincipal | undefined> {
  if (spec.auth === 'none') return undefined;
  const header = request.headers.authorization;
  const match = header ? /^Bearer ([^\s]+)$/i.exec(header) : null;
  const principal = await authenticator.authenticate(match?.[1]);
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
