import { canonicalize, type RequestedScope, scopeProblems } from '@mandate/core';
import { OAuthError } from './oauth-error.js';

/** Form parameters as decoded: a repeated parameter arrives as a list. */
export type FormParams = Record<string, string | string[] | undefined>;

/** RFC 6749 §3.2: a parameter other than the few that may repeat is sent at most once. */
export function single(params: FormParams, name: string): string | undefined {
  const value = params[name];
  if (Array.isArray(value)) throw new OAuthError('invalid_request', `${name} is repeated`);
  return value === undefined || value === '' ? undefined : value;
}

export function required(params: FormParams, name: string): string {
  const value = single(params, name);
  if (value === undefined) throw new OAuthError('invalid_request', `${name} is required`);
  return value;
}

function many(params: FormParams, name: string): string[] {
  const value = params[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v) => v !== '');
}

const MAX_AUDIENCES = 8;

/**
 * The token's audiences: each RFC 8707 `resource` (an absolute URI without a fragment) and each
 * RFC 8693 `audience` (a logical name). None asked for: the issuer itself, where decisions
 * are made.
 */
export function requestedAudiences(params: FormParams, issuer: string): string[] {
  const resources = many(params, 'resource');
  for (const resource of resources) {
    let url: URL | undefined;
    try {
      url = new URL(resource);
    } catch {
      url = undefined;
    }
    if (!url || resource.includes('#') || resource.length > 2000)
      throw new OAuthError('invalid_target', 'resource must be an absolute URI without a fragment');
  }
  const audiences = many(params, 'audience');
  for (const audience of audiences) {
    if (audience.length > 2000 || !/^[^\s\p{Cc}]+$/u.test(audience))
      throw new OAuthError('invalid_target', 'audience must be a name without spaces or control characters');
  }
  const all = [...new Set([...resources, ...audiences])];
  if (all.length > MAX_AUDIENCES)
    throw new OAuthError('invalid_target', `at most ${MAX_AUDIENCES} audiences and resources`);
  return all.length > 0 ? all : [issuer];
}

export const AUTHORIZATION_DETAILS_TYPE = 'mandate_scope';

/**
 * What the client asks to narrow the delegation to: RFC 9396 `authorization_details` (one
 * entry of type `mandate_scope` holding a scope), and/or `scope` (space-separated action
 * patterns). Both narrow; neither can widen (checked by `attenuate` later).
 */
export function requestedNarrowing(params: FormParams): {
  requested: RequestedScope;
  scopeParam?: string;
  viaDetails: boolean;
} {
  let requested: RequestedScope = {};
  const details = single(params, 'authorization_details');
  if (details !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(details);
      canonicalize(parsed);
    } catch {
      throw new OAuthError('invalid_authorization_details', 'authorization_details must be a JSON array');
    }
    if (!Array.isArray(parsed) || parsed.length !== 1)
      throw new OAuthError('invalid_authorization_details', 'send exactly one authorization detail');
    const detail = parsed[0] as { type?: unknown; scope?: unknown };
    if (typeof detail !== 'object' || detail === null || detail.type !== AUTHORIZATION_DETAILS_TYPE)
      throw new OAuthError(
        'invalid_authorization_details',
        `the authorization detail type must be ${AUTHORIZATION_DETAILS_TYPE}`,
      );
    const extra = Object.keys(detail).filter((key) => key !== 'type' && key !== 'scope');
    if (extra.length > 0)
      throw new OAuthError('invalid_authorization_details', `unknown member(s) ${extra.join(', ')}`);
    const problems = scopeProblems(detail.scope ?? {});
    if (problems.length > 0) throw new OAuthError('invalid_authorization_details', problems.join('; '));
    requested = { ...(detail.scope as RequestedScope) };
  }
  const scopeParam = single(params, 'scope');
  if (scopeParam !== undefined) {
    const actions = scopeParam.split(' ').filter((a) => a.length > 0);
    const problems = scopeProblems({ actions });
    if (actions.length === 0 || problems.length > 0)
      throw new OAuthError('invalid_scope', 'scope must be space-separated action patterns');
    if (requested.actions !== undefined)
      throw new OAuthError(
        'invalid_request',
        'give the actions in scope or in authorization_details, not both',
      );
    requested.actions = actions;
  }
  return { requested, scopeParam, viaDetails: details !== undefined };
}
