import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentCredentials } from '@mandate/sdk';
import { decodeJwt, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { ISSUER, startTestApp, type TestApp } from '../harness.js';

export const IDP = 'https://idp.oauth.test';
const IDP_AUDIENCE = 'mandate';
const IDP_KID = 'idp-1';
export const HOUR = 3_600_000;

/** A test app that trusts a test OIDC issuer; `idToken(sub)` signs in a user as it would. */
export async function startOAuthApp(): Promise<{
  t: TestApp;
  idToken: (subject: string, claims?: Record<string, unknown>) => Promise<string>;
  close: () => Promise<void>;
}> {
  const idp = await generateKeyPair('RS256', { extractable: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-oauth-idp-'));
  const jwksFile = path.join(tmp, 'jwks.json');
  fs.writeFileSync(
    jwksFile,
    JSON.stringify({
      keys: [{ ...(await exportJWK(idp.publicKey)), kid: IDP_KID, alg: 'RS256', use: 'sig' }],
    }),
  );
  const t = await startTestApp({
    oidc: [
      { issuer: IDP, audience: IDP_AUDIENCE, jwksFile, roleMap: { admins: 'admin' }, rolesClaim: 'groups' },
    ],
  });
  const idToken = (subject: string, claims: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ name: subject, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: IDP_KID, typ: 'JWT' })
      .setIssuer(IDP)
      .setAudience(IDP_AUDIENCE)
      .setSubject(subject)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(idp.privateKey);
  };
  return {
    t,
    idToken,
    close: async () => {
      await t.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export interface TestAgent {
  id: string;
  privateJwk: JWK;
  publicJwk: JWK;
  creds: AgentCredentials;
}

/** Registers and activates an agent owned by `ownerId`, with a fresh Ed25519 key it holds. */
export async function activeAgent(
  t: TestApp,
  ownerId: string,
  name: string,
  boundaries: Record<string, unknown> = {
    actions: ['email.*'],
    resources: ['mailbox:alice/*'],
    maxDataClass: 'confidential',
    maxDelegationDepth: 2,
  },
  extra: Record<string, unknown> = {},
): Promise<TestAgent> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = await exportJWK(publicKey);
  const created = await t.call('POST', '/v1/agents', {
    key: t.adminKey,
    body: { name, ownerId, boundaries, keys: [publicJwk], ...extra },
  });
  if (created.status !== 201) throw new Error(`register ${name}: ${created.text}`);
  const activated = await t.call('POST', `/v1/agents/${created.body.id}/activate`, {
    key: t.adminKey,
    body: {},
  });
  if (activated.status !== 200) throw new Error(`activate ${name}: ${activated.text}`);
  return {
    id: created.body.id,
    privateJwk,
    publicJwk,
    creds: new AgentCredentials({ url: ISSUER, agentId: created.body.id, privateJwk, fetch: t.fetch }),
  };
}

/** An API key with the `pep` role, for introspection. */
export async function pepKey(t: TestApp): Promise<string> {
  const created = await t.call('POST', '/v1/api-keys', {
    key: t.adminKey,
    body: { name: 'pep', roles: ['pep'] },
  });
  if (created.status !== 201) throw new Error(`pep key: ${created.text}`);
  return created.body.secret;
}

/** RFC 7662 introspection through HTTP. */
export async function introspect(t: TestApp, key: string, token: string) {
  const response = await t.app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ token }).toString(),
  });
  return { status: response.statusCode, body: JSON.parse(response.body) };
}

export const claimsOf = (token: string) => decodeJwt(token) as Record<string, any>;
