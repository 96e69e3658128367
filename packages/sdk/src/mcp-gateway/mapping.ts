import type { UpstreamConfig } from './config.js';
import type { ToolAction } from './pdp.js';

/** The resource type of a tool when the operator maps none (COAZ-MCP's `tool`, named for Mandate's scopes). */
export const TOOL_RESOURCE_TYPE = 'mcp_tool';

export type MappedAction = { ok: true; action: ToolAction } | { ok: false; reason: string };

/**
 * A tools/call as an action request: action `mcp.<upstream>.<tool>` (or the operator's name),
 * resource `mcp_tool:<upstream>/<tool>` (or the operator's type with a fixed id or an argument's
 * value), the arguments as the action's properties (so argument constraints, limits and budgets
 * apply). Who acts is not here: it comes from the verified token only.
 */
export function mapToolCall(
  upstreamName: string,
  upstream: UpstreamConfig,
  tool: string,
  args: Record<string, unknown> | undefined,
  untrustedInput: boolean,
): MappedAction {
  const mapping = upstream.tools[tool];
  const action = mapping?.action ?? `${upstream.actionPrefix ?? `mcp.${upstreamName}.`}${tool}`;
  let resource: ToolAction['resource'] = { type: TOOL_RESOURCE_TYPE, id: `${upstreamName}/${tool}` };
  if (mapping?.resource) {
    let id = mapping.resource.id;
    if (mapping.resource.idFromArgument !== undefined) {
      const value = args?.[mapping.resource.idFromArgument];
      if (typeof value !== 'string' || value.length === 0 || value.length > 1024)
        return { ok: false, reason: `argument_missing: ${mapping.resource.idFromArgument}` };
      id = value;
    }
    resource = { type: mapping.resource.type, id: id as string };
  }
  return {
    ok: true,
    action: {
      action,
      resource,
      arguments: args ?? {},
      ...(mapping?.dataClass ? { dataClass: mapping.dataClass } : {}),
      ...(untrustedInput ? { untrustedInput: true } : {}),
    },
  };
}

/** For a listing: the tool's action without arguments (a mapped argument id is not known yet). */
export function mapToolListing(upstreamName: string, upstream: UpstreamConfig, tool: string): ToolAction {
  const mapping = upstream.tools[tool];
  return {
    action: mapping?.action ?? `${upstream.actionPrefix ?? `mcp.${upstreamName}.`}${tool}`,
    resource:
      mapping?.resource?.id !== undefined
        ? { type: mapping.resource.type, id: mapping.resource.id }
        : mapping?.resource
          ? // Any id of the mapped type: the listing asks about the tool, the call about its target.
            { type: mapping.resource.type, id: '*' }
          : { type: TOOL_RESOURCE_TYPE, id: `${upstreamName}/${tool}` },
    ...(mapping?.dataClass ? { dataClass: mapping.dataClass } : {}),
  };
}

/** Whether a tool's results are outside content (flags the session as having read untrusted input). */
export function isUntrustedContent(upstream: UpstreamConfig, tool: string): boolean {
  return upstream.tools[tool]?.untrustedContent === true || upstream.untrustedContentTools.includes(tool);
}
