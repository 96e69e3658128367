/// <reference types="node" />
import type { IncomingMessage } from 'node:http';
import { type ReplayCache, TokenError, type VerifiedAccessToken, verifyPresentation } from '@mandate/core';
import type { MandateKeys } from './jwks.js';

/**
 * The agent's credential as it came with one HTTP request, verified at the door: what the
 * gateway hands Mandate as `context.agent_credential` (Mandate verifies it again, with the live
 * chain). The acting agent and user come from here only.
 */
export interface Presentation {
  token: string;
  scheme: 'DPoP' | 'Bearer';
  dpop?: string;
  /** The method and the gateway's own URL the proof was made for. */
  method: string;
  url: string;
  verified: VerifiedAccessToken;
}

export type PresentationResult =
  | { ok: true; presentation: Presentation }
  | { ok: false; error: 'invalid_request' | 'invalid_token' | 'invalid_dpop_proof'; description: string };

export interface DoorCheck {
  keys: MandateKeys;
  issuer: string;
  audiences: string[];
  allowBearer: boolean;
  replay: ReplayCache;
  /** The gateway's resource URL: the `htu` every proof must name. */
  resourceUrl: string;
}

/**
 * Reads `Authorization: DPoP <token>` + `DPoP: <proof>` (or `Bearer <token>` where allowed) and
 * verifies them locally: signature by Mandate's key, issuer, one of the gateway's audiences,
 * expiry, the act chain, and for a key-bound token a fresh proof of THIS request (method and the
 * gateway's public URL) by the bound key. Liveness (revocation, suspension, kill switch) is
 * Mandate's to judge at each decision.
 */
export async function readPresentation(
  request: IncomingMessage,
  door: DoorCheck,
): Promise<PresentationResult> {
  const header = request.headers.authorization ?? '';
  const match = /^(DPoP|Bearer) ([A-Za-z0-9._~+/=-]+)$/i.exec(header);
  if (!match) return { ok: false, error: 'invalid_request', description: 'no access token' };
  const scheme = (match[1] as string).toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
  const token = match[2] as string;
  const proofHeader = request.headers.dpop;
  const dpop = typeof proofHeader === 'string' ? proofHeader : undefined;
  if (scheme === 'Bearer' && !door.allowBearer)
    return {
      ok: false,
      error: 'invalid_token',
      description: 'a DPoP-bound token is required (Authorization: DPoP)',
    };
  if (scheme === 'DPoP' && !dpop)
    return { ok: false, error: 'invalid_dpop_proof', description: 'no DPoP proof' };
  const method = (request.method ?? 'GET').toUpperCase();
  let lastError: TokenError | undefined;
  // verifyPresentation names one audience; the token must carry one of the accepted ones.
  for (const audience of door.audiences) {
    try {
      const verified = await verifyPresentation(token, {
        keys: door.keys.resolve,
        issuer: door.issuer,
        audience,
        // A DPoP proof is checked only once the audience matched (it spends the proof's jti).
        dpopProof: scheme === 'DPoP' ? dpop : undefined,
        method,
        url: door.resourceUrl,
        replay: door.replay,
      });
      // A bound token is presented with DPoP; an unbound one only as Bearer (and only if allowed).
      if (verified.claims.cnf?.jkt === undefined && scheme === 'DPoP')
        return {
          ok: false,
          error: 'invalid_token',
          description: 'the token is not key-bound: present it as Bearer',
        };
      if (verified.claims.cnf?.jkt !== undefined && scheme === 'Bearer')
        return {
          ok: false,
          error: 'invalid_token',
          description: 'the token is key-bound: present it with DPoP',
        };
      return { ok: true, presentation: { token, scheme, dpop, method, url: door.resourceUrl, verified } };
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      lastError = error;
      if (!/audience|aud/.test(error.message)) break;
    }
  }
  return {
    ok: false,
    error: lastError?.code === 'pop_invalid' ? 'invalid_dpop_proof' : 'invalid_token',
    description: lastError?.message ?? 'the token is not valid',
  };
}
