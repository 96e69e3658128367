import {
  MemoryReplayCache,
  type ReasonCode,
  TokenError,
  type VerifiedAccessToken,
  verifyDpopProof,
} from '@mandate/core';
import type { EngineContext } from '../context.js';
import { type AuthenticatedClient, authenticateClient } from './client-assertion.js';
import { type CredentialStatus, credentialStatus } from './credential-status.js';
import { Introspection } from './introspection.js';
import type { MasterKey } from './master-key.js';
import { OwnTokens } from './own-tokens.js';
import { Revocation } from './revocation.js';
import { MAX_TOKEN_TTL_SECONDS, TokenSigningKeys } from './signing-keys.js';
import { GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE, TokenEndpoint } from './token-endpoint.js';
import { AUTHORIZATION_DETAILS_TYPE, type FormParams, single } from './token-request.js';

export interface OAuthOptions {
  /** The issuer identifier: this server's public base URL, no trailing slash. */
  issuer: () => string;
  masterKey: MasterKey;
  /** Default access token lifetime in seconds (default 300). */
  tokenTtlSeconds?: number;
}

/** An agent calling with its own access token, verified and live. */
export interface AuthenticatedAgent {
  orgId: string;
  agentId: string;
  token: VerifiedAccessToken;
  status: Extract<CredentialStatus, { active: true }>;
}

/** The authorization server: token endpoint, introspection, revocation, keys, metadata. */
export class OAuthService {
  readonly keys: TokenSigningKeys;
  readonly tokens: OwnTokens;
  readonly endpoint: TokenEndpoint;
  readonly introspection: Introspection;
  readonly revocation: Revocation;
  private readonly issuer: () => string;
  private readonly assertionReplay = new MemoryReplayCache();
  /** Shared by every place a DPoP proof is checked (a proof is accepted once, anywhere). */
  readonly dpopReplay = new MemoryReplayCache();

  constructor(
    private readonly ctx: EngineContext,
    options: OAuthOptions,
  ) {
    this.issuer = () => options.issuer().replace(/\/+$/, '');
    this.keys = new TokenSigningKeys(ctx.store.platform, options.masterKey, ctx.clock);
    this.tokens = new OwnTokens(this.keys, this.issuer, ctx.clock);
    this.endpoint = new TokenEndpoint(ctx, this.tokens, {
      issuer: this.issuer,
      tokenTtlSeconds: Math.min(options.tokenTtlSeconds ?? 300, MAX_TOKEN_TTL_SECONDS),
      assertionReplay: this.assertionReplay,
      dpopReplay: this.dpopReplay,
    });
    this.introspection = new Introspection(ctx, this.tokens);
    this.revocation = new Revocation(ctx, this.tokens);
  }

  url(path: string): string {
    return `${this.issuer()}${path}`;
  }

  /** RFC 7523 client authentication for an endpoint other than the token endpoint. */
  authenticateClient(params: FormParams, endpointPath: string): Promise<AuthenticatedClient> {
    return authenticateClient(
      this.ctx.store,
      {
        client_assertion_type: single(params, 'client_assertion_type'),
        client_assertion: single(params, 'client_assertion'),
        client_id: single(params, 'client_id'),
      },
      {
        audiences: [this.issuer(), this.url(endpointPath)],
        replay: this.assertionReplay,
        now: this.ctx.clock.now(),
      },
    );
  }

  /**
   * An agent authenticating a call with its access token: `Authorization: DPoP <token>` with a
   * DPoP proof of this request; the token must be key-bound and name Mandate as an audience.
   * Throws TokenError (token_invalid, token_expired, pop_invalid) or ChainError (the chain's reason).
   */
  async authenticateAgent(request: {
    authorization: string | undefined;
    dpop: string | string[] | undefined;
    method: string;
    path: string;
  }): Promise<AuthenticatedAgent> {
    const match = request.authorization ? /^(DPoP|Bearer) ([^\s]+)$/i.exec(request.authorization) : null;
    if (!match) throw new TokenError('token_invalid', 'send Authorization: DPoP <token> with a DPoP proof');
    const scheme = (match[1] as string).toLowerCase();
    const token = match[2] as string;
    const verified = await this.tokens.verifyForUse(token);
    const jkt = verified.claims.cnf?.jkt;
    // An agent acting at Mandate proves its key on every call: a bearer token handed to another
    // agent (as a subject token is) must not let that agent act as the first.
    if (jkt === undefined)
      throw new TokenError(
        'pop_invalid',
        'agent calls need a key-bound (DPoP) token; this is a bearer token',
      );
    // RFC 9449 §7.1: a key-bound token is presented with the DPoP scheme and a proof.
    if (scheme !== 'dpop' || typeof request.dpop !== 'string')
      throw new TokenError('pop_invalid', 'the token is key-bound: use the DPoP scheme with one DPoP proof');
    await verifyDpopProof(request.dpop, {
      method: request.method,
      url: this.url(request.path),
      accessToken: token,
      expectedJkt: jkt,
      replay: this.dpopReplay,
      now: this.ctx.clock.now(),
    });
    const status = await credentialStatus(
      this.ctx.store.org(verified.claims.org),
      verified,
      this.ctx.clock.now(),
    );
    if (!status.active) throw new ChainError(status.reason, status.detail);
    return { orgId: verified.claims.org, agentId: verified.claims.client_id, token: verified, status };
  }

  /**
   * Retires the signing key and makes a new one. `compromised`: the retired key leaves the
   * JWKS at once and no token it signed is trusted from now on (they all stop working).
   */
  async rotateSigningKey(
    options: { compromised?: boolean } = {},
  ): Promise<{ kid: string; retired: string[] }> {
    const result = await this.keys.rotate(options);
    if (options.compromised) this.tokens.forget();
    return result;
  }

  /** RFC 8414 authorization server metadata. */
  metadata(): Record<string, unknown> {
    return {
      issuer: this.issuer(),
      token_endpoint: this.url('/oauth/token'),
      jwks_uri: this.url('/.well-known/jwks.json'),
      introspection_endpoint: this.url('/oauth/introspect'),
      revocation_endpoint: this.url('/oauth/revoke'),
      grant_types_supported: [GRANT_TOKEN_EXCHANGE, GRANT_CLIENT_CREDENTIALS],
      // There is no authorization endpoint: agents never go through a browser redirect.
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['EdDSA', 'ES256'],
      revocation_endpoint_auth_methods_supported: ['private_key_jwt'],
      revocation_endpoint_auth_signing_alg_values_supported: ['EdDSA', 'ES256'],
      dpop_signing_alg_values_supported: ['EdDSA', 'ES256'],
      authorization_details_types_supported: [AUTHORIZATION_DETAILS_TYPE],
      service_documentation: this.url('/openapi.json'),
    };
  }
}

/** A token whose chain is no longer usable: the reason code says which link and why. */
export class ChainError extends Error {
  override readonly name = 'ChainError';
  constructor(
    readonly code: ReasonCode,
    message: string,
  ) {
    super(message);
  }
}
