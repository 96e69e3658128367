import { CanonicalJsonError, canonicalBytes, canonicalize, canonicalizeCarefully } from '@mandate/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** The IEEE-754 double with the given bit pattern (how RFC 8785 appendix B lists its inputs). */
function double(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

describe('canonicalize: structure', () => {
  it('serialises literals', () => {
    expect(canonicalize(null)).toBe('null');
    expect(canonicalize(true)).toBe('true');
    expect(canonicalize(false)).toBe('false');
    expect(canonicalize('')).toBe('""');
    expect(canonicalize([])).toBe('[]');
    expect(canonicalize({})).toBe('{}');
  });

  it('emits no whitespace and sorts the keys of nested objects', () => {
    const value = { b: [3, { z: 1, a: [true, null] }], a: { d: 'x', c: [] } };
    expect(canonicalize(value)).toBe('{"a":{"c":[],"d":"x"},"b":[3,{"a":[true,null],"z":1}]}');
  });

  it('keeps array order', () => {
    expect(canonicalize([3, 1, 2, 'b', 'a'])).toBe('[3,1,2,"b","a"]');
  });

  it('omits members whose value is undefined, at any depth', () => {
    expect(canonicalize({ a: undefined, b: 1, c: { d: undefined } })).toBe('{"b":1,"c":{}}');
  });

  it('accepts objects with a null prototype', () => {
    const value = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 2 });
    expect(canonicalize(value)).toBe('{"a":2,"b":1}');
  });

  it('keeps an own "__proto__" member like any other key', () => {
    expect(canonicalize(JSON.parse('{"b":1,"__proto__":{"x":2}}'))).toBe('{"__proto__":{"x":2},"b":1}');
  });

  it('serialises a Date as its ISO 8601 string', () => {
    const at = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));
    expect(canonicalize(at)).toBe('"2024-01-02T03:04:05.006Z"');
    expect(canonicalize({ at: [at] })).toBe('{"at":["2024-01-02T03:04:05.006Z"]}');
  });

  it('reproduces the RFC 8785 section 3.2.2 example (numbers within the safe range)', () => {
    const value = {
      // biome-ignore lint/correctness/noPrecisionLoss: the RFC's input literal, rounded on purpose
      numbers: [333333333.33333329, 4.5, 2e-3, 0.000000000000000000000000001],
      string: '\u20ac$\u000F\u000aA\'\u0042\u0022\u005c\\"/',
      literals: [null, true, false],
    };
    expect(canonicalize(value)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });
});

