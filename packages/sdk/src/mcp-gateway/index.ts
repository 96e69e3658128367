/**
 * `@mandate/sdk/mcp-gateway`: an MCP gateway that makes Mandate the decision point for every
 * tool an agent lists or calls (docs/mcp-gateway.md). Node.js only (it listens on HTTP and
 * spawns stdio servers); needs the optional peer dependencies @modelcontextprotocol/sdk and zod.
 */
export { type AcceptResult, acceptTools } from './accept.js';
export {
  GatewayConfigError,
  gatewayConfigSchema,
  type McpGatewayConfig,
  type McpGatewayConfigInput,
  parseGatewayConfig,
  type ToolMapping,
  type UpstreamConfig,
} from './config.js';
export {
  GATEWAY_VERSION,
  type McpGateway,
  pinsFileOf,
  type StartOptions,
  startMcpGateway,
} from './gateway.js';
export { definitionHash, type Pin, PinStore, type ToolDefinition } from './pins.js';
export { metadataUrl, protectedResourceMetadata } from './protected-resource.js';
