import type { Scope } from '../scope/scope.js';

/** RFC 8693 actor claim: the newest actor outermost, earlier actors nested inside. */
export interface ActorClaim {
  sub: string;
  act?: ActorClaim;
}

/** RFC 9396 authorization detail carrying a Mandate scope. */
export interface MandateAuthorizationDetail {
  type: 'mandate_scope';
  scope: Scope;
}

/** A Mandate access token's claims (RFC 9068 JWT access token, `typ: at+jwt`). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nbf?: number;
  jti: string;
  /** The agent the token was issued to (the presenter). */
  client_id: string;
  org: string;
  /** The delegation the authority comes from. */
  dlg: string;
  act?: ActorClaim;
  authorization_details?: MandateAuthorizationDetail[];
  /** RFC 9449: the thumbprint of the key every use must prove possession of. */
  cnf?: { jkt: string };
}

/** RFC 7662 introspection answer: inactive, or active with the token's claims. */
export type IntrospectionResponse =
  | { active: false }
  | (Omit<AccessTokenClaims, 'nbf'> & { active: true; token_type: 'DPoP' | 'Bearer' });

/** The agents of an `act` chain, newest first (the presenter is first). */
export function actorChain(act: ActorClaim | undefined): string[] {
  const chain: string[] = [];
  for (let node = act, depth = 0; node !== undefined && depth < 32; node = node.act, depth++)
    chain.push(node.sub);
  return chain;
}
