import { type FormParams, MandateError, OAuthError, type Revoker } from '@mandate/engine';
import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';

const param = z.union([z.string().max(16_384), z.array(z.string().max(16_384)).max(16)]);
/** Form parameters: the ones named are documented; others are ignored, as RFC 6749 §3.2 asks. */
const form = (names: string[]) =>
  z.looseObject(Object.fromEntries(names.map((name) => [name, param.optional()])));
const clientAuth = ['client_assertion_type', 'client_assertion', 'client_id'];

/**
 * The authorization server (RFC 6749 family): token endpoint, introspection, revocation,
 * metadata and JWKS; and the platform's management of the token signing keys.
 */
export const oauthRoutes = ({ engine, authenticator }: AppDeps) => [
  route({
    method: 'POST',
    url: '/oauth/token',
    operationId: 'token',
    summary:
      'Exchange a delegation for a short-lived access token (RFC 8693 token exchange, or client_credentials ' +
      'on a standing delegation); the agent authenticates with private_key_jwt (RFC 7523), DPoP optional',
    tag: 'oauth',
    auth: 'client',
    consumes: 'form',
    errors: 'oauth',
    body: form([
      'grant_type',
      ...clientAuth,
      'subject_token',
      'subject_token_type',
      'requested_token_type',
      'delegation',
      'scope',
      'authorization_details',
      'audience',
      'resource',
    ]),
    handler: async ({ body, request }) =>
      engine.oauth.endpoint.token(body as FormParams, request.headers.dpop),
  }),
  route({
    method: 'POST',
    url: '/oauth/introspect',
    operationId: 'introspect',
    summary: "Whether an access token is usable now, and its claims (RFC 7662); the org's tokens only",
    tag: 'oauth',
    auth: 'org',
    consumes: 'form',
    errors: 'oauth',
    body: form(['token', 'token_type_hint']),
    handler: async ({ principal, body }) =>
      engine.oauth.introspection.introspect(principal, single(body.token)),
  }),
  route({
    method: 'POST',
    url: '/oauth/revoke',
    operationId: 'revokeToken',
    summary:
      'Revoke an access token (RFC 7009): by the agent it was issued to (or one above it in the chain) with ' +
      'private_key_jwt, or by an org admin with an API key',
    tag: 'oauth',
    auth: 'client',
    consumes: 'form',
    errors: 'oauth',
    body: form(['token', 'token_type_hint', ...clientAuth]),
    handler: async ({ body, request }) => {
      const bearer = /^Bearer ([^\s]+)$/i.exec(request.headers.authorization ?? '')?.[1];
      let revoker: Revoker;
      if (bearer !== undefined) {
        const principal = await authenticator.authenticate(bearer);
        if (principal.kind !== 'org')
          throw new MandateError('forbidden', 'a platform key cannot act inside an org');
        revoker = { kind: 'org', principal };
      } else {
        revoker = {
          kind: 'client',
          client: await engine.oauth.authenticateClient(body as FormParams, '/oauth/revoke'),
        };
      }
      await engine.oauth.revocation.revoke(revoker, single(body.token));
      return {};
    },
  }),
  route({
    method: 'GET',
    url: '/.well-known/oauth-authorization-server',
    operationId: 'getAuthorizationServerMetadata',
    summary: 'Authorization server metadata (RFC 8414)',
    tag: 'oauth',
    auth: 'none',
    handler: async () => engine.oauth.metadata(),
  }),
  route({
    method: 'GET',
    url: '/.well-known/jwks.json',
    operationId: 'getJwks',
    summary:
      'The keys access tokens are signed with: the active one, and retired ones until their tokens expire',
    tag: 'oauth',
    auth: 'none',
    handler: async ({ reply }) => {
      reply.header('cache-control', 'public, max-age=60');
      return engine.oauth.keys.jwks();
    },
  }),
  route({
    method: 'GET',
    url: '/v1/signing-keys',
    operationId: 'listSigningKeys',
    summary: 'The token signing keys (public parts and lifecycle only)',
    tag: 'platform',
    auth: 'platform',
    handler: async () => ({ items: await engine.oauth.keys.list() }),
  }),
  route({
    method: 'POST',
    url: '/v1/signing-keys/rotate',
    operationId: 'rotateSigningKey',
    summary:
      'Retire the active token signing key and make a new one: the retired key stays published until its ' +
      'tokens expired, or, with compromised: true, is withdrawn at once (its tokens stop working)',
    tag: 'platform',
    auth: 'platform',
    body: z.strictObject({ compromised: z.boolean().optional() }),
    handler: async ({ body }) => engine.oauth.rotateSigningKey(body),
  }),
];

/** The `token` parameter: required, once. */
function single(value: string | string[] | undefined): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new OAuthError('invalid_request', 'token is required, once');
  return value;
}
