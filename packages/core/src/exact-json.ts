/**
 * JSON.parse that refuses what JavaScript cannot hold exactly: an integer beyond ±(2^53 − 1)
 * would be silently rounded (9223372036854775807 becomes …808), and a policy decision on a
 * rounded number is a decision on a value nobody sent. Cedar's integers are 64-bit; Mandate
 * accepts those that fit in a double exactly and refuses the rest with a clear error.
 *
 * Hand-written because JSON.parse offers no way to see a number's source text on Node 20
 * (the source-text reviver arrived later); this scans the text once, skipping strings.
 */
export class UnsafeIntegerError extends Error {
  override readonly name = 'UnsafeIntegerError';
  constructor(
    readonly literal: string,
    readonly offset: number,
  ) {
    super(
      `the integer ${literal} (at character ${offset}) is beyond ±2^53 − 1 and cannot be held exactly; ` +
        'Mandate refuses it rather than round it',
    );
  }
}

const TOKENS = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** Throws UnsafeIntegerError for the first integer-valued number that is not exactly representable. */
export function assertExactIntegers(text: string): void {
  TOKENS.lastIndex = 0;
  for (let match = TOKENS.exec(text); match !== null; match = TOKENS.exec(text)) {
    const token = match[0];
    if (token.startsWith('"')) continue;
    const value = Number(token);
    if (!Number.isFinite(value)) throw new UnsafeIntegerError(token, match.index);
    if (Number.isInteger(value) && !Number.isSafeInteger(value))
      throw new UnsafeIntegerError(token, match.index);
    // 9007199254740993 rounds to a safe-looking …992: compare the digits, not the double.
    if (/^-?\d+$/.test(token) && BigInt(token) !== BigInt(value))
      throw new UnsafeIntegerError(token, match.index);
  }
}

/** JSON.parse, after refusing integers it would round. */
export function parseJsonExact(text: string): unknown {
  const value = JSON.parse(text);
  assertExactIntegers(text);
  return value;
}
