import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/** Mandate could not be asked for its keys: the request cannot be judged (503, not 401). */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
}

export interface MandateKeys {
  /** The resolver core's verifyAccessToken takes. */
  resolve: JWTVerifyGetKey;
  /** Loads the JWKS if it is not loaded (throws KeysUnavailableError). */
  ready(): Promise<void>;
}

const REFRESH_MS = 5 * 60_000;
/** An unknown kid fetches again, at most this often (a rotation is seen within seconds). */
const MIN_REFETCH_MS = 10_000;

/**
 * Mandate's token signing keys, from its JWKS (`/.well-known/jwks.json`) through the gateway's
 * fetch: kept five minutes, fetched again on an unknown kid (rate-limited), never stale after
 * an emergency rotation for longer than that.
 */
export function mandateKeys(baseUrl: string, fetchImpl: typeof fetch, timeoutMs: number): MandateKeys {
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = 0;
  let loading: Promise<void> | undefined;
  const url = `${baseUrl.replace(/\/+$/, '')}/.well-known/jwks.json`;

  const load = () => {
    loading ??= (async () => {
      try {
        const response = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs) });
        if (!response.ok) throw new KeysUnavailableError(`JWKS: HTTP ${response.status}`);
        const doc = (await response.json()) as JSONWebKeySet;
        if (!doc || !Array.isArray(doc.keys)) throw new KeysUnavailableError('JWKS: not a key set');
        local = createLocalJWKSet(doc);
        fetchedAt = Date.now();
      } catch (error) {
        if (error instanceof KeysUnavailableError) throw error;
        throw new KeysUnavailableError(`JWKS: ${(error as Error).message}`);
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };

  return {
    async ready() {
      if (!local || Date.now() - fetchedAt > REFRESH_MS) await load();
    },
    resolve: (async (header, token) => {
      if (!local || Date.now() - fetchedAt > REFRESH_MS) await load();
      try {
        return await (local as ReturnType<typeof createLocalJWKSet>)(header, token);
      } catch (error) {
        if (!(error instanceof errors.JWKSNoMatchingKey) || Date.now() - fetchedAt < MIN_REFETCH_MS)
          throw error;
        await load();
        return (local as ReturnType<typeof createLocalJWKSet>)(header, token);
      }
    }) as JWTVerifyGetKey,
  };
}
