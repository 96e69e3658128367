import { createRequire } from 'node:module';
import v8 from 'node:v8';
import type * as CedarWasm from '@cedar-policy/cedar-wasm/nodejs';

/**
 * V8 11.3 (Node 20) inlines cedar-wasm's externref-taking exports (`statefulIsAuthorized`) into
 * optimised JS and then cannot lazily deoptimise that frame: under concurrent load the process
 * aborts with `Fatal error … DoComputeBuiltinContinuation`. Turning off JS-to-wasm call inlining
 * before the module loads prevents it (0 aborts in 10 runs that aborted about half the time) at
 * no measured cost. Node 22 and later do not abort; the flag is harmless there.
 * `test/policy/v8-abort.test.ts` runs the load that used to abort.
 */
v8.setFlagsFromString('--no-turbo-inline-js-wasm-calls');

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
