import { sha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from '../bytes.js';
import type { AccessTokenOptions, VerifiedAccessToken } from './verify-access-token.js';
import { verifyAccessToken } from './verify-access-token.js';

/**
 * Verified tokens, remembered until their `exp` (never longer), so repeat checks by an
 * enforcement point cost a hash and a map lookup instead of a signature verification.
 * Keyed by the token's SHA-256, so the cache holds no bearer secret.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, VerifiedAccessToken>();

  constructor(private readonly maxEntries = 10_000) {}

  /** Forgets every entry (for example when a signing key must no longer be trusted). */
  clear(): void {
    this.entries.clear();
  }

  async verify(token: string, options: AccessTokenOptions): Promise<VerifiedAccessToken> {
    const key = toHex(sha256(utf8(token)));
    const now = (options.now ?? new Date()).getTime() / 1000;
    const hit = this.entries.get(key);
    if (
      hit &&
      hit.claims.exp > now &&
      hit.claims.iss === options.issuer &&
      (options.acceptAnyAudience === true || audienceOf(hit, options.audience))
    ) {
      return hit;
    }
    if (hit) this.entries.delete(key);
    const verified = await verifyAccessToken(token, options);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, verified);
    return verified;
  }
}

function audienceOf(verified: VerifiedAccessToken, audience: string | undefined): boolean {
  if (audience === undefined) return false;
  const aud = verified.claims.aud;
  return Array.isArray(aud) ? aud.includes(audience) : aud === audience;
}
