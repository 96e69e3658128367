import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { SigningKeyView } from '@mandate/core';
import {
  base64url,
  calculateJwkThumbprint,
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import type { Clock } from '../ports/clock.js';
import type { TokenSigningKeyRecord } from '../ports/records.js';
import type { PlatformStore } from '../ports/store.js';
import type { MasterKey } from './master-key.js';

/** No access token lives longer than this, whatever the configuration says. */
export const MAX_TOKEN_TTL_SECONDS = 3600;
/** Verifiers' clock skew, added to how long a retired key stays published. */
const SKEW_SECONDS = 300;
const PUBLISH_AFTER_RETIREMENT_MS = (MAX_TOKEN_TTL_SECONDS + SKEW_SECONDS) * 1000;

export type { SigningKeyView };

interface Loaded {
  records: TokenSigningKeyRecord[];
  active: { kid: string; privateKey: KeyObject };
}

/**
 * The token endpoint's Ed25519 signing keys. Exactly one is active; rotating retires it and
 * makes a new one. A retired key stays in the JWKS for the longest token lifetime (plus skew)
 * after its retirement, so every token it signed can still be verified until it expires.
 * Private keys are held in memory only as opened from their sealed form.
 */
export class TokenSigningKeys {
  private loaded?: Promise<Loaded>;
  private keySet?: { resolver: JWTVerifyGetKey; madeAt: number };
  private rotating: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: PlatformStore,
    private readonly masterKey: MasterKey,
    private readonly clock: Clock,
  ) {}

  /** Loads the keys (creating the first on first use). Fails if the master key cannot open them. */
  async load(): Promise<void> {
    await this.state();
  }

  async signingKey(): Promise<{ kid: string; privateKey: KeyObject }> {
    return (await this.state()).active;
  }

  /** The keys verifiers need now: the active one and every retired one still published. */
  async jwks(): Promise<JSONWebKeySet> {
    const now = this.clock.now().getTime();
    const { records } = await this.state();
    return {
      keys: records
        .filter((r) => isPublished(r, now))
        .map((r) => ({ ...r.publicJwk, kid: r.kid, alg: 'EdDSA', use: 'sig' })),
    };
  }

  /**
   * A key resolver over the published keys for verifying tokens, remade at least every
   * minute so that a retired key drops out once its publication window has passed.
   */
  async verificationKeys(): Promise<JWTVerifyGetKey> {
    const now = this.clock.now().getTime();
    if (!this.keySet || now - this.keySet.madeAt > 60_000 || now < this.keySet.madeAt) {
      this.keySet = { resolver: createLocalJWKSet(await this.jwks()), madeAt: now };
    }
    return this.keySet.resolver;
  }

  async list(): Promise<SigningKeyView[]> {
    const now = this.clock.now().getTime();
    const { records } = await this.state();
    return records.map((r) => ({
      kid: r.kid,
      status: r.status,
      createdAt: r.createdAt,
      ...(r.retiredAt ? { retiredAt: r.retiredAt } : {}),
      ...(r.publishUntil ? { publishUntil: r.publishUntil } : {}),
      published: isPublished(r, now),
    }));
  }

  /**
   * Retires every active key and makes a new one, in one write. Rotations run one at a time,
   * each on the keys as stored now (not as cached), so two rotations, here or in another
   * instance, never leave two active keys. Returns the new kid.
   */
  rotate(options: { compromised?: boolean } = {}): Promise<{ kid: string; retired: string[] }> {
    const run = this.rotating.then(() => this.rotateNow(options.compromised === true));
    this.rotating = run.catch(() => undefined);
    return run;
  }

  private async rotateNow(compromised: boolean): Promise<{ kid: string; retired: string[] }> {
    const records = await this.store.listTokenSigningKeys();
    const now = this.clock.now();
    // A compromised key is withdrawn at once; a routine rotation keeps it until its tokens expired.
    const publishUntil = compromised ? now : new Date(now.getTime() + PUBLISH_AFTER_RETIREMENT_MS);
    const retiring = records
      .filter((r) => r.status === 'active')
      .map((r) => ({
        ...r,
        status: 'retired' as const,
        retiredAt: now.toISOString(),
        publishUntil: publishUntil.toISOString(),
      }));
    const fresh = await this.newKey(now);
    await this.store.saveTokenSigningKeys([...retiring, fresh]);
    this.reload();
    await this.state();
    return { kid: fresh.kid, retired: retiring.map((r) => r.kid) };
  }

  /** Rereads the keys from the store (another process may have rotated them). */
  reload(): void {
    this.loaded = undefined;
    this.keySet = undefined;
  }

  private state(): Promise<Loaded> {
    if (!this.loaded) {
      const loading = this.read();
      this.loaded = loading;
      // A failed load is not remembered: the next call tries again.
      loading.catch(() => {
        if (this.loaded === loading) this.loaded = undefined;
      });
    }
    return this.loaded;
  }

  private async read(): Promise<Loaded> {
    let records = await this.store.listTokenSigningKeys();
    if (!records.some((r) => r.status === 'active')) {
      await this.store.saveTokenSigningKeys([await this.newKey(this.clock.now())]);
      records = await this.store.listTokenSigningKeys();
    }
    const actives = records.filter((r) => r.status === 'active');
    // Two actives can only come from concurrent first starts: sign with the newest.
    const active = actives.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0] as TokenSigningKeyRecord;
    // Every key that would be published must be one the master key sealed, for exactly its
    // public key and kid: a record planted in the database alone is refused, not published.
    const now = this.clock.now().getTime();
    for (const record of records) if (isPublished(record, now)) await this.checkSealed(record);
    return { records, active: { kid: active.kid, privateKey: this.open(active) } };
  }

  private open(record: TokenSigningKeyRecord): KeyObject {
    let seed: Uint8Array;
    try {
      seed = this.masterKey.open(record.sealedPrivateKey, record.kid);
    } catch {
      throw new Error(
        `token signing key ${record.kid} cannot be opened: the master key is not the one that sealed it`,
      );
    }
    return createPrivateKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: record.publicJwk.x, d: base64url.encode(seed) },
      format: 'jwk',
    });
  }

  private async checkSealed(record: TokenSigningKeyRecord): Promise<void> {
    const derived = createPublicKey(this.open(record)).export({ format: 'jwk' }) as { x?: string };
    const thumbprint = await calculateJwkThumbprint(record.publicJwk, 'sha256');
    if (derived.x !== record.publicJwk.x || thumbprint !== record.kid)
      throw new Error(`token signing key ${record.kid} does not match its sealed private key`);
  }

  private async newKey(now: Date): Promise<TokenSigningKeyRecord> {
    const { privateKey } = generateKeyPairSync('ed25519');
    const jwk = privateKey.export({ format: 'jwk' }) as { x: string; d: string };
    const publicJwk = { kty: 'OKP' as const, crv: 'Ed25519' as const, x: jwk.x };
    // The kid is the key's RFC 7638 thumbprint: stable, and it names exactly this key.
    const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
    return {
      kid,
      publicJwk,
      sealedPrivateKey: this.masterKey.seal(base64url.decode(jwk.d), kid),
      status: 'active',
      createdAt: now.toISOString(),
    };
  }
}

function isPublished(record: TokenSigningKeyRecord, now: number): boolean {
  if (record.status === 'active') return true;
  // An unreadable date counts as passed; and no retired key stays longer than its tokens can live.
  if (record.publishUntil === undefined || record.retiredAt === undefined) return false;
  const until = Math.min(
    Date.parse(record.publishUntil),
    Date.parse(record.retiredAt) + PUBLISH_AFTER_RETIREMENT_MS,
  );
  return until > now;
}
