import { exportJWK, importPKCS8, type JWK } from 'jose';

/** An agent's private key as the developer has it: a JWK, PEM text (PKCS#8), or the path of a file holding either. */
export type PrivateKeyInput = JWK | string;

/**
 * The private JWK AgentCredentials signs with. PEM is read as PKCS#8 Ed25519, then P-256. A
 * string that is neither PEM nor JSON is a file path, read once (Node only; the rest of the SDK
 * needs no Node API). Errors name the file and never echo key material.
 */
export async function loadPrivateKey(input: PrivateKeyInput): Promise<JWK> {
  if (typeof input !== 'string') return checked(input, 'the privateKey JWK');
  const text = input.trim();
  if (text.startsWith('-----BEGIN')) return fromPem(text, 'the privateKey PEM');
  if (text.startsWith('{')) return fromJson(text, 'the privateKey JSON');
  // Node's fs, imported only here: the SDK compiles without Node's types and runs elsewhere.
  const fsModule = 'node:fs/promises';
  const { readFile } = (await import(fsModule)) as {
    readFile: (path: string, encoding: 'utf8') => Promise<string>;
  };
  let content: string;
  try {
    content = (await readFile(input, 'utf8')).trim();
  } catch (error) {
    throw new TypeError(
      `cannot read the agent key file ${input}: ${(error as { code?: string }).code ?? 'error'}`,
    );
  }
  const where = `the agent key file ${input}`;
  return content.startsWith('-----BEGIN') ? fromPem(content, where) : fromJson(content, where);
}

async function fromPem(pem: string, where: string): Promise<JWK> {
  if (!pem.includes('PRIVATE KEY-----')) throw new TypeError(`${where} is not a private key (PKCS#8 PEM)`);
  for (const alg of ['EdDSA', 'ES256'] as const) {
    try {
      return checked(await exportJWK(await importPKCS8(pem, alg, { extractable: true })), where);
    } catch {
      // try the next algorithm
    }
  }
  throw new TypeError(`${where} is not an Ed25519 or P-256 PKCS#8 private key`);
}

function fromJson(text: string, where: string): JWK {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TypeError(`${where} is neither PEM nor JSON`);
  }
  return checked(parsed as JWK, where);
}

function checked(jwk: JWK, where: string): JWK {
  const supported = jwk?.kty === 'OKP' ? jwk.crv === 'Ed25519' : jwk?.kty === 'EC' && jwk.crv === 'P-256';
  if (!supported || typeof jwk.d !== 'string')
    throw new TypeError(`${where} must be a private Ed25519 (OKP) or P-256 (EC) key`);
  return jwk;
}