describe('canonicalize: key order (RFC 8785 section 3.2.3)', () => {
  it('sorts keys by UTF-16 code units, as in the RFC example', () => {
    const value = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    expect(canonicalize(value)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control",' +
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",' +
        '"\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('sorts by code unit, not by locale or code point', () => {
    // Upper case before lower case; a surrogate pair (U+1F600) before U+FB33 although its code point is higher.
    const value = { a: 1, Z: 2, B: 3, é: 4, '\ufb33': 5, '\ud83d\ude00': 6 };
    expect(Object.keys(JSON.parse(canonicalize(value)))).toEqual([
      'B',
      'Z',
      'a',
      'é',
      '\ud83d\ude00',
      '\ufb33',
    ]);
  });

  it('sorts integer-like keys as strings', () => {
    expect(canonicalize({ 10: 'a', 9: 'b', 1: 'c', '': 'd' })).toBe('{"":"d","1":"c","10":"a","9":"b"}');
  });
});

describe('canonicalize: numbers (RFC 8785 section 3.2.2.3 and appendix B)', () => {
  it.each([
    [4.5, '4.5'],
    [2e-3, '0.002'],
    [1e-7, '1e-7'],
    [1e-27, '1e-27'],
    [-0, '0'],
    [0, '0'],
    [-1, '-1'],
    [333333333.3333333, '333333333.3333333'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
    [Number.MIN_SAFE_INTEGER, '-9007199254740991'],
  ])('%s serialises as %s', (value, expected) => {
    expect(canonicalize(value)).toBe(expected);
  });

  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('appendix B: double %s serialises as %s', (hex, expected) => {
    expect(canonicalize(double(hex))).toBe(expected);
  });

  // Every double of magnitude >= 2^53 is an integer, so the fail-closed rule on integers that cannot be
  // represented exactly also rejects these appendix B values. This is a deliberate deviation from RFC 8785
  // (the RFC would print "1e+30", "1e+23", ...); see the note at the top of src/canonical-json.ts.
  it.each([
    ['1e+30', 1e30],
    ['1e+23 (44b52d02c7e14af6)', double('44b52d02c7e14af6')],
    ['1e+21 (444b1ae4d6e2ef50)', double('444b1ae4d6e2ef50')],
    ['295147905179352830000 (4430000000000000)', double('4430000000000000')],
    ['9007199254740992 (4340000000000000)', double('4340000000000000')],
    ['1.7976931348623157e+308 (7fefffffffffffff)', double('7fefffffffffffff')],
    ['-1.7976931348623157e+308 (ffefffffffffffff)', double('ffefffffffffffff')],
  ])('rejects %s: magnitudes from 2^53 up are outside the fail-closed range', (_label, value) => {
    expect(() => canonicalize(value)).toThrow(CanonicalJsonError);
  });
});

describe('canonicalize: strings (RFC 8785 section 3.2.2.2)', () => {
  it('escapes every control character, with the short forms where JSON has them', () => {
    const short: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };
    for (let code = 0; code < 0x20; code++) {
      const expected = short[code] ?? `\\u${code.toString(16).padStart(4, '0')}`;
      expect(canonicalize(String.fromCharCode(code)), `U+${code.toString(16)}`).toBe(`"${expected}"`);
    }
  });

  it('uses lower-case hex in \\u escapes', () => {
    expect(canonicalize('\u001f\u001b')).toBe('"\\u001f\\u001b"');
  });

  it('escapes only the quote and the backslash among printable characters', () => {
    expect(canonicalize('"\\/\u007f')).toBe('"\\"\\\\/\u007f"');
  });

  it('leaves non-ASCII characters, U+2028 and U+2029 unescaped', () => {
    expect(canonicalize('\u2028\u2029é€\ud83d\ude00')).toBe('"\u2028\u2029é€\ud83d\ude00"');
  });

  it('escapes keys the same way as values', () => {
    expect(canonicalize({ 'a"b\n': 1 })).toBe('{"a\\"b\\n":1}');
  });
});

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

describe('canonicalize: fails closed', () => {
  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['2 ** 53', 2 ** 53],
    ['-(2 ** 53)', -(2 ** 53)],
    ['2 ** 53 + 2', 2 ** 53 + 2],
    ['a function', () => 1],
    ['a bigint', 1n],
    ['a symbol', Symbol('x')],
    ['a Map', new Map([['a', 1]])],
    ['a Set', new Set([1])],
    ['a class instance', new Point(1, 2)],
    ['a Uint8Array', new Uint8Array([1])],
    ['a boxed string', Object('x')],
    ['a RegExp', /x/],
  ])('rejects %s, at top level and nested', (_label, value) => {
    expect(() => canonicalize(value)).toThrow(CanonicalJsonError);
    expect(() => canonicalize({ a: [1, { b: value }] })).toThrow(CanonicalJsonError);
  });

  it('rejects undefined at top level and as an array element (null would be a guess)', () => {
    expect(() => canonicalize(undefined)).toThrow(CanonicalJsonError);
    expect(() => canonicalize([1, undefined])).toThrow(CanonicalJsonError);
    expect(() => canonicalize({ a: [undefined] })).toThrow(CanonicalJsonError);
  });

  it.each([
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate', '\udc00'],
    ['a high surrogate inside text', 'a\ud83db'],
    ['a high surrogate at the end', 'abc\ud83d'],
    ['a low surrogate at the start', '\ude00abc'],
    ['a reversed pair', '\ude00\ud83d'],
    ['two high surrogates', '\ud83d\ud83d\ude00'],
  ])('rejects %s in a value and in a key', (_label, text) => {
    expect(() => canonicalize(text)).toThrow(CanonicalJsonError);
    expect(() => canonicalize({ nested: [text] })).toThrow(CanonicalJsonError);
    expect(() => canonicalize({ [text]: 1 })).toThrow(CanonicalJsonError);
    expect(() => canonicalize({ nested: { [text]: 1 } })).toThrow(CanonicalJsonError);
  });

  it('accepts well-formed surrogate pairs', () => {
    expect(canonicalize({ '\ud83d\ude00': '\ud83d\ude00\ud83d\ude00' })).toBe(
      '{"\ud83d\ude00":"\ud83d\ude00\ud83d\ude00"}',
    );
  });

  it('throws CanonicalJsonError, a subclass of Error with that name', () => {
    let caught: unknown;
    try {
      canonicalize(Number.NaN);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect(caught).toBeInstanceOf(CanonicalJsonError);
    expect((caught as Error).name).toBe('CanonicalJsonError');
  });

  // A hole would otherwise render as nothing: "[1,,3]" is not JSON.
  it('rejects sparse arrays instead of emitting invalid JSON', () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is what is under test
    expect(() => canonicalize([1, , 3])).toThrow(CanonicalJsonError);
  });

  it('rejects an invalid Date with a CanonicalJsonError', () => {
    expect(() => canonicalize(new Date(Number.NaN))).toThrow(CanonicalJsonError);
  });

  it('rejects circular references, and accepts the same object twice side by side', () => {
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    expect(() => canonicalize(loop)).toThrow(CanonicalJsonError);
    const shared = { x: 1 };
    expect(canonicalize({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });
});

describe('canonicalize: properties', () => {
  const leaf = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }),
    fc.string({ unit: 'binary' }),
  );
  const { json } = fc.letrec<{ json: unknown }>((tie) => ({
    json: fc.oneof(
      { depthSize: 'small' },
      leaf,
      fc.array(tie('json')),
      fc.dictionary(fc.string({ unit: 'binary' }), tie('json')),
    ),
  }));

  it('produces JSON that parses back to the same value, and is idempotent', () => {
    fc.assert(
      fc.property(json, (value) => {
        const text = canonicalize(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalize(JSON.parse(text))).toBe(text);
      }),
    );
  });

  it('does not depend on the insertion order of keys', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), leaf), (value) => {
        const reversed = Object.fromEntries(Object.entries(value).reverse());
        expect(canonicalize(reversed)).toBe(canonicalize(value));
      }),
    );
  });
});

