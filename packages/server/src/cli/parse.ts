import fs from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { CliError } from './output.js';

/** Commander collector for repeatable options (`--action a --action b`). */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** A repeatable option limited to `choices` (commander's own check is lost with a custom parser). */
export function collectChoice(choices: readonly string[]) {
  return (value: string, previous: string[] = []) => {
    if (!choices.includes(value))
      throw new InvalidArgumentError(`Allowed choices are ${choices.join(', ')}.`);
    return [...previous, value];
  };
}

export function positiveInt(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

/** `key=value` pairs into an object. */
export function keyValues(pairs: string[] | undefined, option: string): Record<string, string> | undefined {
  if (!pairs) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`${option}: expected key=value, got '${pair}'`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

/** Reads a JSON file, or fails with one line naming the file and the problem. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${file}: not JSON`);
  }
}

/**
 * Reads a JWK file and returns only its public members: a private key file may be given for
 * convenience, but the private part never leaves this machine.
 */
export function readPublicJwk(file: string): Record<string, string> {
  const jwk = readJsonFile(file);
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
    throw new CliError(`${file}: not a JWK object`);
  const { kty, crv, x, y } = jwk as Record<string, unknown>;
  if (typeof kty !== 'string' || typeof crv !== 'string' || typeof x !== 'string') {
    throw new CliError(`${file}: a JWK needs kty, crv and x`);
  }
  return typeof y === 'string' ? { kty, crv, x, y } : { kty, crv, x };
}

/** Reads an agent's private key file (as `mandate keygen` writes it). */
export function readPrivateJwk(file: string): Record<string, string> {
  const jwk = readJsonFile(file);
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
    throw new CliError(`${file}: not a JWK object`);
  const { kty, crv, d } = jwk as Record<string, unknown>;
  const supported = (kty === 'OKP' && crv === 'Ed25519') || (kty === 'EC' && crv === 'P-256');
  if (!supported || typeof d !== 'string')
    throw new CliError(`${file}: not a private Ed25519 or P-256 key (mandate keygen makes one)`);
  return jwk as Record<string, string>;
}
