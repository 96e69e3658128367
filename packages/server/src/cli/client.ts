import { MandateClient } from '@mandate/sdk';
import { CliError, type GlobalOptions } from './output.js';

export const DEFAULT_URL = 'http://127.0.0.1:7070';

/** The client for `--url`/`MANDATE_URL` and `--key`/`MANDATE_KEY`. */
export function clientFrom(options: GlobalOptions): MandateClient {
  const url = options.url ?? process.env.MANDATE_URL ?? DEFAULT_URL;
  try {
    new URL(url);
  } catch {
    throw new CliError(`--url: not a URL: ${url}`);
  }
  const key = options.key ?? process.env.MANDATE_KEY;
  if (!key) throw new CliError('no API key: pass --key or set MANDATE_KEY');
  return new MandateClient({ url, key });
}
