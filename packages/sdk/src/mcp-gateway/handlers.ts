/// <reference types="node" />
import { createHash } from 'node:crypto';
import { canonicalize } from '@mandate/core';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { ToolCatalog } from './catalog.js';
import type { Presentation } from './credential.js';
import { isUntrustedContent, mapToolCall, mapToolListing } from './mapping.js';
import type { MandatePdp, Verdict } from './pdp.js';
import type { Session } from './sessions.js';

export interface HandlerContext {
  catalog: ToolCatalog;
  pdp: MandatePdp;
  version: string;
  /** Background work (outcome records) the gateway waits for on close. */
  track(work: Promise<unknown>): void;
  log(message: string): void;
}

/** A tool result that refuses: names the reason code only, never policy detail. */
export function refusal(text: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }] };
}

const presentationOf = (extra: { authInfo?: { extra?: Record<string, unknown> } }): Presentation => {
  const presentation = extra.authInfo?.extra?.presentation as Presentation | undefined;
  // Unreachable behind the HTTP door; a handler never runs without the verified credential.
  if (!presentation) throw new McpError(ErrorCode.InvalidRequest, 'unauthenticated');
  return presentation;
};

/**
 * The MCP server agents talk to, for one session: it offers tools only (no resources, prompts
 * or completions: the gateway advertises only what it mediates), and the SDK answers every
 * other method with JSON-RPC "method not found". tools/list and tools/call go through the same
 * decision function (Mandate's pipeline), so an agent sees exactly the tools it may call now.
 */
export function gatewayServer(ctx: HandlerContext, session: Session): Server {
  const server = new Server(
    { name: 'mandate-mcp-gateway', version: ctx.version },
    { capabilities: { tools: { listChanged: false } } },
  );

  server.setRequestHandler(ListToolsRequestSchema, async (_request, extra) => {
    const presentation = presentationOf(extra);
    const entries = (await ctx.catalog.list()).filter((e) => e.pin.status === 'pinned');
    // One batch for the listing, carrying this request's one proof (Mandate verifies it once for
    // the batch). Asked as probes: the listing is recorded in Mandate's audit log, one record per
    // tool marked `probe`, but uses nothing (no limit, no approval request).
    const verdicts = await ctx.pdp.decideMany(
      presentation,
      entries
        .map((e) => mapToolListing(e.upstream.name, e.upstream.config, e.tool.name))
        .map((action) => ({ ...action, ...(session.untrusted ? { untrustedInput: true } : {}) })),
    );
    const tools: Tool[] = [];
    for (const [i, entry] of entries.entries()) {
      const verdict = verdicts[i];
      // Listed: what the agent may call now, or may ask a human for.
      if (verdict?.kind === 'allow' || verdict?.kind === 'approval_required')
        tools.push({ ...entry.tool, name: entry.exposed });
    }
    return { tools };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const presentation = presentationOf(extra);
    const { name, arguments: args } = request.params;
    const entry = await ctx.catalog.find(name);
    if (!entry) return refusal(`unknown_tool: ${name}`);
    if (entry.pin.status !== 'pinned')
      return refusal(
        `tool_changed: the definition of ${entry.id} changed since it was pinned; an operator must accept it (mandate mcp-gateway tools accept ${entry.id})`,
      );
    const mapped = mapToolCall(
      entry.upstream.name,
      entry.upstream.config,
      entry.tool.name,
      args,
      session.untrusted,
    );
    if (!mapped.ok) return refusal(`denied: ${mapped.reason}`);
    const verdict: Verdict = await ctx.pdp.decide(presentation, mapped.action);
    if (verdict.kind === 'unavailable') {
      ctx.log(`tools/call ${entry.id}: no decision (${verdict.detail}); not run`);
      return refusal('denied: mandate_unavailable');
    }
    if (verdict.kind === 'deny') return refusal(`denied: ${verdict.reason}`);
    if (verdict.kind === 'approval_required')
      return refusal(
        verdict.approvalId
          ? `approval_required: approval ${verdict.approvalId} is pending; call again once it is approved`
          : 'approval_required',
      );
    // Outside content read by this agent: every later decision of the session says so.
    if (isUntrustedContent(entry.upstream.config, entry.tool.name)) session.untrusted = true;
    const started = Date.now();
    let result: CallToolResult;
    let failure: string | undefined;
    try {
      result = await entry.upstream.callTool(entry.tool.name, args);
    } catch (error) {
      failure = error instanceof McpError ? `upstream error ${error.code}` : 'upstream unreachable';
      result = refusal(`upstream_error: ${entry.upstream.name}`);
    }
    const durationMs = Date.now() - started;
    ctx.track(
      ctx.pdp
        .outcome(verdict.decisionId, {
          status: failure || result.isError ? 'error' : 'success',
          resultDigest: digest(result),
          durationMs,
          ...(failure ? { error: failure } : {}),
        })
        .then((ok) => {
          if (!ok) ctx.log(`outcome of decision ${verdict.decisionId} not recorded`);
        }),
    );
    return result;
  });

  return server;
}

function digest(result: CallToolResult): string {
  let text: string;
  try {
    text = canonicalize(result as never);
  } catch {
    text = JSON.stringify(result);
  }
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
