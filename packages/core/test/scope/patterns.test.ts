import { isActionPattern, isResourcePattern } from '@mandate/core';
import { describe, expect, it } from 'vitest';

describe('isActionPattern', () => {
  it.each(['*', 'email.read', 'email.*', 'email', 'calendar.events.create', 'a-b_c.D9', 'x.y.*'])(
    'accepts %j',
    (value) => {
      expect(isActionPattern(value)).toBe(true);
    },
  );

  it.each([
    ['empty', ''],
    ['a space', ' '],
    ['leading whitespace', ' email.read'],
    ['trailing whitespace', 'email.read '],
    ['a trailing newline', 'email.read\n'],
    ['inner whitespace', 'email. read'],
    ['a wildcard in the middle', 'email.*.read'],
    ['a leading wildcard segment', '*.read'],
    ['a wildcard inside a segment', 'email.re*'],
    ['two wildcards', '*.*'],
    ['an empty segment', 'email..read'],
    ['a leading dot', '.email'],
    ['a trailing dot', 'email.'],
    ['a resource pattern', 'mailbox:alice/*'],
    ['a colon', 'email:read'],
    ['a slash', 'email/read'],
    ['a non-ASCII letter', 'émail.read'],
  ])('rejects %s (%j)', (_label, value) => {
    expect(isActionPattern(value)).toBe(false);
  });

  it('accepts 256 characters and rejects 257', () => {
    expect(isActionPattern('a'.repeat(256))).toBe(true);
    expect(isActionPattern('a'.repeat(257))).toBe(false);
    expect(isActionPattern(`${'a'.repeat(254)}.*`)).toBe(true);
    expect(isActionPattern(`${'a'.repeat(255)}.*`)).toBe(false);
  });
});

describe('isResourcePattern', () => {
  it.each([
    '*',
    'doc:*',
    'mailbox:alice/*',
    'repo:org/name',
    'mailbox:alice',
    'mailbox:alice@example.com/inbox/*',
    'file:a/b.txt',
    'urn:x:y',
    'my_type-2:a-b_c',
  ])('accepts %j', (value) => {
    expect(isResourcePattern(value)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['a space', ' '],
    ['leading whitespace', ' doc:*'],
    ['trailing whitespace', 'doc:* '],
    ['a trailing newline', 'doc:*\n'],
    ['inner whitespace', 'repo:org/my name'],
    ['a wildcard in the middle', 'mailbox:alice/*/x'],
    ['a wildcard inside a segment', 'mailbox:ali*'],
    ['an empty path', 'mailbox:'],
    ['an empty type', ':alice'],
    ['no type', 'alice/*'],
    ['a wildcard type', '*:alice'],
    ['an empty path segment', 'repo:org//name'],
    ['a leading slash', 'repo:/org'],
    ['a trailing slash', 'repo:org/'],
    ['an action pattern', 'email.read'],
    ['an action wildcard', 'email.*'],
  ])('rejects %s (%j)', (_label, value) => {
    expect(isResourcePattern(value)).toBe(false);
  });

  it('accepts 256 characters and rejects 257', () => {
    expect(isResourcePattern(`doc:${'a'.repeat(252)}`)).toBe(true);
    expect(isResourcePattern(`doc:${'a'.repeat(253)}`)).toBe(false);
    expect(isResourcePattern(`doc:${'a'.repeat(250)}/*`)).toBe(true);
    expect(isResourcePattern(`doc:${'a'.repeat(251)}/*`)).toBe(false);
  });
});
