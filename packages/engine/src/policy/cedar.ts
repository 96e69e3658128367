import { createRequire } from 'node:module';
import type * as CedarWasm from '@cedar-policy/cedar-wasm/nodejs';

/**
 * The Cedar reference engine (Rust, compiled to WebAssembly). Loaded through `require` of its
 * `nodejs` build: the package's bare ESM entry point is the bundler build, which Node cannot load.
 */
export const cedar: typeof CedarWasm = createRequire(import.meta.url)('@cedar-policy/cedar-wasm/nodejs');

export type CedarEntityUid = { type: string; id: string };
export type CedarValue = CedarWasm.CedarValueJson;
export type CedarEntity = CedarWasm.EntityJson;
export type CedarSchema = CedarWasm.Schema;
export type CedarDetailedError = CedarWasm.DetailedError;

/** One line per Cedar error, its own words: what users see when their policy text is refused. */
export function describeCedarErrors(errors: CedarDetailedError[]): string[] {
  return errors.map((e) => (e.help ? `${e.message} (${e.help})` : e.message));
}
