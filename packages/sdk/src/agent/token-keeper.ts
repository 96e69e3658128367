import type { IssuedToken } from '../agent-credentials.js';

export interface TokenKeeperOptions {
  /** Gets a new token (token exchange or client_credentials). */
  obtain: () => Promise<IssuedToken>;
  /** Milliseconds since the epoch (a fake clock in tests). */
  now: () => number;
  /** Renew this long before expiry; default a third of the token's lifetime, at most 60 s. */
  renewBeforeMs?: number;
}

interface Held {
  token: IssuedToken;
  obtainedAt: number;
  expiresAt: number;
}

/**
 * Holds the agent's current access token and renews it before it expires. One renewal is in
 * flight at a time: every caller that needs a token meanwhile waits for the same request. A
 * failed renewal while the held token is still valid keeps using it (the next call tries again);
 * once it has expired, the failure is the caller's (no decision is asked with an expired token).
 */
export class TokenKeeper {
  private held?: Held;
  private renewing?: Promise<Held>;

  constructor(private readonly options: TokenKeeperOptions) {}

  async current(): Promise<IssuedToken> {
    const now = this.options.now();
    const held = this.held;
    if (held && now < held.expiresAt - this.renewBefore(held)) return held.token;
    try {
      return (await this.renew()).token;
    } catch (error) {
      if (held && now < held.expiresAt) return held.token;
      throw error;
    }
  }

  /** Drops the held token (after the server refused it), so the next call obtains a new one. */
  forget(token: IssuedToken): void {
    if (this.held?.token === token) this.held = undefined;
  }

  private renew(): Promise<Held> {
    this.renewing ??= (async () => {
      const obtainedAt = this.options.now();
      const token = await this.options.obtain();
      if (typeof token?.access_token !== 'string' || !(Number(token.expires_in) > 0))
        throw new TypeError('the token endpoint answered without an access token and its lifetime');
      const held = { token, obtainedAt, expiresAt: obtainedAt + token.expires_in * 1000 };
      this.held = held;
      return held;
    })().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private renewBefore(held: Held): number {
    return this.options.renewBeforeMs ?? Math.min(60_000, (held.expiresAt - held.obtainedAt) / 3);
  }
}
