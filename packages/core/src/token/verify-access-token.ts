import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { type AccessTokenClaims, type ActorClaim, actorChain } from './claims.js';
import { TokenError } from './errors.js';

export interface AccessTokenOptions {
  /** The issuer's keys: a JWKS document or a key resolver (createRemoteJWKSet). */
  keys: JSONWebKeySet | JWTVerifyGetKey;
  issuer: string;
  /** The audience this verifier serves; required unless `acceptAnyAudience`. */
  audience?: string;
  /**
   * Only for the issuer itself (introspection, its own endpoints): every audience it issued
   * for is acceptable. An enforcement point always names its audience.
   */
  acceptAnyAudience?: boolean;
  now?: Date;
  /** Tolerated clock skew for exp, nbf and iat (default 30 s, at most 300). */
  clockToleranceSeconds?: number;
}

export interface VerifiedAccessToken {
  claims: AccessTokenClaims;
  /** The presenting agent first, then the agents it acts for, down to the first one. */
  agents: string[];
  /** The user the chain acts for (sub), or the agent itself when autonomous. */
  subject: string;
}

/** Only what Mandate issues: EdDSA. `none`, HMAC and anything else are refused before any key is used. */
const ALGORITHMS = ['EdDSA'];

/**
 * Verifies a Mandate access token as an enforcement point must: signature by a key of the
 * issuer's JWKS (EdDSA only), `typ: at+jwt`, issuer, audience, exp/nbf/iat with bounded skew,
 * the required claims, and a well-formed actor chain whose newest actor is the presenter.
 */
export async function verifyAccessToken(
  token: string,
  options: AccessTokenOptions,
): Promise<VerifiedAccessToken> {
  if (options.audience === undefined && options.acceptAnyAudience !== true) {
    // Fail closed: a verifier that names no audience would accept tokens meant for anyone.
    throw new TokenError('token_invalid', 'the verifier names no audience');
  }
  const keys = typeof options.keys === 'function' ? options.keys : createLocalJWKSet(options.keys);
  const tolerance = Math.min(Math.max(options.clockToleranceSeconds ?? 30, 0), 300);
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      algorithms: ALGORITHMS,
      typ: 'at+jwt',
      issuer: options.issuer,
      ...(options.audience !== undefined ? { audience: options.audience } : {}),
      clockTolerance: tolerance,
      currentDate: options.now,
      requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired)
      throw new TokenError('token_expired', 'the access token has expired');
    throw new TokenError('token_invalid', `the access token is not valid (${(error as Error).message})`);
  }
  const now = (options.now ?? new Date()).getTime() / 1000;
  if (typeof payload.iat === 'number' && payload.iat > now + tolerance) {
    throw new TokenError('token_invalid', 'the access token was issued in the future');
  }
  for (const name of ['sub', 'client_id', 'org', 'dlg', 'jti'] as const) {
    if (typeof payload[name] !== 'string' || (payload[name] as string).length === 0) {
      throw new TokenError('token_invalid', `the access token has no ${name}`);
    }
  }
  if (payload.act !== undefined && !isActor(payload.act, 0)) {
    throw new TokenError('token_invalid', 'the act claim is malformed');
  }
  const claims = payload as unknown as AccessTokenClaims;
  const agents = actorChain(claims.act);
  // The newest actor is the agent the token was issued to; an autonomous agent acts as itself.
  if (agents.length === 0 ? claims.sub !== claims.client_id : agents[0] !== claims.client_id) {
    throw new TokenError('token_invalid', 'the actor chain does not end at the presenting agent');
  }
  if (
    claims.cnf !== undefined &&
    (typeof claims.cnf !== 'object' || claims.cnf === null || typeof claims.cnf.jkt !== 'string')
  ) {
    throw new TokenError('token_invalid', 'the cnf claim is malformed');
  }
  return { claims, agents: agents.length > 0 ? agents : [claims.client_id], subject: claims.sub };
}

function isActor(value: unknown, depth: number): value is ActorClaim {
  if (depth > 16 || typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { sub, act } = value as { sub?: unknown; act?: unknown };
  return typeof sub === 'string' && sub.length > 0 && (act === undefined || isActor(act, depth + 1));
}
