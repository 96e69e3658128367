/// <reference types="node" />
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { type DoorCheck, readPresentation } from './credential.js';
import { gatewayServer, type HandlerContext } from './handlers.js';
import { KeysUnavailableError } from './jwks.js';
import {
  challenges,
  metadataPaths,
  protectedResourceMetadata,
  type ResourceIdentity,
} from './protected-resource.js';
import type { Session, Sessions } from './sessions.js';

export interface HttpContext {
  door: DoorCheck;
  identity: ResourceIdentity;
  path: string;
  maxBodyBytes: number;
  sessions: Sessions;
  handlers: HandlerContext;
}

/**
 * The gateway's HTTP side: the RFC 9728 metadata document (public), and the MCP endpoint, where
 * every request (POST, GET stream, DELETE) must present a valid Mandate token first.
 */
export function requestListener(ctx: HttpContext) {
  const metaPaths = new Set(metadataPaths(ctx.identity.resourceUrl));
  return async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const path = (req.url ?? '/').split('?')[0] as string;
      if (metaPaths.has(path)) {
        if (req.method !== 'GET' && req.method !== 'HEAD')
          return json(res, 405, { error: 'method_not_allowed' });
        return json(res, 200, protectedResourceMetadata(ctx.identity), {
          'access-control-allow-origin': '*',
        });
      }
      if (path !== ctx.path) return json(res, 404, { error: 'not_found' });
      await mcpRequest(ctx, req, res);
    } catch (error) {
      ctx.handlers.log(`request failed: ${(error as Error).message}`);
      if (!res.headersSent) json(res, 500, rpcError(-32603, 'internal error'));
      else res.end();
    }
  };
}

async function mcpRequest(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let checked: Awaited<ReturnType<typeof readPresentation>>;
  try {
    checked = await readPresentation(req, ctx.door);
  } catch (error) {
    if (error instanceof KeysUnavailableError) {
      ctx.handlers.log(`cannot verify tokens: ${error.message}`);
      return json(res, 503, rpcError(-32603, 'the authorization server is unavailable'));
    }
    throw error;
  }
  if (!checked.ok) {
    const detail = checked.error === 'invalid_request' ? undefined : checked;
    res.setHeader(
      'www-authenticate',
      challenges(ctx.identity, detail && { error: detail.error, description: detail.description }),
    );
    return json(
      res,
      401,
      rpcError(-32001, checked.error === 'invalid_request' ? 'authorization required' : checked.error),
    );
  }
  const presentation = checked.presentation;
  const claims = presentation.verified.claims;
  const auth: AuthInfo = {
    token: presentation.token,
    clientId: claims.client_id,
    scopes: [],
    expiresAt: claims.exp,
    extra: { presentation },
  };
  (req as IncomingMessage & { auth?: AuthInfo }).auth = auth;

  const body = req.method === 'POST' ? await readJson(req, ctx.maxBodyBytes) : undefined;
  if (body && !body.ok) return json(res, body.status, rpcError(-32700, body.message));
  const parsed = body?.ok ? body.value : undefined;

  const sessionId = req.headers['mcp-session-id'];
  if (typeof sessionId === 'string') {
    const session = ctx.sessions.get(sessionId);
    if (!session) return json(res, 404, rpcError(-32001, 'session not found'));
    if (session.agentId !== claims.client_id || session.subject !== claims.sub)
      return json(res, 403, rpcError(-32001, 'the session belongs to another agent'));
    await session.transport.handleRequest(req, res, parsed);
    return;
  }
  if (req.method !== 'POST' || !isInitializeRequest(parsed))
    return json(res, 400, rpcError(-32000, 'no session: send initialize first'));

  const session = {
    agentId: claims.client_id,
    subject: claims.sub,
    untrusted: false,
    lastUsed: Date.now(),
  } as Session;
  session.transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    // One JSON answer per POST (no SSE stream): the gateway sends no progress or server requests.
    enableJsonResponse: true,
    onsessioninitialized: (id) => {
      session.id = id;
      ctx.sessions.add(session as Session & { id: string });
    },
  });
  session.transport.onclose = () => {
    if (session.id) ctx.sessions.delete(session.id);
  };
  session.server = gatewayServer(ctx.handlers, session);
  await session.server.connect(session.transport);
  await session.transport.handleRequest(req, res, parsed);
}

async function readJson(
  req: IncomingMessage,
  max: number,
): Promise<{ ok: true; value: unknown } | { ok: false; status: number; message: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) return { ok: false, status: 413, message: 'request body too large' };
    chunks.push(chunk as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { ok: false, status: 400, message: 'parse error' };
  }
}

function rpcError(code: number, message: string) {
  return { jsonrpc: '2.0', error: { code, message }, id: null };
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}
