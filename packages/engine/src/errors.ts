/**
 * The closed set of errors engine services raise for requests they refuse. The server maps
 * each code to one HTTP status; the CLI and SDK show `message`. Messages never carry secrets.
 */
export const ERROR_CODES = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  illegal_transition: 409,
  duplicate: 409,
  last_active_key: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  internal_error: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class MandateError extends Error {
  override readonly name = 'MandateError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The request field at fault, for `invalid_request`. */
    readonly field?: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new MandateError('not_found', `${what} not found`);
export const invalid = (field: string, message: string) =>
  new MandateError('invalid_request', `${field}: ${message}`, field);
