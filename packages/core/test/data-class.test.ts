import { DATA_CLASSES, type DataClass, dataClassRank, dataClassWithin } from '@mandate/core';
import { describe, expect, it } from 'vitest';

// Lowest to highest, written out independently of the implementation.
const ORDER: DataClass[] = ['public', 'internal', 'confidential', 'restricted'];

describe('data classes', () => {
  it('are listed lowest to highest', () => {
    expect(DATA_CLASSES).toEqual(ORDER);
  });

  it('rank in strictly increasing order', () => {
    const ranks = ORDER.map(dataClassRank);
    for (let i = 1; i < ranks.length; i++) expect(ranks[i]).toBeGreaterThan(ranks[i - 1] as number);
  });

  const pairs = ORDER.flatMap((dataClass, i) =>
    ORDER.map((ceiling, j) => ({ dataClass, ceiling, within: i <= j })),
  );

  it.each(pairs)('$dataClass within a $ceiling ceiling: $within', ({ dataClass, ceiling, within }) => {
    expect(dataClassWithin(dataClass, ceiling)).toBe(within);
  });
});

describe('dataClassWithin: values that slipped past the types', () => {
  it('places an unknown class within nothing, and nothing within an unknown ceiling', () => {
    expect(dataClassWithin('bogus' as never, 'restricted')).toBe(false);
    expect(dataClassWithin('public', 'bogus' as never)).toBe(false);
  });
});
