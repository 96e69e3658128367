import type { AuthenticatedAgent, OrgPrincipal, PlatformPrincipal } from '@mandate/engine';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';

type Schema = z.ZodType;
type Infer<S> = S extends z.ZodType ? z.output<S> : undefined;

/**
 * Who may call a route: an org principal (API key or OIDC user), a platform principal, an
 * agent with its own key-bound access token (`agent`), an agent's access token that the
 * decision pipeline authenticates itself (`token`: DPoP, or Bearer for an unbound token), an
 * OAuth client that authenticates inside the request (`client`: private_key_jwt in the form
 * body), or anyone (`none`).
 */
export type RouteAuth = 'org' | 'platform' | 'agent' | 'token' | 'client' | 'none';

export interface RouteContext<A extends RouteAuth, P, Q, B> {
  principal: A extends 'org'
    ? OrgPrincipal
    : A extends 'platform'
      ? PlatformPrincipal
      : A extends 'agent'
        ? AuthenticatedAgent
        : undefined;
  params: P;
  query: Q;
  body: B;
  request: FastifyRequest;
  reply: FastifyReply;
}

/**
 * One HTTP operation, described once: the same zod schemas validate requests and generate
 * `/openapi.json`, and tests enumerate the route table to cover every endpoint.
 */
export interface RouteSpec<A extends RouteAuth = RouteAuth, PS = unknown, QS = unknown, BS = unknown> {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Fastify path syntax (`/v1/agents/:agentId`). */
  url: string;
  operationId: string;
  summary: string;
  tag: string;
  auth: A;
  params?: PS;
  query?: QS;
  body?: BS;
  /** Status on success (default 200). */
  status?: number;
  /** Content type of the answer when it is not JSON. */
  produces?: string;
  /** The body is `application/x-www-form-urlencoded` (the OAuth endpoints), not JSON. */
  consumes?: 'form';
  /** Errors as OAuth answers them (`{ error, error_description }`, RFC 6749 §5.2). */
  errors?: 'oauth';
  handler(ctx: RouteContext<A, Infer<PS>, Infer<QS>, Infer<BS>>): Promise<unknown>;
}

/** Identity function that keeps each route's schema types attached to its handler. */
export function route<
  A extends RouteAuth,
  PS extends Schema | undefined,
  QS extends Schema | undefined,
  BS extends Schema | undefined,
>(spec: RouteSpec<A, PS, QS, BS>): RouteSpec {
  return spec as unknown as RouteSpec;
}
