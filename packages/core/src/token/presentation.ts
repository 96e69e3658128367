import { type DpopOptions, verifyDpopProof } from './dpop.js';
import { TokenError } from './errors.js';
import type { VerifiedTokenCache } from './token-cache.js';
import {
  type AccessTokenOptions,
  type VerifiedAccessToken,
  verifyAccessToken,
} from './verify-access-token.js';

export interface PresentationOptions extends AccessTokenOptions {
  /** The `DPoP` header, if the request carried one. */
  dpopProof?: string;
  method: string;
  /** The absolute URL of the request. */
  url: string;
  replay: DpopOptions['replay'];
  cache?: VerifiedTokenCache;
}

/**
 * What an enforcement point runs for each request: the access token, and — when the token is
 * bound to a key (`cnf.jkt`) — a DPoP proof for this exact request, signed by that key and
 * carrying the token's hash. A key-bound token without a proof is refused (`pop_invalid`).
 */
export async function verifyPresentation(
  token: string,
  options: PresentationOptions,
): Promise<VerifiedAccessToken> {
  const verified = options.cache
    ? await options.cache.verify(token, options)
    : await verifyAccessToken(token, options);
  const jkt = verified.claims.cnf?.jkt;
  if (jkt === undefined) return verified;
  if (!options.dpopProof)
    throw new TokenError('pop_invalid', 'the token is key-bound: a DPoP proof is required');
  await verifyDpopProof(options.dpopProof, {
    method: options.method,
    url: options.url,
    accessToken: token,
    expectedJkt: jkt,
    replay: options.replay,
    now: options.now,
  });
  return verified;
}
