import { randomBytes } from 'node:crypto';
import {
  type AccessTokenClaims,
  type ActorClaim,
  type Agent,
  attenuate,
  type Delegation,
  type ReplayCache,
  TokenError,
  verifyDpopProof,
} from '@mandate/core';
import { base64url, calculateJwkThumbprint, decodeProtectedHeader, type JWK } from 'jose';
import type { EngineContext } from '../context.js';
import { chainLiveness } from '../delegation/liveness.js';
import type { OrgReader } from '../ports/store.js';
import { type AuthenticatedClient, authenticateClient } from './client-assertion.js';
import { credentialStatus } from './credential-status.js';
import { OAuthError } from './oauth-error.js';
import type { OwnTokens } from './own-tokens.js';
import { MAX_TOKEN_TTL_SECONDS } from './signing-keys.js';
import {
  AUTHORIZATION_DETAILS_TYPE,
  type FormParams,
  requestedAudiences,
  requestedNarrowing,
  required,
  single,
} from './token-request.js';

export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const GRANT_CLIENT_CREDENTIALS = 'client_credentials';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
/** Mandate's subject token type for the first hop: the id of a delegation made to the agent. */
export const TOKEN_TYPE_DELEGATION = 'urn:mandate:params:oauth:token-type:delegation';

export interface TokenEndpointOptions {
  issuer: () => string;
  /** Default lifetime of an access token (capped by MAX_TOKEN_TTL_SECONDS). */
  tokenTtlSeconds: number;
  assertionReplay: ReplayCache;
  dpopReplay: ReplayCache;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'DPoP' | 'Bearer';
  expires_in: number;
  issued_token_type?: string;
  scope?: string;
  authorization_details: AccessTokenClaims['authorization_details'];
}

/**
 * `POST /oauth/token`: an agent, authenticated by `private_key_jwt`, exchanges a delegation it
 * holds for a short-lived access token (RFC 8693), or takes one on its standing delegation
 * (`client_credentials`). The token carries the whole chain (`sub` the root user, `act` the
 * agents newest first), the effective scope, and — when the request carried a DPoP proof made
 * with one of the agent's registered keys — `cnf.jkt`. Issuance is recorded in the org's log
 * before the token is returned.
 */
export class TokenEndpoint {
  constructor(
    private readonly ctx: EngineContext,
    private readonly tokens: OwnTokens,
    private readonly options: TokenEndpointOptions,
  ) {}

  get tokenUrl(): string {
    return `${this.options.issuer()}/oauth/token`;
  }

