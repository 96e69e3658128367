import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
const CLI = path.join(ROOT, 'packages/server/dist/cli/main.js');

function mandate(...args: string[]) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('MANDATE_')),
  );
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, timeout: 15_000 });
}

describe('mandate token decode', { timeout: 60_000 }, () => {
  let token: string;
  let jwksFile: string;

  beforeAll(async () => {
    execFileSync('npx', ['tsc', '-b'], { cwd: ROOT, stdio: 'ignore' });
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-token-'));
    jwksFile = path.join(dir, 'jwks.json');
    fs.writeFileSync(
      jwksFile,
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' }] }),
    );
    token = await new SignJWT({
      client_id: 'agt_b',
      org: 'org_1',
      dlg: 'dlg_1',
      act: { sub: 'agt_b', act: { sub: 'agt_a' } },
      authorization_details: [
        { type: 'mandate_scope', scope: { actions: ['email.read'], resources: ['mailbox:alice/*'] } },
      ],
    })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'k1' })
      .setIssuer('https://mandate.test')
      .setAudience('https://api.test')
      .setSubject('usr_alice')
      .setJti('jti-1')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
  });

  it('shows the chain readably, marked unverified without a JWKS', () => {
    const out = mandate('token', 'decode', token);
    expect(out.status).toBe(0);
    expect(out.stdout).toContain('NOT verified');
    expect(out.stdout).toMatch(/chain\s+agt_a → agt_b/);
    expect(out.stdout).toMatch(/acts for\s+usr_alice/);
    expect(out.stdout).toContain('email.read');
  });

  it('verifies against a JWKS, issuer and audience', () => {
    const out = mandate(
      'token',
      'decode',
      token,
      '--jwks',
      jwksFile,
      '--issuer',
      'https://mandate.test',
      '--audience',
      'https://api.test',
    );
    expect([out.status, out.stderr]).toEqual([0, '']);
    expect(out.stdout).toMatch(/signature\s+verified/);
  });

  it('refuses, in one line, a token for another audience or a non-JWT', () => {
    const wrong = mandate(
      'token',
      'decode',
      token,
      '--jwks',
      jwksFile,
      '--issuer',
      'https://mandate.test',
      '--audience',
      'https://other.test',
    );
    expect(wrong.status).toBe(1);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toContain('token_invalid');
    const garbage = mandate('token', 'decode', 'not-a-token');
    expect([garbage.status, garbage.stderr.trim()]).toEqual([1, 'mandate: not a JWT']);
  });
});
