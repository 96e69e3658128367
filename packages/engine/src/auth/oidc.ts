import fs from 'node:fs';
import { isRole, type Role } from '@mandate/core';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';

/** A trusted OpenID Connect issuer whose ID tokens authenticate users of one org. */
export interface OidcIssuerConfig {
  issuer: string;
  audience: string | string[];
  /** One of the two: where the issuer publishes its keys, or a local copy of them. */
  jwksUri?: string;
  jwksFile?: string;
  /** The org its users belong to (default: the default org). */
  orgId?: string;
  /** The claim holding the user's groups or roles (default `roles`). */
  rolesClaim?: string;
  /** Claim value → Mandate role. Without a roleMap, claims grant no role (stored user roles still apply). */
  roleMap?: Record<string, Role>;
}

export interface VerifiedIdToken {
  issuer: string;
  subject: string;
  roles: Role[];
  name?: string;
  email?: string;
}

const ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** Verifies ID tokens of configured issuers with jose; anything else is not a user of ours. */
export class OidcVerifier {
  private readonly keys = new Map<string, JWTVerifyGetKey>();

  constructor(private readonly issuers: readonly OidcIssuerConfig[]) {
    for (const config of issuers) {
      if (config.jwksFile) {
        const jwks = JSON.parse(fs.readFileSync(config.jwksFile, 'utf8'));
        this.keys.set(config.issuer, createLocalJWKSet(jwks));
      } else if (config.jwksUri) {
        this.keys.set(config.issuer, createRemoteJWKSet(new URL(config.jwksUri)));
      }
    }
  }

  /** The issuer config for a token's `iss`, read without trusting it (verification follows). */
  configFor(token: string): OidcIssuerConfig | undefined {
    const iss = unverifiedIssuer(token);
    return this.issuers.find((config) => config.issuer === iss);
  }

  /** Returns the verified identity, or undefined for any failure (the caller answers 401). */
  async verify(token: string, config: OidcIssuerConfig): Promise<VerifiedIdToken | undefined> {
    const keys = this.keys.get(config.issuer);
    if (!keys) return undefined;
    let payload: JWTPayload;
    let typ: string | undefined;
    try {
      ({
        payload,
        protectedHeader: { typ },
      } = await jwtVerify(token, keys, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['sub', 'exp', 'iat'],
        clockTolerance: 30,
      }));
    } catch {
      return undefined;
    }
    // An ID token is typed JWT or untyped; an access token of the same issuer (at+jwt) is not one.
    if (typ !== undefined && typ.toLowerCase() !== 'jwt') return undefined;
    // jose checks that `sub` is present, not that it is a string: an array or object here
    // would otherwise reach the user lookup (an array binds as several SQL parameters).
    const subject = payload.sub as unknown;
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 255) return undefined;
    return {
      issuer: config.issuer,
      subject,
      roles: mapRoles(payload[config.rolesClaim ?? 'roles'], config.roleMap),
      name: typeof payload.name === 'string' ? payload.name : undefined,
      email: typeof payload.email === 'string' ? payload.email : undefined,
    };
  }
}

/** Claim values grant roles only through an explicit roleMap: an IdP group that happens to be named `admin` grants nothing. */
function mapRoles(claim: unknown, roleMap: Record<string, Role> | undefined): Role[] {
  if (!roleMap) return [];
  const values = Array.isArray(claim) ? claim : typeof claim === 'string' ? claim.split(' ') : [];
  const roles = new Set<Role>();
  for (const value of values) {
    if (typeof value !== 'string') continue;
    const mapped = Object.hasOwn(roleMap, value) ? roleMap[value] : undefined;
    if (mapped && isRole(mapped)) roles.add(mapped);
  }
  return [...roles];
}

function unverifiedIssuer(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const iss = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}
