import {
  type AccessTokenClaims,
  TokenError,
  type VerifiedAccessToken,
  VerifiedTokenCache,
} from '@mandate/core';
import { SignJWT } from 'jose';
import type { Clock } from '../ports/clock.js';
import type { TokenSigningKeys } from './signing-keys.js';

/** Signs the access tokens this server issues and verifies them when they come back. */
export class OwnTokens {
  private readonly cache = new VerifiedTokenCache();

  constructor(
    private readonly keys: TokenSigningKeys,
    private readonly issuer: () => string,
    private readonly clock: Clock,
  ) {}

  async sign(claims: AccessTokenClaims): Promise<string> {
    const { kid, privateKey } = await this.keys.signingKey();
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid })
      .sign(privateKey);
  }

  /**
   * Signature by a published key, `typ`, issuer, expiry and claim shapes (core
   * verifyAccessToken); any audience (introspection, revocation: the issuer answers for every
   * token it minted). Whether the token is still usable is `credentialStatus`.
   */
  async verify(token: string): Promise<VerifiedAccessToken> {
    return this.check(token, true);
  }

  /**
   * For a token used AT Mandate (an agent's call, a subject token): as `verify`, and Mandate
   * must be among its audiences, so that a resource server cannot replay a token it was sent.
   */
  async verifyForUse(token: string): Promise<VerifiedAccessToken> {
    return this.check(token, false);
  }

  /** Forgets every verified token (after an emergency key rotation). */
  forget(): void {
    this.cache.clear();
  }

  private async check(token: string, anyAudience: boolean): Promise<VerifiedAccessToken> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 16_384)
      throw new TokenError('token_invalid', 'no token, or an oversized one');
    return this.cache.verify(token, {
      keys: await this.keys.verificationKeys(),
      issuer: this.issuer(),
      ...(anyAudience ? { acceptAnyAudience: true } : { audience: this.issuer() }),
      now: this.clock.now(),
      clockToleranceSeconds: 30,
    });
  }
}
