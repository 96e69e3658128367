/** Cedar's Long is a signed 64-bit integer whose overflow is an evaluation error, never a wrap. */
import { CedarEvalError } from './values.js';

export const I64_MIN = -(2n ** 63n);
export const I64_MAX = 2n ** 63n - 1n;

export function checkI64(n: bigint, what: string): bigint {
  if (n < I64_MIN || n > I64_MAX) throw new CedarEvalError(`integer overflow in ${what}`);
  return n;
}

export const inI64 = (n: bigint): boolean => n >= I64_MIN && n <= I64_MAX;

/** Rust's truncating `/` and `%` on i64 (BigInt's are truncating too). */
export const truncDiv = (a: bigint, b: bigint): bigint => a / b;
