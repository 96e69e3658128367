import { z } from 'zod';
import type { RouteSpec } from '../route.js';

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
    },
  },
};

function jsonSchema(schema: unknown): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema as z.ZodType, {
    io: 'input',
    unrepresentable: 'any',
  });
  return rest;
}

/** OpenAPI 3.1, generated from the same zod schemas that validate requests. */
export function openApiDocument(routes: RouteSpec[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of routes) {
    const path = spec.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', spec.params],
      ['query', spec.query],
    ] as const) {
      if (!schema) continue;
      const object = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, property] of Object.entries(object.properties ?? {})) {
        parameters.push({
          name,
          in: where,
          required: where === 'path' || object.required?.includes(name),
          schema: property,
        });
      }
    }
    const status = String(spec.status ?? 200);
    const operation: Record<string, unknown> = {
      operationId: spec.operationId,
      summary: spec.summary,
      tags: [spec.tag],
      parameters,
      responses: {
        [status]: {
          description: 'Success',
          content: { [spec.produces ?? 'application/json']: {} },
        },
        default: {
          description: 'Error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    };
    if (spec.body) {
      operation.requestBody = {
        required: true,
        content: {
          [spec.consumes === 'form' ? 'application/x-www-form-urlencoded' : 'application/json']: {
            schema: jsonSchema(spec.body),
          },
        },
      };
    }
    if (spec.auth === 'org' || spec.auth === 'platform') operation.security = [{ bearer: [] }];
    // An agent presents its own access token, key-bound (DPoP) or not.
    if (spec.auth === 'agent') operation.security = [{ dpop: [] }];
    if (spec.auth === 'token') operation.security = [{ dpop: [] }, { bearer: [] }];
    // The OAuth client authenticates inside the form (private_key_jwt), which OpenAPI cannot name.
    if (spec.auth === 'client') operation.security = [];
    paths[path] = { ...(paths[path] ?? {}), [spec.method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Mandate API',
      version,
      description:
        'Runtime identity for AI agents. Authenticate with `Authorization: Bearer <API key or OIDC ID token>`; ' +
        'org management (`/v1/orgs`) needs a platform key.',
    },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        dpop: {
          type: 'http',
          scheme: 'DPoP',
          description: 'An agent access token with a DPoP proof (RFC 9449)',
        },
      },
      schemas: { Error: errorSchema },
    },
  };
}
