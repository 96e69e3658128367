import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Secrets are 256 random bits, so a single SHA-256 is a sound way to store them: there is no
 * low-entropy password to brute-force, and verification stays fast on every request.
 */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(presented), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

const API_KEY = /^mk_(key_[0-9A-Z]{26})_([A-Za-z0-9_-]{43})$/;
const PLATFORM_KEY = /^mpk_(pk_[0-9A-Z]{26})_([A-Za-z0-9_-]{43})$/;

export const formatApiKey = (keyId: string, secret: string) => `mk_${keyId}_${secret}`;
export const formatPlatformKey = (keyId: string, secret: string) => `mpk_${keyId}_${secret}`;

export function parseApiKey(token: string): { keyId: string; secret: string } | undefined {
  const match = API_KEY.exec(token);
  return match ? { keyId: match[1] as string, secret: match[2] as string } : undefined;
}

export function parsePlatformKey(token: string): { keyId: string; secret: string } | undefined {
  const match = PLATFORM_KEY.exec(token);
  return match ? { keyId: match[1] as string, secret: match[2] as string } : undefined;
}
