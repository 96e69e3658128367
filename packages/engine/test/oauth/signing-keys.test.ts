/**
 * The master key (AES-256-GCM sealing, its text forms, its key file) and the token signing
 * keys sealed under it, over both stores: created on first load, never stored in clear,
 * verifiable through the JWKS, rotated with the retired key published only while its tokens
 * can still be alive, and unusable under another master key.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type Clock,
  MasterKey,
  MemoryStore,
  SqliteStore,
  type Store,
  type TokenSigningKeyRecord,
  TokenSigningKeys,
} from '@mandate/engine';
import { base64url, calculateJwkThumbprint, createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const T0 = '2030-01-01T00:00:00.000Z';
/** MAX_TOKEN_TTL_SECONDS (3600) plus the verifiers' skew (300), in ms. */
const PUBLISH_WINDOW_MS = (3600 + 300) * 1000;

class MovableClock implements Clock {
  private current: number;
  constructor(iso = T0) {
    this.current = Date.parse(iso);
  }
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

const tmpDirs: string[] = [];
function tmpDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tmpDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('MasterKey', () => {
  it('opens what it sealed, with the same associated data', () => {
    const key = MasterKey.generate();
    const plaintext = randomBytes(32);
    const sealed = key.seal(plaintext, 'kid-1');
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(key.open(sealed, 'kid-1'))).toEqual(plaintext);
    // A fresh nonce each time: sealing twice gives two different values that both open.
    const again = key.seal(plaintext, 'kid-1');
    expect(again).not.toBe(sealed);
    expect(Buffer.from(key.open(again, 'kid-1'))).toEqual(plaintext);
    // The plaintext does not appear in the sealed value.
    expect(Buffer.from(base64url.decode(sealed)).includes(plaintext)).toBe(false);
  });

  it('seals and opens an empty plaintext', () => {
    const key = MasterKey.generate();
    expect(key.open(key.seal(new Uint8Array(0), 'x'), 'x')).toHaveLength(0);
  });

  it('refuses another associated data (a sealed value moved to another item)', () => {
    const key = MasterKey.generate();
    const sealed = key.seal(utf8('secret'), 'kid-1');
    expect(() => key.open(sealed, 'kid-2')).toThrow();
    expect(() => key.open(sealed, '')).toThrow();
  });

  it('refuses a value sealed by another key', () => {
    const sealed = MasterKey.generate().seal(utf8('secret'), 'kid-1');
    expect(() => MasterKey.generate().open(sealed, 'kid-1')).toThrow();
  });

  it('refuses a value with any byte flipped (nonce, ciphertext or tag)', () => {
    const key = MasterKey.generate();
    const sealed = key.seal(utf8('a secret of some length'), 'kid-1');
    const bytes = Buffer.from(base64url.decode(sealed));
    for (let i = 0; i < bytes.length; i++) {
      const altered = Buffer.from(bytes);
      altered[i] = (altered[i] as number) ^ 0x01;
      expect(() => key.open(base64url.encode(altered), 'kid-1'), `byte ${i}`).toThrow();
    }
  });

  it('refuses a truncated or too short value', () => {
    const key = MasterKey.generate();
    const bytes = Buffer.from(base64url.decode(key.seal(utf8('secret'), 'kid-1')));
    expect(() => key.open(base64url.encode(bytes.subarray(0, bytes.length - 1)), 'kid-1')).toThrow();
    expect(() => key.open(base64url.encode(bytes.subarray(0, 27)), 'kid-1')).toThrow(/too short/);
    expect(() => key.open('', 'kid-1')).toThrow();
  });

  it('fromText accepts 32 bytes as base64url (43 characters) or hex (64), both the same key', () => {
    const raw = randomBytes(32);
    const fromB64 = MasterKey.fromText(raw.toString('base64url'));
    const fromHex = MasterKey.fromText(raw.toString('hex'));
    const fromUpperHex = MasterKey.fromText(raw.toString('hex').toUpperCase());
    const fromPadded = MasterKey.fromText(`  ${raw.toString('base64url')}\n`);
    const sealed = fromB64.seal(utf8('secret'), 'item');
    for (const key of [fromHex, fromUpperHex, fromPadded]) {
      expect(Buffer.from(key.open(sealed, 'item')).toString()).toBe('secret');
    }
  });

  it.each([
    ['empty', ''],
    ['31 bytes of hex', randomBytes(31).toString('hex')],
    ['33 bytes of hex', randomBytes(33).toString('hex')],
    ['31 bytes of base64url', randomBytes(31).toString('base64url')],
    ['33 bytes of base64url', randomBytes(33).toString('base64url')],
    ['padded base64', `${randomBytes(32).toString('base64url')}=`],
    ['standard base64 with + and /', `+/${randomBytes(32).toString('base64url').slice(2)}`],
    ['hex with a non-hex letter', `g${randomBytes(32).toString('hex').slice(1)}`],
    ['a passphrase', 'correct horse battery staple, long enough?'],
  ])('fromText refuses %s', (_name, text) => {
    expect(() => MasterKey.fromText(text)).toThrow(/MANDATE_MASTER_KEY: expected 32 random bytes/);
  });

  it('fromText names the source it was given', () => {
    expect(() => MasterKey.fromText('nope', '/etc/mandate/master-key')).toThrow(
      /^\/etc\/mandate\/master-key:/,
    );
  });

  it.skipIf(process.platform === 'win32')(
    'loadOrCreate creates a 0600 file (and its folder), then reloads the same key',
    () => {
      const file = path.join(tmpDir('mandate-master-key-'), 'nested', 'master-key');
      const created = MasterKey.loadOrCreate(file);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const text = fs.readFileSync(file, 'utf8');
      expect(text).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
      const sealed = created.seal(utf8('secret'), 'item');
      const reloaded = MasterKey.loadOrCreate(file);
      expect(Buffer.from(reloaded.open(sealed, 'item')).toString()).toBe('secret');
      expect(fs.readFileSync(file, 'utf8')).toBe(text);
      // The file holds the key fromText reads.
      expect(Buffer.from(MasterKey.fromText(text).open(sealed, 'item')).toString()).toBe('secret');
    },
  );

  it.skipIf(process.platform === 'win32')(
    'loadOrCreate refuses a key file that group or others can read (0644, 0640, 0604), leaving it alone',
    () => {
      const dir = tmpDir('mandate-master-key-');
      const file = path.join(dir, 'master-key');
      MasterKey.loadOrCreate(file);
      const text = fs.readFileSync(file, 'utf8');
      for (const mode of [0o644, 0o640, 0o604]) {
        fs.chmodSync(file, mode);
        expect(() => MasterKey.loadOrCreate(file)).toThrow(/readable by others.*chmod 600/);
        expect(fs.readFileSync(file, 'utf8')).toBe(text);
      }
      fs.chmodSync(file, 0o400);
      expect(() => MasterKey.loadOrCreate(file)).not.toThrow();
    },
  );

  it.skipIf(process.platform === 'win32')('loadOrCreate refuses a key file that holds no valid key', () => {
    const file = path.join(tmpDir('mandate-master-key-'), 'master-key');
    fs.writeFileSync(file, 'not a key\n', { mode: 0o600 });
    expect(() => MasterKey.loadOrCreate(file)).toThrow(new RegExp(`^${file}: expected 32 random bytes`));
  });
});

