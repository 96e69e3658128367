import type { ApiKey, ApiKeyView, Org, OrgView, User, UserView } from '@mandate/core';

/** The views the API answers with (types in core); these strip what must not leave the store. */
export type { ApiKeyView, OrgView, UserView };

/** An API key as anyone outside the store may see it: never the hash. */
export function apiKeyView(key: ApiKey): ApiKeyView {
  const { secretHash: _hash, version: _version, ...view } = key;
  return view;
}

export function userView(user: User): UserView {
  const { version: _version, ...view } = user;
  return view;
}

export function orgView(org: Org): OrgView {
  const { version: _version, ...view } = org;
  return view;
}