describe('canonicalBytes', () => {
  it('returns the UTF-8 encoding of the canonical form', () => {
    const bytes = canonicalBytes({ b: '\u20ac', a: '\ud83d\ude00' });
    expect(bytes).toBeInstanceOf(Uint8Array);
    // {"a":"😀","b":"€"}
    expect([...bytes]).toEqual([
      0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xf0, 0x9f, 0x98, 0x80, 0x22, 0x2c, 0x22, 0x62, 0x22, 0x3a, 0x22,
      0xe2, 0x82, 0xac, 0x22, 0x7d,
    ]);
  });

  it('agrees with canonicalize', () => {
    const value = { z: [1.5, 'é'], a: null };
    expect(new TextDecoder().decode(canonicalBytes(value))).toBe(canonicalize(value));
  });

  it('fails closed like canonicalize', () => {
    expect(() => canonicalBytes({ a: '\ud800' })).toThrow(CanonicalJsonError);
    expect(() => canonicalBytes(Number.NaN)).toThrow(CanonicalJsonError);
  });
});

describe('the fast pass', () => {
  it('gives exactly what the careful pass gives, or the same error, on any value', () => {
    const value = fc.letrec((tie) => ({
      any: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.double(),
        fc.integer(),
        fc.constantFrom(2 ** 53, -(2 ** 53), 1e30, Number.NaN, Number.POSITIVE_INFINITY),
        fc.string({ unit: 'binary' }),
        fc.constantFrom('\uD800', 'a\uDFFFb', '\uD83D\uDE00'),
        fc.constant(undefined),
        fc.date(),
        fc.array(tie('any'), { maxLength: 4 }),
        fc.dictionary(fc.string({ unit: 'binary' }), tie('any'), { maxKeys: 4 }),
      ),
    })).any;
    const outcome = (f: () => string) => {
      try {
        return { ok: f() };
      } catch (error) {
        return { error: (error as Error).message };
      }
    };
    fc.assert(
      fc.property(value, (v) => {
        expect(outcome(() => canonicalize(v))).toEqual(outcome(() => canonicalizeCarefully(v)));
      }),
      { numRuns: 5000 },
    );
  });

  it('hands deep and circular values to the careful pass', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(canonicalize(deep)).toBe(canonicalizeCarefully(deep));
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    expect(() => canonicalize(loop)).toThrow(/circular/);
  });
});