interface StoreCase {
  name: string;
  open(dir: string, clock: Clock): Store;
}

const stores: StoreCase[] = [
  { name: 'MemoryStore', open: () => new MemoryStore() },
  {
    name: 'SqliteStore',
    open: (dir, clock) => new SqliteStore({ file: path.join(dir, 'mandate.db'), clock }),
  },
];

describe.each(stores)('TokenSigningKeys over $name', ({ name, open }) => {
  let dir: string;
  let clock: MovableClock;
  let store: Store;
  let masterKey: MasterKey;
  let keys: TokenSigningKeys;

  beforeEach(() => {
    dir = tmpDir('mandate-signing-keys-');
    clock = new MovableClock();
    store = open(dir, clock);
    masterKey = MasterKey.generate();
    keys = new TokenSigningKeys(store.platform, masterKey, clock);
  });
  afterEach(async () => {
    await store.close();
  });

  /** The private key's `d` (base64url of the Ed25519 seed), read back through the master key. */
  function seedOf(record: TokenSigningKeyRecord): Uint8Array {
    return masterKey.open(record.sealedPrivateKey, record.kid);
  }

  async function sign(claims: Record<string, unknown> = { sub: 'x' }): Promise<string> {
    const { kid, privateKey } = await keys.signingKey();
    return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' }).sign(privateKey);
  }

  it('the first load creates exactly one active Ed25519 key, named by its thumbprint', async () => {
    expect(await store.platform.listTokenSigningKeys()).toEqual([]);
    await keys.load();
    await keys.load();
    const records = await store.platform.listTokenSigningKeys();
    expect(records).toHaveLength(1);
    const [record] = records as [TokenSigningKeyRecord];
    expect(record).toMatchObject({
      status: 'active',
      createdAt: T0,
      publicJwk: { kty: 'OKP', crv: 'Ed25519' },
    });
    expect(record.retiredAt).toBeUndefined();
    expect(record.publishUntil).toBeUndefined();
    expect(record.kid).toBe(await calculateJwkThumbprint(record.publicJwk, 'sha256'));
    expect((await keys.signingKey()).kid).toBe(record.kid);
    expect(await keys.list()).toEqual([
      { kid: record.kid, status: 'active', createdAt: T0, published: true },
    ]);

    // A second instance over the same store (a restart) uses that key; it makes no other.
    const again = new TokenSigningKeys(store.platform, masterKey, clock);
    expect((await again.signingKey()).kid).toBe(record.kid);
    expect(await store.platform.listTokenSigningKeys()).toHaveLength(1);
  });

  it('the stored record holds the private key only sealed: its `d` appears nowhere in clear', async () => {
    await keys.load();
    const [record] = (await store.platform.listTokenSigningKeys()) as [TokenSigningKeyRecord];
    const seed = seedOf(record);
    expect(seed).toHaveLength(32);
    const d = base64url.encode(seed);
    // The opened seed is the signing key's: its JWK `d` is exactly this value.
    const { privateKey } = await keys.signingKey();
    expect((privateKey.export({ format: 'jwk' }) as { d: string }).d).toBe(d);

    const json = JSON.stringify(record);
    expect(json).not.toContain(d);
    expect(json).not.toContain(Buffer.from(seed).toString('hex'));
    expect(json).not.toContain(Buffer.from(seed).toString('base64'));
    expect(Object.keys(record.publicJwk).sort()).toEqual(['crv', 'kty', 'x']);

    if (name === 'SqliteStore') {
      // Every file of the database (main file, WAL, shared memory), as raw bytes.
      const files = fs.readdirSync(dir).filter((f) => f.startsWith('mandate.db'));
      expect(files).toContain('mandate.db');
      for (const file of files) {
        const bytes = fs.readFileSync(path.join(dir, file));
        expect(bytes.includes(Buffer.from(d)), `${file} holds d`).toBe(false);
        expect(bytes.includes(Buffer.from(seed)), `${file} holds the raw seed`).toBe(false);
        expect(bytes.includes(Buffer.from(Buffer.from(seed).toString('hex'))), `${file} holds hex`).toBe(
          false,
        );
      }
      // …and the sealed value is what is there.
      const all = Buffer.concat(files.map((f) => fs.readFileSync(path.join(dir, f))));
      expect(all.includes(Buffer.from(record.sealedPrivateKey))).toBe(true);
    }
  });

  it('the JWKS publishes the public key only, and tokens from signingKey() verify against it', async () => {
    const jwks = await keys.jwks();
    expect(jwks.keys).toHaveLength(1);
    const [jwk] = jwks.keys as [Record<string, unknown>];
    const { kid } = await keys.signingKey();
    expect(jwk).toEqual({
      kty: 'OKP',
      crv: 'Ed25519',
      x: expect.any(String),
      kid,
      alg: 'EdDSA',
      use: 'sig',
    });
    expect(jwk.d).toBeUndefined();

    const token = await sign({ sub: 'agent-1' });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks));
    expect(payload.sub).toBe('agent-1');
    expect(protectedHeader.kid).toBe(kid);
    // The engine's own resolver agrees.
    await expect(jwtVerify(token, await keys.verificationKeys())).resolves.toBeDefined();
  });

  it('a token signed by a key that is not in the JWKS does not verify', async () => {
    const other = new TokenSigningKeys(new MemoryStore().platform, MasterKey.generate(), clock);
    const { kid, privateKey } = await other.signingKey();
    const token = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'EdDSA', kid }).sign(privateKey);
    await expect(jwtVerify(token, createLocalJWKSet(await keys.jwks()))).rejects.toThrow();
  });

  it('rotate retires the old key, which stays published until publishUntil and drops out after', async () => {
    const oldKid = (await keys.signingKey()).kid;
    const oldToken = await sign({ sub: 'before' });

    clock.advance(60_000);
    const rotatedAt = clock.now();
    const rotated = await keys.rotate();
    expect(rotated.retired).toEqual([oldKid]);
    expect(rotated.kid).not.toBe(oldKid);
    expect((await keys.signingKey()).kid).toBe(rotated.kid);

    const publishUntil = new Date(rotatedAt.getTime() + PUBLISH_WINDOW_MS).toISOString();
    const records = await store.platform.listTokenSigningKeys();
    expect(records).toHaveLength(2);
    expect(records.find((r) => r.kid === oldKid)).toMatchObject({
      status: 'retired',
      retiredAt: rotatedAt.toISOString(),
      publishUntil,
    });
    expect(records.find((r) => r.kid === rotated.kid)).toMatchObject({
      status: 'active',
      createdAt: rotatedAt.toISOString(),
    });
    expect(records.filter((r) => r.status === 'active')).toHaveLength(1);

    const newToken = await sign({ sub: 'after' });
    const kidsOf = async () => (await keys.jwks()).keys.map((k) => k.kid).sort();
    expect(await kidsOf()).toEqual([oldKid, rotated.kid].sort());
    for (const token of [oldToken, newToken]) {
      await expect(jwtVerify(token, createLocalJWKSet(await keys.jwks()))).resolves.toBeDefined();
      await expect(jwtVerify(token, await keys.verificationKeys())).resolves.toBeDefined();
    }
    expect(await keys.list()).toEqual(
      expect.arrayContaining([
        {
          kid: oldKid,
          status: 'retired',
          createdAt: T0,
          retiredAt: rotatedAt.toISOString(),
          publishUntil,
          published: true,
        },
        { kid: rotated.kid, status: 'active', createdAt: rotatedAt.toISOString(), published: true },
      ]),
    );

    // One millisecond before publishUntil: still published.
    clock.advance(PUBLISH_WINDOW_MS - 1);
    expect(await kidsOf()).toEqual([oldKid, rotated.kid].sort());
    await expect(jwtVerify(oldToken, await keys.verificationKeys())).resolves.toBeDefined();

    // At publishUntil and after: gone from the JWKS, the resolver and list()'s `published`.
    clock.advance(1);
    expect(await kidsOf()).toEqual([rotated.kid]);
    clock.advance(60_001);
    expect(await kidsOf()).toEqual([rotated.kid]);
    await expect(jwtVerify(oldToken, await keys.verificationKeys())).rejects.toThrow();
    await expect(jwtVerify(newToken, await keys.verificationKeys())).resolves.toBeDefined();
    expect((await keys.list()).find((k) => k.kid === oldKid)).toMatchObject({
      status: 'retired',
      published: false,
    });
    // The retired record is kept (with its sealed key) even when no longer published.
    expect(await store.platform.listTokenSigningKeys()).toHaveLength(2);
  });

  it('rotating twice keeps one active key; each retired key has its own window', async () => {
    const first = (await keys.signingKey()).kid;
    const second = (await keys.rotate()).kid;
    clock.advance(1000 * 1000);
    const third = await keys.rotate();
    expect(third.retired).toEqual([second]);
    const records = await store.platform.listTokenSigningKeys();
    expect(records.filter((r) => r.status === 'active').map((r) => r.kid)).toEqual([third.kid]);
    expect(new Set(records.map((r) => r.kid))).toEqual(new Set([first, second, third.kid]));
    // The first key's window (from T0) ends before the second's (from T0 + 1000 s).
    clock.advance(PUBLISH_WINDOW_MS - 1000 * 1000);
    expect((await keys.jwks()).keys.map((k) => k.kid).sort()).toEqual([second, third.kid].sort());
    clock.advance(1000 * 1000);
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual([third.kid]);
  });

  it('a second instance sees the rotation after reload()', async () => {
    const other = new TokenSigningKeys(store.platform, masterKey, clock);
    const before = (await other.signingKey()).kid;
    const { kid } = await keys.rotate();
    expect((await other.signingKey()).kid).toBe(before);
    other.reload();
    expect((await other.signingKey()).kid).toBe(kid);
    expect((await other.jwks()).keys).toHaveLength(2);
  });

  // Rotations are serialised and work from the stored keys (this failed before they were).
  it('two concurrent rotations on one instance leave exactly one active key', async () => {
    const first = (await keys.signingKey()).kid;
    const results = await Promise.all([keys.rotate(), keys.rotate()]);
    const records = await store.platform.listTokenSigningKeys();
    expect(records.find((r) => r.kid === first)?.status).toBe('retired');
    expect(records.filter((r) => r.status === 'active')).toHaveLength(1);
    // Every key the rotations made is either the active one or retired.
    for (const { kid } of results) expect(records.find((r) => r.kid === kid)).toBeDefined();
  });

  // Rotations are serialised and work from the stored keys (this failed before they were).
  it('a rotation by an instance loaded before another rotation still leaves one active key', async () => {
    const a = new TokenSigningKeys(store.platform, masterKey, clock);
    const b = new TokenSigningKeys(store.platform, masterKey, clock);
    await a.load();
    await b.load();
    await a.rotate();
    await b.rotate();
    const records = await store.platform.listTokenSigningKeys();
    expect(records.filter((r) => r.status === 'active')).toHaveLength(1);
  });

  it('load with another master key throws, names the key, and creates nothing', async () => {
    await keys.load();
    const stored = await store.platform.listTokenSigningKeys();
    const wrong = new TokenSigningKeys(store.platform, MasterKey.generate(), clock);
    await expect(wrong.load()).rejects.toThrow(
      new RegExp(`token signing key ${stored[0]?.kid} cannot be opened: the master key is not the one`),
    );
    await expect(wrong.signingKey()).rejects.toThrow(/master key/);
    await expect(wrong.jwks()).rejects.toThrow(/master key/);
    expect(await store.platform.listTokenSigningKeys()).toEqual(stored);
    // The right key still opens them.
    const right = new TokenSigningKeys(store.platform, masterKey, clock);
    expect((await right.signingKey()).kid).toBe(stored[0]?.kid);
  });

  it('a sealed key moved onto another record (another kid) does not open', async () => {
    await keys.load();
    const { kid: oldKid } = await keys.signingKey();
    const { kid: newKid } = await keys.rotate();
    const records = await store.platform.listTokenSigningKeys();
    const old = records.find((r) => r.kid === oldKid) as TokenSigningKeyRecord;
    const active = records.find((r) => r.kid === newKid) as TokenSigningKeyRecord;
    await store.platform.saveTokenSigningKeys([{ ...active, sealedPrivateKey: old.sealedPrivateKey }]);
    const reloaded = new TokenSigningKeys(store.platform, masterKey, clock);
    await expect(reloaded.load()).rejects.toThrow(new RegExp(`${newKid} cannot be opened`));
  });
});
