import { MandateError, OAuthError } from '@mandate/engine';
import { toHttpError } from './http-errors.js';

export interface OAuthErrorBody {
  error: string;
  error_description: string;
}

/** Our error codes, as the OAuth endpoints name them (RFC 6749 §5.2, RFC 7662 §2.3). */
const FROM_MANDATE: Record<string, string> = {
  unauthorized: 'invalid_client',
  forbidden: 'access_denied',
  invalid_request: 'invalid_request',
  payload_too_large: 'invalid_request',
  unsupported_media_type: 'invalid_request',
  unavailable: 'temporarily_unavailable',
};

/** Any error → status and `{ error, error_description }`; unknown errors say nothing of their cause. */
export function toOAuthError(error: unknown): { status: number; body: OAuthErrorBody; unexpected: boolean } {
  if (error instanceof OAuthError) {
    return {
      status: error.status,
      body: { error: error.code, error_description: error.message },
      unexpected: error.code === 'server_error',
    };
  }
  const { status, body, unexpected } = toHttpError(error);
  const code = FROM_MANDATE[body.error.code] ?? 'server_error';
  // A refused request body is the client's fault: 400, not 413/415 (RFC 6749 §5.2).
  const oauthStatus = code === 'invalid_request' ? 400 : code === 'server_error' ? 500 : status;
  const description =
    error instanceof MandateError || !unexpected ? body.error.message : 'the server could not answer';
  return { status: oauthStatus, body: { error: code, error_description: description }, unexpected };
}
