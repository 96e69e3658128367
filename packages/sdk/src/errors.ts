/** The server answered with an error: `code` is the API's closed error code. */
export class MandateApiError extends Error {
  override readonly name = 'MandateApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The server could not be reached at all (down, wrong URL, network). */
export class MandateConnectionError extends Error {
  override readonly name = 'MandateConnectionError';
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach Mandate at ${url} (${reason})`);
  }
}
