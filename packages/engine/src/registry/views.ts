import type { ApiKey, Org, User } from '../ports/records.js';

/** An API key as anyone outside the store may see it: never the hash. */
export type ApiKeyView = Omit<ApiKey, 'secretHash' | 'version'>;

export function apiKeyView(key: ApiKey): ApiKeyView {
  const { secretHash: _hash, version: _version, ...view } = key;
  return view;
}

export type UserView = Omit<User, 'version'>;

export function userView(user: User): UserView {
  const { version: _version, ...view } = user;
  return view;
}

export type OrgView = Omit<Org, 'version'>;

export function orgView(org: Org): OrgView {
  const { version: _version, ...view } = org;
  return view;
}
