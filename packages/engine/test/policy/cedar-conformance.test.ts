/**
 * Cedar agreement, the part fast enough for every `npm test`: every hand-written integration
 * test of cedar-policy/cedar-integration-tests (decision, determining policies, erroring
 * policies, validation) through Mandate's PolicyEvaluator, and the corpus files whose integers
 * JavaScript cannot hold exactly, which must be refused. The whole corpus (62,472 requests) runs
 * in `npm run conformance` (conformance/run.mjs), which `.ci/run` also runs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module shared with conformance/run.mjs (no type declarations)
import { readLists, runCedarTestFile } from '../../../../conformance/cedar-runner.mjs';
import { CONFORMANCE, conformanceFiles } from '../../../core/test/conformance-path.js';

const CEDAR = path.join(CONFORMANCE, 'cedar');
const handWritten = conformanceFiles('cedar/tests');
const lists = readLists(CEDAR) as { overflow: Set<string>; drift: Set<string> };

describe('Cedar integration tests (hand-written)', () => {
  it('finds the 74 requests of the conformance data', () => {
    expect(handWritten.length).toBeGreaterThanOrEqual(20);
    const requests = handWritten.reduce(
      (n, file) => n + JSON.parse(fs.readFileSync(file, 'utf8')).requests.length,
      0,
    );
    expect(requests).toBe(74);
  });

  it.each(handWritten.map((file) => [path.relative(CEDAR, file), file]))(
    '%s: every decision, determining and erroring policy as Cedar says',
    (_name, file) => {
      const result = runCedarTestFile(file, CEDAR, {});
      expect(result.failures).toEqual([]);
      expect(result.passed).toBe(result.requests);
      expect(result.requests).toBeGreaterThan(0);
    },
  );
});

describe('corpus files with integers beyond 2^53', () => {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-cedar-overflow-'));
  afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));
  const listed = [...lists.overflow];
  // Only these files (and their policies, entities, schema) are extracted from the archive.
  const members = listed.flatMap((file) => {
    const base = file.replace(/\.json$/, '');
    return [file, `${base}.cedar`, `${base}.entities.json`, `${base}.cedarschema`];
  });
  execFileSync('tar', ['-xzf', path.join(CEDAR, 'corpus-tests.tar.gz'), '-C', temp, ...members]);

  it('lists 21 files', () => expect(listed).toHaveLength(21));

  it.each(listed)('%s is refused with a clear error, never evaluated on rounded numbers', (file) => {
    const result = runCedarTestFile(path.join(temp, file), temp, { overflow: true });
    expect(result.failures).toEqual([]);
    expect(result.refused).toMatch(/beyond ±2\^53 − 1 and cannot be held exactly/);
    expect(result.requests).toBe(0);
  });

  it('a listed file that was not refused is reported (the check is not a no-op)', () => {
    // The hand-written decimal test has no big integers: as an "overflow" file it must fail.
    const file = handWritten.find((f) => f.includes('decimal')) as string;
    const result = runCedarTestFile(file, CEDAR, { overflow: true });
    expect(result.failures.join('\n')).toMatch(/nothing was refused/);
  });
});