  async token(params: FormParams, dpopHeader: string | string[] | undefined): Promise<TokenResponse> {
    const grantType = required(params, 'grant_type');
    if (grantType !== GRANT_TOKEN_EXCHANGE && grantType !== GRANT_CLIENT_CREDENTIALS) {
      throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported`);
    }
    const now = this.ctx.clock.now();
    const client = await authenticateClient(
      this.ctx.store,
      {
        client_assertion_type: single(params, 'client_assertion_type'),
        client_assertion: single(params, 'client_assertion'),
        client_id: single(params, 'client_id'),
      },
      {
        audiences: [this.options.issuer(), this.tokenUrl],
        replay: this.options.assertionReplay,
        now,
      },
    );
    const jkt = await this.proofKey(client, dpopHeader, now);
    const org = this.ctx.store.org(client.orgId);
    const delegation =
      grantType === GRANT_TOKEN_EXCHANGE
        ? await this.exchangedDelegation(org, client, params)
        : await this.standingDelegation(org, client, params);
    return this.issue(org, client.agent, delegation, params, jkt, grantType, now);
  }

  /** RFC 9449: a DPoP proof of this request, by a key registered on the agent, binds the token. */
  private async proofKey(
    client: AuthenticatedClient,
    header: string | string[] | undefined,
    now: Date,
  ): Promise<string | undefined> {
    if (header === undefined) return undefined;
    if (Array.isArray(header) || header.length === 0)
      throw new OAuthError('invalid_dpop_proof', 'send exactly one DPoP header');
    // Which key signed it, before anything is remembered: a proof by a key that is not the
    // agent's is refused without spending room in the replay cache.
    let claimedJkt: string;
    try {
      claimedJkt = await calculateJwkThumbprint(decodeProtectedHeader(header).jwk as JWK, 'sha256');
    } catch {
      throw new OAuthError('invalid_dpop_proof', 'the DPoP proof has no usable jwk');
    }
    if (!client.agent.keys.some((key) => key.status === 'active' && key.kid === claimedJkt)) {
      throw new OAuthError('invalid_dpop_proof', 'the DPoP key is not an active key of the agent');
    }
    try {
      return await verifyDpopProof(header, {
        method: 'POST',
        url: this.tokenUrl,
        expectedJkt: claimedJkt,
        replay: this.options.dpopReplay,
        now,
      });
    } catch (error) {
      if (error instanceof TokenError) throw new OAuthError('invalid_dpop_proof', error.message);
      throw error;
    }
  }

  /**
   * Token exchange. The subject token is either the id of a delegation made by a user to this
   * agent (`TOKEN_TYPE_DELEGATION`), or — for a re-delegation hop — the access token of the
   * agent that re-delegated, whose delegation is the parent of the one this agent holds.
   */
  private async exchangedDelegation(
    org: OrgReader,
    client: AuthenticatedClient,
    params: FormParams,
  ): Promise<Delegation> {
    const subjectToken = required(params, 'subject_token');
    const subjectTokenType = required(params, 'subject_token_type');
    const requestedType = single(params, 'requested_token_type');
    if (requestedType !== undefined && requestedType !== TOKEN_TYPE_ACCESS_TOKEN)
      throw new OAuthError('invalid_request', 'only access tokens can be requested');
    if (single(params, 'actor_token') !== undefined)
      throw new OAuthError(
        'invalid_request',
        'actor_token is not used: the actor is the authenticated client',
      );
    const named = single(params, 'delegation');
    if (subjectTokenType === TOKEN_TYPE_DELEGATION) {
      const delegation = await org.getDelegation(subjectToken);
      if (!delegation || delegation.delegateAgentId !== client.agent.id)
        throw new OAuthError('invalid_grant', 'no delegation with this id was made to this agent');
      if (named !== undefined && named !== delegation.id)
        throw new OAuthError('invalid_request', 'delegation does not match the subject token');
      if (delegation.parentId !== undefined)
        throw new OAuthError(
          'invalid_grant',
          "a re-delegation is exchanged with the delegating agent's access token as subject_token",
        );
      // A standing grant is acted on autonomously (client_credentials, sub = the agent): a token
      // exchange would name the owner as if they had delegated this task in person.
      if (delegation.standing)
        throw new OAuthError(
          'invalid_grant',
          'a standing delegation is used with grant_type=client_credentials',
        );
      return delegation;
    }
    if (subjectTokenType !== TOKEN_TYPE_ACCESS_TOKEN)
      throw new OAuthError(
        'unsupported_token_type',
        `subject_token_type ${subjectTokenType} is not supported`,
      );
    return this.childOfSubjectToken(org, client, subjectToken, named);
  }

  private async childOfSubjectToken(
    org: OrgReader,
    client: AuthenticatedClient,
    subjectToken: string,
    named: string | undefined,
  ): Promise<Delegation> {
    let parent: Awaited<ReturnType<OwnTokens['verify']>>;
    try {
      parent = await this.tokens.verifyForUse(subjectToken);
    } catch (error) {
      if (error instanceof TokenError)
        throw new OAuthError('invalid_grant', `the subject token is not valid: ${error.message}`);
      throw error;
    }
    // Only a key-bound token may be handed on as a subject token: the sub-agent cannot then use
    // it as the parent agent (it lacks the key); a bearer token handed on would be the parent.
    if (parent.claims.cnf?.jkt === undefined)
      throw new OAuthError('invalid_grant', 'the subject token must be key-bound (issued with DPoP)');
    const status = await credentialStatus(org, parent, this.ctx.clock.now());
    if (!status.active)
      throw new OAuthError('invalid_grant', `the subject token is not active (${status.reason})`);
    const fits = (d: Delegation) =>
      d.parentId === parent.claims.dlg &&
      d.delegator.kind === 'agent' &&
      d.delegator.id === parent.claims.client_id &&
      d.delegateAgentId === client.agent.id &&
      d.status === 'active';
    if (named !== undefined) {
      const delegation = await org.getDelegation(named);
      if (!delegation || !fits(delegation))
        throw new OAuthError(
          'invalid_grant',
          "the delegation is not one the subject token's agent made to this agent",
        );
      return delegation;
    }
    const children = await org.listDelegations(
      { parentId: parent.claims.dlg, delegateAgentId: client.agent.id, status: 'active' },
      { limit: 2 },
    );
    const candidates = children.items.filter(fits);
    if (candidates.length === 0)
      throw new OAuthError('invalid_grant', "the subject token's agent made no delegation to this agent");
    if (candidates.length > 1 || children.nextCursor)
      throw new OAuthError(
        'invalid_request',
        'several delegations fit: name one with the delegation parameter',
      );
    return candidates[0] as Delegation;
  }

  /** client_credentials: the agent acts on the standing delegation its owner gave it. */
  private async standingDelegation(
    org: OrgReader,
    client: AuthenticatedClient,
    params: FormParams,
  ): Promise<Delegation> {
    const named = single(params, 'delegation');
    const isStanding = (d: Delegation) =>
      d.standing === true &&
      d.parentId === undefined &&
      d.delegateAgentId === client.agent.id &&
      d.rootUserId === client.agent.ownerId &&
      d.status === 'active';
    if (named !== undefined) {
      const delegation = await org.getDelegation(named);
      if (!delegation || !isStanding(delegation))
        throw new OAuthError('invalid_grant', 'the delegation is not a standing delegation of this agent');
      return delegation;
    }
    const page = await org.listDelegations(
      { delegateAgentId: client.agent.id, rootUserId: client.agent.ownerId, status: 'active' },
      { limit: 100 },
    );
    const standing = page.items.filter(isStanding);
    if (standing.length === 0)
      throw new OAuthError('invalid_grant', 'the agent has no standing delegation from its owner');
    if (standing.length > 1)
      throw new OAuthError(
        'invalid_request',
        'several standing delegations: name one with the delegation parameter',
      );
    return standing[0] as Delegation;
  }

  private async issue(
    org: OrgReader,
    agent: Agent,
    delegation: Delegation,
    params: FormParams,
    jkt: string | undefined,
    grantType: string,
    now: Date,
  ): Promise<TokenResponse> {
    const live = await chainLiveness(org, delegation.id, now);
    if (!live.live)
      throw new OAuthError('invalid_grant', `the delegation is not usable: ${live.reason} (${live.detail})`);
    const { requested, scopeParam, viaDetails } = requestedNarrowing(params);
    const narrowed = attenuate(delegation.scope, requested, { redelegation: false });
    if (!narrowed.ok) {
      const list = narrowed.widenings.map((w) => `${w.dimension} (${w.detail})`).join('; ');
      throw new OAuthError(
        viaDetails ? 'invalid_authorization_details' : 'invalid_scope',
        `wider than the delegation: ${list}`,
      );
    }
    const audiences = requestedAudiences(params, this.options.issuer());
    const iat = Math.floor(now.getTime() / 1000);
    const ttl = Math.min(
      this.options.tokenTtlSeconds,
      agent.boundaries.maxCredentialTtlSeconds,
      MAX_TOKEN_TTL_SECONDS,
    );
    // Never beyond any link of the chain or any agent in it.
    const ends = [
      (iat + ttl) * 1000,
      Date.parse(narrowed.scope.expiresAt),
      ...live.delegations.map((d) => Date.parse(d.scope.expiresAt)),
      ...live.agents.map((a) => Date.parse(a.expiresAt)),
    ];
    const exp = Math.floor(Math.min(...ends) / 1000);
    if (!(exp > iat)) throw new OAuthError('invalid_grant', 'the delegation expires within a second');
    const autonomous = grantType === GRANT_CLIENT_CREDENTIALS;
    const claims: AccessTokenClaims = {
      iss: this.options.issuer(),
      sub: autonomous ? agent.id : delegation.rootUserId,
      aud: audiences.length === 1 ? (audiences[0] as string) : audiences,
      exp,
      iat,
      jti: base64url.encode(randomBytes(18)),
      client_id: agent.id,
      org: org.orgId,
      dlg: delegation.id,
      ...(autonomous ? {} : { act: actorClaim(live.delegations) }),
      authorization_details: [{ type: AUTHORIZATION_DETAILS_TYPE, scope: narrowed.scope }],
      ...(jkt ? { cnf: { jkt } } : {}),
    };
    const accessToken = await this.tokens.sign(claims);
    await this.ctx.store.org(org.orgId).transact(async (tx) => {
      // Again inside the transaction that records the issuance, so that a revocation committed
      // meanwhile cannot be followed by a token issued under what it revoked.
      const still = await chainLiveness(tx, delegation.id, now);
      if (!still.live)
        throw new OAuthError(
          'invalid_grant',
          `the delegation is not usable: ${still.reason} (${still.detail})`,
        );
      await this.ctx.audit.append(tx, {
        type: 'credential.issued',
        actor: { kind: 'agent', id: agent.id },
        target: { type: 'credential', id: claims.jti },
        refs: { agentId: agent.id, delegationId: delegation.id, userId: delegation.rootUserId },
        after: {
          grantType,
          jti: claims.jti,
          sub: claims.sub,
          ...(claims.act ? { act: claims.act } : {}),
          aud: claims.aud,
          iat,
          exp,
          ...(jkt ? { jkt } : {}),
          scope: narrowed.scope,
        },
      });
    });
    return {
      access_token: accessToken,
      token_type: jkt ? 'DPoP' : 'Bearer',
      expires_in: exp - iat,
      ...(grantType === GRANT_TOKEN_EXCHANGE ? { issued_token_type: TOKEN_TYPE_ACCESS_TOKEN } : {}),
      ...(scopeParam !== undefined ? { scope: scopeParam } : {}),
      authorization_details: claims.authorization_details,
    };
  }
}

/** RFC 8693 §4.1: the newest actor outermost, each earlier one nested inside it. */
function actorClaim(chain: Delegation[]): ActorClaim {
  let act: ActorClaim | undefined;
  for (const link of chain) act = act ? { sub: link.delegateAgentId, act } : { sub: link.delegateAgentId };
  return act as ActorClaim;
}
