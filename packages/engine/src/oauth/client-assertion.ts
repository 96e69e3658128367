import { type Agent, effectiveAgentStatus, type ReplayCache } from '@mandate/core';
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import type { Store } from '../ports/store.js';
import { OAuthError } from './oauth-error.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ALGORITHMS = ['EdDSA', 'ES256'];
/** An assertion may not be valid for longer than this: it is made for one request. */
const MAX_ASSERTION_LIFETIME_SECONDS = 300;
/** One refusal for an unknown agent and a bad signature, so agent ids cannot be probed. */
const NOT_SIGNED = 'the assertion is not signed by an active key of the agent, or its claims are wrong';

export interface AuthenticatedClient {
  orgId: string;
  agent: Agent;
  /** The thumbprint of the agent key that signed the assertion. */
  kid: string;
}

export interface ClientAssertionOptions {
  /** Accepted `aud` values: the issuer identifier and the URL of the endpoint called. */
  audiences: string[];
  replay: ReplayCache;
  now: Date;
}

const refuse = (why: string): never => {
  throw new OAuthError('invalid_client', `client authentication failed: ${why}`);
};

/**
 * RFC 7523 `private_key_jwt`: the agent signs a short-lived JWT (iss = sub = its id, aud = this
 * server, exp, a never-reused jti) with a key registered on it. Every failure is the same
 * `invalid_client`, with a reason that names no stored object.
 */
export async function authenticateClient(
  store: Store,
  params: { client_assertion_type?: string; client_assertion?: string; client_id?: string },
  options: ClientAssertionOptions,
): Promise<AuthenticatedClient> {
  if (params.client_assertion_type !== CLIENT_ASSERTION_TYPE || !params.client_assertion) {
    return refuse(`send client_assertion_type=${CLIENT_ASSERTION_TYPE} and a client_assertion`);
  }
  const assertion = params.client_assertion;
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(assertion);
    unverified = decodeJwt(assertion);
  } catch {
    return refuse('the client assertion is not a JWT');
  }
  if (!header.alg || !ALGORITHMS.includes(header.alg)) return refuse('algorithm not allowed');
  // A token of another kind (an access token, a DPoP proof) is never a client assertion.
  if (header.typ !== undefined && !['JWT', 'jwt'].includes(header.typ))
    return refuse('typ is not a client assertion');
  const agentId = unverified.sub;
  if (typeof agentId !== 'string' || unverified.iss !== agentId)
    return refuse('iss and sub must both be the agent id');
  if (params.client_id !== undefined && params.client_id !== agentId)
    return refuse('client_id does not match the assertion');
  const orgId = await store.platform.findAgentOrg(agentId);
  const agent = orgId ? await store.org(orgId).getAgent(agentId) : undefined;
  if (!orgId || !agent) return refuse(NOT_SIGNED);
  const candidates = agent.keys.filter(
    (key) => key.status === 'active' && (header.kid === undefined || header.kid === key.kid),
  );
  let verified: Awaited<ReturnType<typeof jwtVerify>> | undefined;
  let signer: string | undefined;
  for (const key of candidates) {
    const alg = key.jwk.kty === 'OKP' ? 'EdDSA' : 'ES256';
    if (alg !== header.alg) continue;
    try {
      verified = await jwtVerify(assertion, await importJWK(key.jwk, alg), {
        algorithms: [alg],
        issuer: agentId,
        subject: agentId,
        audience: options.audiences,
        currentDate: options.now,
        clockTolerance: 30,
        requiredClaims: ['exp', 'jti'],
      });
      signer = key.kid;
      break;
    } catch {
      // Try the next key; if none verifies, the assertion is refused below.
    }
  }
  if (!verified || !signer)
    return refuse('the assertion is not signed by an active key of the agent, or its claims are wrong');
  const { exp, jti } = verified.payload as { exp: number; jti: unknown };
  const nowSeconds = options.now.getTime() / 1000;
  if (exp > nowSeconds + MAX_ASSERTION_LIFETIME_SECONDS)
    return refuse(`the assertion may be valid for at most ${MAX_ASSERTION_LIFETIME_SECONDS} s`);
  if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256) return refuse('bad jti');
  if (options.replay.seen(`${agentId}:${jti}`, (exp + 30) * 1000, options.now.getTime()))
    return refuse('the assertion was used before');
  if (effectiveAgentStatus(agent, options.now) !== 'active') return refuse('the agent is not active');
  return { orgId, agent, kid: signer };
}
