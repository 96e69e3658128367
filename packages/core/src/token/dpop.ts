import { sha256 } from '@noble/hashes/sha2.js';
import {
  base64url,
  calculateJwkThumbprint,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  jwtVerify,
} from 'jose';
import { utf8 } from '../bytes.js';
import { TokenError } from './errors.js';

/** Remembers proof ids until they expire, so a proof is accepted at most once. */
export interface ReplayCache {
  /**
   * True if `jti` was seen before, or cannot be remembered (then the proof is refused); else
   * records it until `expiresAt`. Times are ms since epoch, on the caller's clock.
   */
  seen(jti: string, expiresAt: number, now: number): boolean;
}

/**
 * An in-memory replay cache, bounded in size. When full of live entries it fails closed
 * (answers "seen") rather than forgetting a live jti, which would let that proof be replayed.
 */
export class MemoryReplayCache implements ReplayCache {
  private readonly entries = new Map<string, number>();
  constructor(private readonly maxEntries = 100_000) {}

  seen(jti: string, expiresAt: number, now: number): boolean {
    // Times that are not numbers cannot be reasoned about: refuse (fail closed).
    if (!Number.isFinite(expiresAt) || !Number.isFinite(now)) return true;
    const known = this.entries.get(jti);
    if (known !== undefined && known > now) return true;
    if (this.entries.size >= this.maxEntries) {
      for (const [key, expiry] of this.entries) if (expiry <= now) this.entries.delete(key);
      if (this.entries.size >= this.maxEntries) return true;
    }
    this.entries.set(jti, expiresAt);
    return false;
  }
}

export interface DpopOptions {
  /** The HTTP method and URL of the request the proof comes with. */
  method: string;
  url: string;
  /** The access token presented with it: the proof must carry its hash (`ath`). */
  accessToken?: string;
  /** The token's `cnf.jkt`: the proof must be signed by exactly that key. */
  expectedJkt?: string;
  replay: ReplayCache;
  now?: Date;
  /** How far `iat` may be from now, in seconds (default 60). */
  maxAgeSeconds?: number;
}

const ALGORITHMS = ['EdDSA', 'ES256'];

/** `htu` compares without query and fragment (RFC 9449 section 4.3); an unparseable URL is no URL. */
function normaliseUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host.toLowerCase()}${parsed.pathname}`;
  } catch {
    return undefined;
  }
}

/**
 * Verifies a DPoP proof (RFC 9449): `typ: dpop+jwt`, an asymmetric algorithm, a public `jwk`
 * in the header that signed it, `htm`/`htu` of this request, `iat` within the window, a `jti`
 * never seen before, `ath` of the presented token, and the key the token is bound to.
 * Returns the proof key's thumbprint.
 */
export async function verifyDpopProof(proof: string, options: DpopOptions): Promise<string> {
  const refuse = (why: string): never => {
    throw new TokenError('pop_invalid', `DPoP proof refused: ${why}`);
  };
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    return refuse('not a JWS');
  }
  if (header.typ !== 'dpop+jwt') refuse('typ is not dpop+jwt');
  if (!header.alg || !ALGORITHMS.includes(header.alg)) refuse('algorithm not allowed');
  const jwk = header.jwk as JWK | undefined;
  if (!jwk || typeof jwk !== 'object') return refuse('no jwk in the header');
  if ('d' in jwk || 'k' in jwk || 'p' in jwk) refuse('the header carries a private key');
  let payload: Record<string, unknown>;
  try {
    const key = await importJWK(jwk, header.alg);
    ({ payload } = await jwtVerify(proof, key, {
      algorithms: ALGORITHMS,
      typ: 'dpop+jwt',
      currentDate: options.now,
    }));
  } catch {
    return refuse('bad signature or key');
  }
  if (typeof payload.htm !== 'string' || payload.htm !== options.method.toUpperCase())
    refuse('htm does not match');
  const expectedUrl = normaliseUrl(options.url);
  if (expectedUrl === undefined) refuse('htu cannot be checked: the request URL is not absolute');
  if (typeof payload.htu !== 'string' || normaliseUrl(payload.htu) !== expectedUrl)
    refuse('htu does not match');
  const now = (options.now ?? new Date()).getTime() / 1000;
  // A window that is not a finite number would let any iat through: clamp it to 1–300 s.
  const requested = options.maxAgeSeconds ?? 60;
  const window = Number.isFinite(requested) ? Math.min(Math.max(requested, 1), 300) : 60;
  if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > window)
    refuse('iat outside the window');
  if (typeof payload.jti !== 'string' || payload.jti.length < 8 || payload.jti.length > 256)
    refuse('bad jti');
  if (options.accessToken !== undefined) {
    const ath = base64url.encode(sha256(utf8(options.accessToken)));
    if (payload.ath !== ath) refuse('ath does not match the access token');
  }
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  if (options.expectedJkt !== undefined && jkt !== options.expectedJkt)
    refuse('signed by another key than the token is bound to');
  // Last, so a refused proof does not burn its jti.
  const nowMs = (options.now ?? new Date()).getTime();
  if (
    options.replay.seen(
      `${jkt}:${payload.jti as string}`,
      ((payload.iat as number) + window) * 1000 + 1000,
      nowMs,
    )
  ) {
    refuse('replayed');
  }
  return jkt;
}
