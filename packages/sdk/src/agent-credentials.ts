import type { MandateAuthorizationDetail, RequestedScope } from '@mandate/core';
import { base64url, calculateJwkThumbprint, importJWK, type JWK, SignJWT } from 'jose';
import { describeFetchFailure, parseJson } from './client.js';
import { MandateApiError, MandateConnectionError } from './errors.js';
import type { DelegationView } from './types.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const DELEGATION_TOKEN_TYPE = 'urn:mandate:params:oauth:token-type:delegation';
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface AgentCredentialsOptions {
  /** The Mandate server's public URL: its token issuer (`MANDATE_PUBLIC_URL`). */
  url: string;
  agentId: string;
  /** The agent's private key (Ed25519 or P-256 JWK); its public half is registered on the agent. */
  privateJwk: JWK;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export interface TokenRequest {
  /** First hop: a delegation a user made to this agent. */
  delegation?: string;
  /** Re-delegation hop: the access token of the agent that re-delegated to this one. */
  subjectToken?: string;
  /** Narrow the token to these action patterns (OAuth `scope`). */
  scope?: string[];
  /** Narrow the token's scope in any dimension (RFC 9396 `authorization_details`). */
  narrow?: RequestedScope;
  audience?: string[];
  resource?: string[];
  /** Bind the token to the agent's key with DPoP (default true). */
  dpop?: boolean;
}

export interface IssuedToken {
  access_token: string;
  token_type: 'DPoP' | 'Bearer';
  expires_in: number;
  issued_token_type?: string;
  scope?: string;
  authorization_details: MandateAuthorizationDetail[];
}

/** What an agent asks before acting (`POST /v1/decisions`). */
export interface ActionRequestInput {
  action: string;
  resource: { type: string; id: string; properties?: Record<string, unknown> };
  dataClass?: 'public' | 'internal' | 'confidential' | 'restricted';
  environment?: string;
  arguments?: Record<string, unknown>;
  context?: Record<string, unknown>;
  /** What the enforcement point observed: the agent read untrusted content in this task. */
  signals?: { untrustedInput?: boolean };
}

export interface DecisionAnswer {
  decision: 'allow' | 'deny' | 'approval_required';
  reasons: Array<{ code: string; detail?: string; dimension?: string; limit?: string }>;
  decisionId: string;
  policies: string[];
  policyVersion?: number;
  /** The score 0–100 and the factors that counted. */
  risk?: { score: number; factors: Array<{ name: string; contribution: number; detail: string }> };
  /** For approval_required: the request a human decides (wait on it, then ask again). */
  approval?: { id: string; status: string; expiresAt: string };
}

/** An OAuth error answer of the token endpoint, as an API error with the RFC's code. */
export class OAuthApiError extends MandateApiError {}

/**
 * What an agent holds to get and use credentials: its id and private key. Signs the
 * `private_key_jwt` client assertions (RFC 7523) and DPoP proofs (RFC 9449) Mandate asks for.
 */
export class AgentCredentials {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private key?: { signer: CryptoKey | Uint8Array; alg: 'EdDSA' | 'ES256'; publicJwk: JWK; kid: string };

  constructor(private readonly options: AgentCredentialsOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  /** A token for a delegation: exchanged (RFC 8693) for the first hop or a re-delegation hop. */
  exchange(request: TokenRequest): Promise<IssuedToken> {
    if (request.delegation === undefined && request.subjectToken === undefined) {
      throw new TypeError('give a delegation, or the subject token of the agent that re-delegated');
    }
    const params: Record<string, string | string[]> = { grant_type: TOKEN_EXCHANGE };
    if (request.subjectToken !== undefined) {
      params.subject_token = request.subjectToken;
      params.subject_token_type = ACCESS_TOKEN_TYPE;
      if (request.delegation !== undefined) params.delegation = request.delegation;
    } else {
      params.subject_token = request.delegation as string;
      params.subject_token_type = DELEGATION_TOKEN_TYPE;
    }
    return this.requestToken(params, request);
  }

  /** A token on the agent's standing delegation from its owner (`client_credentials`). */
  clientCredentials(request: Omit<TokenRequest, 'subjectToken'> = {}): Promise<IssuedToken> {
    const params: Record<string, string | string[]> = { grant_type: 'client_credentials' };
    if (request.delegation !== undefined) params.delegation = request.delegation;
    return this.requestToken(params, request);
  }

  /** Revokes a token this agent holds (or one minted below it). */
  async revoke(token: string): Promise<void> {
    await this.form('/oauth/revoke', { token, ...(await this.clientAuth('/oauth/revoke')) });
  }

  /** Passes part of the delegation `token` is for to another agent. */
  async redelegate(
    token: IssuedToken,
    parentDelegationId: string,
    input: { delegateAgentId: string; purpose: string; scope?: RequestedScope },
  ): Promise<DelegationView> {
    const path = `/v1/delegations/${encodeURIComponent(parentDelegationId)}/redelegate`;
    const response = await this.call(path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(await this.authorization(token, 'POST', path)),
      },
      body: JSON.stringify(input),
    });
    return (await response.json()) as DelegationView;
  }

  /** Asks Mandate whether an action may run now (`POST /v1/decisions`), presenting `token`. */
  async decide(token: IssuedToken, request: ActionRequestInput): Promise<DecisionAnswer> {
    const path = '/v1/decisions';
    const response = await this.call(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await this.authorization(token, 'POST', path)) },
      body: JSON.stringify(request),
    });
    return (await response.json()) as DecisionAnswer;
  }

  /** Records what happened after an allowed decision. */
  async outcome(
    token: IssuedToken,
    decisionId: string,
    outcome: { status: 'success' | 'error'; resultDigest?: string; durationMs?: number; error?: string },
  ): Promise<{ seq: number }> {
    const path = `/v1/decisions/${encodeURIComponent(decisionId)}/outcome`;
    const response = await this.call(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await this.authorization(token, 'POST', path)) },
      body: JSON.stringify(outcome),
    });
    return (await response.json()) as { seq: number };
  }

  /**
   * The status of an approval request this agent's action caused; with `waitSeconds` (at most
   * 60) the server holds the answer while it is pending (long-poll).
   */
  async approvalStatus(
    token: IssuedToken,
    approvalId: string,
    waitSeconds = 0,
  ): Promise<{ id: string; status: string; expiresAt: string }> {
    const path = `/v1/approvals/${encodeURIComponent(approvalId)}/status`;
    const response = await this.call(
      `${path}?wait=${Math.max(0, Math.min(60, Math.floor(waitSeconds)))}`,
      { method: 'GET', headers: await this.authorization(token, 'GET', path) },
      waitSeconds * 1000,
    );
    return (await response.json()) as { id: string; status: string; expiresAt: string };
  }

  /** Headers that present `token` for one request: `DPoP <token>` plus a fresh proof, or Bearer. */
  async authorization(token: IssuedToken, method: string, path: string): Promise<Record<string, string>> {
    if (token.token_type !== 'DPoP') return { authorization: `Bearer ${token.access_token}` };
    return {
      authorization: `DPoP ${token.access_token}`,
      dpop: await this.dpopProof(method, `${this.base}${path}`, token.access_token),
    };
  }

  /** A DPoP proof (RFC 9449) for one request, with `ath` when it accompanies a token. */
  async dpopProof(method: string, url: string, accessToken?: string): Promise<string> {
    const key = await this.signingKey();
    const claims: Record<string, unknown> = { htm: method.toUpperCase(), htu: url, jti: randomId() };
    if (accessToken !== undefined) {
      const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken));
      claims.ath = base64url.encode(new Uint8Array(digest));
    }
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk })
      .setIssuedAt()
      .sign(key.signer);
  }

  /** The client assertion (RFC 7523) for one request to `endpointPath`. */
  async clientAssertion(endpointPath: string): Promise<string> {
    const key = await this.signingKey();
    return new SignJWT({})
      .setProtectedHeader({ alg: key.alg, kid: key.kid })
      .setIssuer(this.options.agentId)
      .setSubject(this.options.agentId)
      .setAudience(`${this.base}${endpointPath}`)
      .setIssuedAt()
      .setExpirationTime('60s')
      .setJti(randomId())
      .sign(key.signer);
  }

  private async requestToken(
    params: Record<string, string | string[]>,
    request: Omit<TokenRequest, 'subjectToken'>,
  ): Promise<IssuedToken> {
    if (request.scope) params.scope = request.scope.join(' ');
    if (request.narrow)
      params.authorization_details = JSON.stringify([{ type: 'mandate_scope', scope: request.narrow }]);
    if (request.audience) params.audience = request.audience;
    if (request.resource) params.resource = request.resource;
    const headers: Record<string, string> = {};
    if (request.dpop !== false) headers.dpop = await this.dpopProof('POST', `${this.base}/oauth/token`);
    const response = await this.form(
      '/oauth/token',
      { ...params, ...(await this.clientAuth('/oauth/token')) },
      headers,
    );
    return (await response.json()) as IssuedToken;
  }

  private async clientAuth(endpointPath: string): Promise<Record<string, string>> {
    return {
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await this.clientAssertion(endpointPath),
    };
  }

  private form(
    path: string,
    params: Record<string, string | string[]>,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(params))
      for (const item of Array.isArray(value) ? value : [value]) body.append(name, item);
    return this.call(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: body.toString(),
    });
  }

  /** One call; `extraMs` lengthens the timeout for a call the server may hold (a long-poll). */
  private async call(path: string, init: RequestInit, extraMs = 0): Promise<Response> {
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.base}${path}`, {
        ...init,
        headers: { accept: 'application/json', ...(init.headers as Record<string, string>) },
        signal: AbortSignal.timeout((this.options.timeoutMs ?? 30_000) + extraMs),
      });
    } catch (error) {
      throw new MandateConnectionError(this.base, describeFetchFailure(error));
    }
    if (response.ok) return response;
    const text = await response.text();
    const parsed = parseJson(text) as
      | { error?: string | { code?: string; message?: string }; error_description?: string }
      | undefined;
    if (typeof parsed?.error === 'string') {
      throw new OAuthApiError(response.status, parsed.error, parsed.error_description ?? parsed.error);
    }
    const detail = typeof parsed?.error === 'object' ? parsed.error : undefined;
    throw new MandateApiError(
      response.status,
      detail?.code ?? `http_${response.status}`,
      detail?.message ?? (text.slice(0, 200) || response.statusText),
    );
  }

  private async signingKey() {
    if (this.key) return this.key;
    const jwk = this.options.privateJwk;
    const alg = jwk.kty === 'OKP' ? 'EdDSA' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : undefined;
    if (!alg || typeof jwk.d !== 'string')
      throw new TypeError('the agent key must be a private Ed25519 (OKP) or P-256 (EC) JWK');
    const { d: _d, key_ops: _ops, ext: _ext, ...rest } = jwk;
    const publicJwk: JWK =
      alg === 'EdDSA'
        ? { kty: 'OKP', crv: 'Ed25519', x: rest.x }
        : { kty: 'EC', crv: 'P-256', x: rest.x, y: rest.y };
    const signer = (await importJWK(jwk, alg)) as CryptoKey | Uint8Array;
    this.key = { signer, alg, publicJwk, kid: await calculateJwkThumbprint(publicJwk, 'sha256') };
    return this.key;
  }
}

function randomId(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
}
