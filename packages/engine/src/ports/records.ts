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

/** One published version of an org's Cedar policy set. Versions are immutable once written. */
export interface PolicyVersion {
  orgId: string;
  /** 1, 2, 3, … per org (0 is the built-in baseline, never stored). */
  version: number;
  /** SHA-256 (hex) of the policy text: what decision records cite. */
  hash: string;
  policies: string;
  /** Cedar schema text the org declared with this version (its own entity types and actions). */
  schema?: string;
  createdAt: string;
  createdBy: import('@mandate/core').Actor;
  /** Shown when listing; why this version was published. */
  note?: string;
}

/** An entity the org keeps for policy evaluation (Cedar's JSON entity format). */
export interface StoredEntity {
  uid: { type: string; id: string };
  attrs: Record<string, unknown>;
  parents: Array<{ type: string; id: string }>;
  updatedAt: string;
}
