import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { base64url } from 'jose';
import { ensureDir } from '../util/ensure-dir.js';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The key that seals secrets Mandate must keep at rest (token signing keys): AES-256-GCM,
 * with the sealed item's id as associated data so a sealed value cannot be moved to another
 * item. From `MANDATE_MASTER_KEY` or a generated key file that only its owner may read.
 */
export class MasterKey {
  private constructor(private readonly key: Buffer) {}

  /** A master key given as configuration: 32 bytes, base64url (43 characters) or hex (64). */
  static fromText(text: string, source = 'MANDATE_MASTER_KEY'): MasterKey {
    const value = text.trim();
    let bytes: Buffer | undefined;
    if (/^[0-9a-fA-F]{64}$/.test(value)) bytes = Buffer.from(value, 'hex');
    else if (/^[A-Za-z0-9_-]{43}$/.test(value)) bytes = Buffer.from(base64url.decode(value));
    if (bytes?.length !== 32) {
      throw new Error(`${source}: expected 32 random bytes as base64url (43 characters) or hex (64)`);
    }
    return new MasterKey(bytes);
  }

  /**
   * Loads the key file, creating it (mode 0600) on first use. A file that others can read is
   * refused, as ssh refuses such a private key: a master key anyone can read protects nothing.
   */
  static loadOrCreate(file: string): MasterKey {
    if (fs.existsSync(file)) {
      const mode = fs.statSync(file).mode & 0o777;
      if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
        throw new Error(
          `${file}: the master key file is readable by others (mode ${mode.toString(8)}); run chmod 600 on it`,
        );
      }
      return MasterKey.fromText(fs.readFileSync(file, 'utf8'), file);
    }
    ensureDir(path.dirname(file));
    const key = randomBytes(32);
    // 'wx': never overwrite a key that appeared meanwhile (it may already seal keys).
    fs.writeFileSync(file, `${base64url.encode(key)}\n`, { mode: 0o600, flag: 'wx' });
    return new MasterKey(key);
  }

  /** A throwaway key (tests, the memory store). */
  static generate(): MasterKey {
    return new MasterKey(randomBytes(32));
  }

  seal(plaintext: Uint8Array, associatedData: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return base64url.encode(Buffer.concat([nonce, body, cipher.getAuthTag()]));
  }

  /** Throws if the value was not sealed by this key for this item (or was altered). */
  open(sealed: string, associatedData: string): Uint8Array {
    const bytes = Buffer.from(base64url.decode(sealed));
    if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new Error('sealed value is too short');
    const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return new Uint8Array(
      Buffer.concat([
        decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]),
    );
  }
}
