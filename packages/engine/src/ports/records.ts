/** The stored records are domain types of core; the engine stores them behind its ports. */
export type { Agent, ApiKey, Delegation, Org, PlatformKey, User } from '@mandate/core';

/**
 * A key the token endpoint signs access tokens with: Ed25519, one installation-wide issuer.
 * The private half is stored only sealed under the master key (AES-256-GCM, the kid as
 * associated data), so a copy of the database alone cannot mint tokens.
 */
export interface TokenSigningKeyRecord {
  kid: string;
  publicJwk: { kty: 'OKP'; crv: 'Ed25519'; x: string };
  /** base64url of nonce ‖ ciphertext ‖ tag. */
  sealedPrivateKey: string;
  status: 'active' | 'retired';
  createdAt: string;
  retiredAt?: string;
  /** A retired key stays in the JWKS until then: past the expiry of the last token it signed. */
  publishUntil?: string;
}

/** An access token revoked before its expiry (RFC 7009); kept until it would have expired. */
export interface RevokedToken {
  jti: string;
  expiresAt: string;
  revokedAt: string;
}
