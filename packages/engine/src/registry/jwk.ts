import type { PublicJwk } from '@mandate/core';
import { calculateJwkThumbprint, importJWK } from 'jose';
import { invalid } from '../errors.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/**
 * Checks that `input` is a public Ed25519 or P-256 JWK that really imports (a point on the
 * curve), and returns it reduced to its public members with its RFC 7638 thumbprint as kid.
 * A private key is refused outright: Mandate must never hold an agent's private key.
 */
export async function acceptPublicJwk(
  input: unknown,
  field: string,
): Promise<{ kid: string; jwk: PublicJwk }> {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw invalid(field, 'must be a JWK object');
  const raw = input as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((member) => member in raw)) {
    throw invalid(field, 'is a private key; register the public key only');
  }
  let jwk: PublicJwk;
  if (raw.kty === 'OKP' && raw.crv === 'Ed25519' && typeof raw.x === 'string') {
    jwk = { kty: 'OKP', crv: 'Ed25519', x: raw.x };
  } else if (
    raw.kty === 'EC' &&
    raw.crv === 'P-256' &&
    typeof raw.x === 'string' &&
    typeof raw.y === 'string'
  ) {
    jwk = { kty: 'EC', crv: 'P-256', x: raw.x, y: raw.y };
  } else {
    throw invalid(field, 'must be an Ed25519 (kty OKP) or P-256 (kty EC) public key');
  }
  if (raw.use !== undefined && raw.use !== 'sig') throw invalid(field, 'use must be "sig"');
  try {
    await importJWK(jwk, jwk.kty === 'OKP' ? 'EdDSA' : 'ES256');
  } catch {
    throw invalid(field, 'is not a valid key for its curve');
  }
  return { kid: await calculateJwkThumbprint(jwk, 'sha256'), jwk };
}
