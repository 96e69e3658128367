/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) for the gateway, as the MCP authorization
 * spec asks of an MCP server: where agents get tokens (Mandate), that tokens must be DPoP-bound,
 * and the `WWW-Authenticate` challenge of a 401 that points at this document.
 */
export interface ResourceIdentity {
  /** The resource identifier: the gateway's MCP endpoint URL (publicUrl + path). */
  resourceUrl: string;
  /** Mandate's issuer URL. */
  authorizationServer: string;
  allowBearer: boolean;
}

/** RFC 9728 §3.1: the well-known URI is inserted between the host and the resource's path. */
export function metadataUrl(resourceUrl: string): string {
  const url = new URL(resourceUrl);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}

/** The paths the document is served at: the RFC's path-inserted form, and the root form. */
export function metadataPaths(resourceUrl: string): string[] {
  return [...new Set([new URL(metadataUrl(resourceUrl)).pathname, '/.well-known/oauth-protected-resource'])];
}

export function protectedResourceMetadata(identity: ResourceIdentity): Record<string, unknown> {
  return {
    resource: identity.resourceUrl,
    authorization_servers: [identity.authorizationServer],
    bearer_methods_supported: ['header'],
    resource_name: 'Mandate MCP gateway',
    // RFC 9449 §5.2 / RFC 9728 §2: tokens must be bound to the agent's key unless Bearer is allowed.
    dpop_signing_alg_values_supported: ['EdDSA', 'ES256'],
    dpop_bound_access_tokens_required: !identity.allowBearer,
  };
}

/** The 401 challenges: DPoP (RFC 9449 §7.1) and Bearer (RFC 6750), each naming the metadata (RFC 9728 §5.1). */
export function challenges(
  identity: ResourceIdentity,
  error?: { error: string; description: string },
): string[] {
  const meta = `resource_metadata="${metadataUrl(identity.resourceUrl)}"`;
  const detail = error ? `, error="${error.error}", error_description="${quote(error.description)}"` : '';
  const dpop = `DPoP algs="EdDSA ES256", ${meta}${detail}`;
  const bearer = `Bearer ${meta}${error && identity.allowBearer ? detail : ''}`;
  return identity.allowBearer ? [bearer, dpop] : [dpop, bearer];
}

const quote = (text: string) => text.replace(/["\\\r\n]/g, ' ').slice(0, 200);
