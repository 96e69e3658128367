import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPrivateKey } from '@mandate/sdk';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { afterAll, expect, it } from 'vitest';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-sdk-key-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it.each(['EdDSA', 'ES256'] as const)(
  'reads a %s key as JWK, PEM text, a PEM file and a JWK file',
  async (alg) => {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = await exportJWK(privateKey);
    const pem = await exportPKCS8(privateKey);
    const pemFile = path.join(dir, `${alg}.pem`);
    const jwkFile = path.join(dir, `${alg}.json`);
    fs.writeFileSync(pemFile, pem);
    fs.writeFileSync(jwkFile, JSON.stringify(jwk));
    for (const input of [jwk, pem, pemFile, jwkFile]) {
      const loaded = await loadPrivateKey(input);
      expect(loaded.d).toBe(jwk.d);
      expect(loaded.x).toBe(jwk.x);
    }
  },
);

it('refuses what is not a usable private key, naming the file and never echoing key material', async () => {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  const publicPem = await exportSPKI(publicKey);
  const publicJwk = await exportJWK(publicKey);
  const rsa = await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey);
  const garbled = path.join(dir, 'garbled.key');
  fs.writeFileSync(garbled, 'this is not a key');
  await expect(loadPrivateKey(publicPem)).rejects.toThrow(/not a private key/);
  await expect(loadPrivateKey(publicJwk)).rejects.toThrow(/must be a private Ed25519/);
  await expect(loadPrivateKey(rsa)).rejects.toThrow(/must be a private Ed25519/);
  await expect(loadPrivateKey(garbled)).rejects.toThrow(
    `the agent key file ${garbled} is neither PEM nor JSON`,
  );
  await expect(loadPrivateKey(path.join(dir, 'missing.pem'))).rejects.toThrow(/ENOENT/);
  const error = await loadPrivateKey({ ...(await exportJWK(privateKey)), crv: 'X25519' }).catch((e) => e);
  expect(String(error.message)).not.toContain((await exportJWK(privateKey)).d);
});
