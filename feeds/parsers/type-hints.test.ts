import { describe, expect, it } from 'vitest';
import { KNOWN_TYPE_NAMES, typeHintFor } from './type-hints.js';

// The type names that mark a value as an account, as the parsers' type columns spell them.
const ACCOUNT_NAMES = [
  'account',
  'user',
  'username',
  'user-name',
  'login',
  'user-account',
  'upn',
  'email',
  'email-addr',
  'email-src',
  'target-user',
  'target-email',
];

describe('typeHintFor', () => {
  it.each([...ACCOUNT_NAMES, 'Account', ' UPN ', 'Email-Src'])(
    'GIVEN the type name %j THEN the value is an account',
    (name) => {
      expect(typeHintFor(name, 'Alice@Example.com')).toEqual({ typeHint: 'account' });
    },
  );

  it('GIVEN the account names THEN they are listed among the known names, for the csv rejection message', () => {
    expect(KNOWN_TYPE_NAMES).toEqual(expect.arrayContaining(ACCOUNT_NAMES));
  });

  it.each([
    ['ip', 'alice@example.com', 'ipv4'],
    ['domain', 'alice@example.com', 'domain'],
    ['md5', 'd41d8cd98f00b204e9800998ecf8427e', 'hash'],
  ])(
    'GIVEN the type name %j THEN an email-looking value keeps the stated type %s (the name decides, never the value)',
    (name, value, type) => {
      expect(typeHintFor(name, value)?.typeHint).toBe(type);
    },
  );

  it.each(['user_name', 'person', 'filename'])(
    'GIVEN the unknown type name %j THEN there is no hint',
    (name) => {
      expect(typeHintFor(name, 'alice@example.com')).toBeUndefined();
    },
  );
});
