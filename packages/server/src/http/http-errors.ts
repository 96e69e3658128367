import { ConflictError, DuplicateError, ERROR_CODES, type ErrorCode, MandateError } from '@mandate/engine';
import type { FastifyError } from 'fastify';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string };
}

/** Fastify's own client errors, by code, as ours. */
const FASTIFY_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'payload_too_large',
    message: 'the request body is larger than allowed',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'unsupported_media_type',
    message: 'send the body as application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'invalid_request',
    message: 'content-length does not match the body',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_request', message: 'the JSON body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_request', message: 'the body is not valid JSON' },
};

/**
 * Any error → status and `{ error: { code, message } }`. Only errors we understand keep their
 * message; anything else is a 500 that says nothing about its cause (the log has it).
 */
export function toHttpError(error: unknown): { status: number; body: ErrorBody; unexpected: boolean } {
  if (error instanceof MandateError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.field) body.error.field = error.field;
    return { status: ERROR_CODES[error.code], body, unexpected: error.code === 'internal_error' };
  }
  if (error instanceof ConflictError) {
    return { status: 409, body: { error: { code: 'conflict', message: error.message } }, unexpected: false };
  }
  if (error instanceof DuplicateError) {
    return { status: 409, body: { error: { code: 'duplicate', message: error.message } }, unexpected: false };
  }
  const fastifyError = error as Partial<FastifyError>;
  const known = fastifyError.code ? FASTIFY_ERRORS[fastifyError.code] : undefined;
  if (known) return { status: ERROR_CODES[known.code], body: { error: known }, unexpected: false };
  if (
    error instanceof SyntaxError &&
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode === 400
  ) {
    return {
      status: 400,
      body: { error: { code: 'invalid_request', message: 'the body is not valid JSON' } },
      unexpected: false,
    };
  }
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return {
      status: fastifyError.statusCode,
      body: { error: { code: 'invalid_request', message: 'the request could not be read' } },
      unexpected: false,
    };
  }
  return {
    status: 500,
    body: { error: { code: 'internal_error', message: 'internal error' } },
    unexpected: true,
  };
}
