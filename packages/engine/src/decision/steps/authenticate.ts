import { TokenError, verifyDpopProof } from '@mandate/core';
import type { StepDeps } from '../deps.js';
import { type DecisionStep, ProofMemo } from '../types.js';

/**
 * The credential: a token this server issued (signature, typ, issuer, expiry, claims), and for a
 * key-bound token a DPoP proof of this very call by the bound key; an unbound token only as Bearer.
 */
export const authenticate = (deps: StepDeps): DecisionStep => ({
  name: 'authenticate',
  async run(request, state, now) {
    try {
      const token = await deps.tokens.verify(request.token);
      const jkt = token.claims.cnf?.jkt;
      if (jkt !== undefined) {
        if (request.scheme !== 'DPoP' || !request.dpop)
          return deny('pop_invalid', 'the token is key-bound: present it with the DPoP scheme and a proof');
        // Within one AuthZEN batch, the identical credential is verified once (ProofMemo): the
        // proof's jti is spent by its first item; every other request meets the replay cache.
        const memo = request.proofMemo instanceof ProofMemo ? request.proofMemo : undefined;
        if (!memo?.has(request)) {
          await verifyDpopProof(request.dpop, {
            method: request.proofMethod ?? '',
            url: request.proofUrl ?? '',
            accessToken: request.token,
            expectedJkt: jkt,
            replay: deps.dpopReplay,
            now,
          });
          memo?.add(request);
        }
      } else if (request.scheme !== 'Bearer') {
        return deny('pop_invalid', 'the token is not key-bound: present it as Bearer');
      }
      // An enforcement point asks only about its own org's agents: nothing is recorded elsewhere.
      if (request.expectedOrgId !== undefined && token.claims.org !== request.expectedOrgId)
        return deny('token_invalid', "the token belongs to another org than the enforcement point's");
      if (request.expectedAgentId !== undefined && token.claims.client_id !== request.expectedAgentId)
        return deny('token_invalid', 'the token is not the named agent’s');
      state.token = token;
      state.orgId = token.claims.org;
      return { ok: true };
    } catch (error) {
      if (error instanceof TokenError) return deny(error.code, error.message);
      throw error;
    }
  },
});

const deny = (code: 'token_invalid' | 'token_expired' | 'pop_invalid', detail: string) =>
  ({ ok: false, reason: { code, detail } }) as const;
