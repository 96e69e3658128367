import fs from 'node:fs';
import path from 'node:path';
import { fromBase64, verifyConsistency, verifyInclusion } from '@mandate/core';
import { describe, expect, it } from 'vitest';
import { CONFORMANCE, conformanceFiles } from '../conformance-path.js';

/** Vectors store "don't care" values that may not even be base64 of the right length. */
const bytes = (value: string | null | undefined): Uint8Array =>
  value ? fromBase64(value) : new Uint8Array(0);
const proofOf = (value: string[] | null): Uint8Array[] => (value ?? []).map((p) => bytes(p));

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

const inclusion = conformanceFiles('rfc9162/inclusion');
const consistency = conformanceFiles('rfc9162/consistency');
const name = (file: string) => path.relative(CONFORMANCE, file);

describe('RFC 9162 inclusion vectors (transparency-dev/merkle)', () => {
  it('finds the vectors', () => expect(inclusion.length).toBeGreaterThan(50));

  it.each(inclusion.map((file) => [name(file), file]))('%s', (_name, file) => {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as InclusionVector;
    const run = () =>
      verifyInclusion(v.leafIdx, v.treeSize, bytes(v.leafHash), proofOf(v.proof), bytes(v.root));
    if (v.wantErr) expect(run).toThrow();
    else expect(run).not.toThrow();
  });
});

describe('RFC 9162 consistency vectors (transparency-dev/merkle)', () => {
  it('finds the vectors', () => expect(consistency.length).toBeGreaterThan(50));

  it.each(consistency.map((file) => [name(file), file]))('%s', (_name, file) => {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as ConsistencyVector;
    const run = () => verifyConsistency(v.size1, v.size2, proofOf(v.proof), bytes(v.root1), bytes(v.root2));
    if (v.wantErr) expect(run).toThrow();
    else expect(run).not.toThrow();
  });
});
