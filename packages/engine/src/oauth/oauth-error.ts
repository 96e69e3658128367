/** Error codes of RFC 6749 §5.2, RFC 8693 §2.2.2, RFC 9396 §5, RFC 9449 §5 and RFC 7009 §2.2.1. */
export const OAUTH_ERRORS = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  invalid_authorization_details: 400,
  invalid_dpop_proof: 400,
  unsupported_token_type: 400,
  server_error: 500,
  temporarily_unavailable: 503,
} as const;

export type OAuthErrorCode = keyof typeof OAUTH_ERRORS;

/** A refusal of an OAuth endpoint, answered as `{ error, error_description }`. */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  readonly status: number;
  constructor(
    readonly code: OAuthErrorCode,
    description: string,
  ) {
    super(description);
    this.status = OAUTH_ERRORS[code];
  }
}
