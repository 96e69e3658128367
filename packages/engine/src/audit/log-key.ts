import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ed25519Signer, formatVerifierKey, fromBase64, type NoteSigner, toBase64 } from '@mandate/core';
import { ensureDir } from '../util/ensure-dir.js';

/**
 * The audit log's Ed25519 signing key: one seed for the installation, kept in its own file
 * (mode 0600) beside the database and apart from any token signing key, so that whoever can
 * write the database still cannot sign a rewritten log. Each org's log signs under its own key
 * name (its origin), which gives each org its own verifier key.
 */
export class LogSigningKey {
  private constructor(private readonly seed: Uint8Array) {}

  /** Loads the key from `file`, creating it on first use. */
  static loadOrCreate(file: string): LogSigningKey {
    if (fs.existsSync(file)) {
      const text = fs.readFileSync(file, 'utf8').trim();
      let seed: Uint8Array;
      try {
        seed = fromBase64(text);
      } catch {
        throw new Error(`${file}: not a log signing key (expected the base64 of 32 bytes)`);
      }
      if (seed.length !== 32) throw new Error(`${file}: not a log signing key (expected 32 bytes)`);
      return new LogSigningKey(seed);
    }
    ensureDir(path.dirname(file));
    const seed = new Uint8Array(randomBytes(32));
    // 'wx': never overwrite a key that appeared meanwhile.
    fs.writeFileSync(file, `${toBase64(seed)}\n`, { mode: 0o600, flag: 'wx' });
    return new LogSigningKey(seed);
  }

  /** A throwaway key (tests, the memory store). */
  static generate(): LogSigningKey {
    return new LogSigningKey(new Uint8Array(randomBytes(32)));
  }

  signer(name: string): NoteSigner & { publicKey: Uint8Array } {
    return ed25519Signer(name, this.seed);
  }

  verifierKey(name: string): string {
    return formatVerifierKey(name, this.signer(name).publicKey);
  }
}
