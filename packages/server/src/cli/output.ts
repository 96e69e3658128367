import { MandateApiError, MandateConnectionError } from '@mandate/sdk';
import { ConfigError } from '../config/load.js';

/** Raised for a problem the user can fix; printed as one line, exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

export interface GlobalOptions {
  url?: string;
  key?: string;
  json?: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain aligned table for people; `--json` gives machines the full objects instead. */
export function printTable(
  rows: Array<Record<string, string | number | undefined>>,
  columns: string[],
): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cell = (row: Record<string, unknown>, column: string) => String(row[column] ?? '');
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => cell(row, column).length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const row of rows) process.stdout.write(`${line(columns.map((column) => cell(row, column)))}\n`);
}

/** Key/value lines for one object. */
export function printFields(fields: Array<[string, string | number | undefined]>): void {
  const width = Math.max(...fields.map(([name]) => name.length));
  for (const [name, value] of fields) {
    if (value !== undefined && value !== '') process.stdout.write(`${name.padEnd(width)}  ${value}\n`);
  }
}

/** Turns any failure into the one line the user sees. */
export function describeError(error: unknown): string {
  if (error instanceof MandateApiError) {
    // An OAuth client failure is about the agent's key and the issuer URL, not the API key.
    const hint =
      error.code === 'invalid_client'
        ? " (check --agent, --key-file, and that --url is exactly the server's issuer URL)"
        : error.status === 401
          ? ' (check --key or MANDATE_KEY)'
          : '';
    return `${error.message} [${error.code}]${hint}`;
  }
  if (error instanceof MandateConnectionError || error instanceof CliError || error instanceof ConfigError) {
    return error.message;
  }
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') return `the address is already in use: ${(error as Error).message}`;
  if (code === 'EACCES') return `permission denied: ${(error as Error).message}`;
  return `unexpected error: ${(error as Error)?.message ?? String(error)}`;
}
