/** Why a token or proof was refused, as the decision reason codes name it. */
export type TokenErrorCode = 'token_invalid' | 'token_expired' | 'pop_invalid';

export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    readonly code: TokenErrorCode,
    message: string,
  ) {
    super(message);
  }
}
