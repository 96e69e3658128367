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

/** The server answered, but not with what the API promises (a malformed decision): treated as a deny. */
export class MandateProtocolError extends Error {
  override readonly name = 'MandateProtocolError';
}

/** Mandate denied the action: `code` is the decision's first reason code (the closed set of DESIGN §3). */
export class MandateDeniedError extends Error {
  override readonly name = 'MandateDeniedError';
  constructor(
    readonly code: string,
    readonly decisionId: string | undefined,
    readonly reasons: ReadonlyArray<{ code: string; detail?: string }>,
  ) {
    super(`denied by Mandate: ${code}${decisionId ? ` (decision ${decisionId})` : ''}`);
  }
}

/** The action needs a human's approval, which did not come within the wait: ask again once it has. */
export class MandateApprovalPendingError extends Error {
  override readonly name = 'MandateApprovalPendingError';
  constructor(
    readonly approvalId: string,
    readonly expiresAt: string,
    readonly decisionId: string,
  ) {
    super(`approval ${approvalId} is pending (until ${expiresAt}); ask again once a human has decided`);
  }
}
