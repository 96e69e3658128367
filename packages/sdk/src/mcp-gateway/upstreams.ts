/// <reference types="node" />
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type CallToolResult,
  type Tool,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamConfig } from './config.js';

/** Most tools read from one upstream (pages of tools/list). */
const MAX_TOOLS = 1000;

/**
 * One upstream MCP server, with the gateway as its client: a stdio command or a Streamable HTTP
 * URL. The gateway authenticates to it with its own configured headers only; the agent's token
 * never goes upstream (no token passthrough).
 */
export class Upstream {
  private client?: Client;
  private connecting?: Promise<Client>;
  /** Called when the upstream says its tools changed. */
  onToolsChanged?: () => void;

  constructor(
    readonly name: string,
    readonly config: UpstreamConfig,
    private readonly headers: Record<string, string>,
    private readonly gatewayVersion: string,
  ) {}

  async listTools(): Promise<Tool[]> {
    const client = await this.connected();
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {}, { timeout: this.config.timeoutMs });
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor && tools.length < MAX_TOOLS);
    return tools.slice(0, MAX_TOOLS);
  }

  async callTool(name: string, args: Record<string, unknown> | undefined): Promise<CallToolResult> {
    const client = await this.connected();
    return (await client.callTool({ name, arguments: args ?? {} }, undefined, {
      timeout: this.config.timeoutMs,
    })) as CallToolResult;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => undefined);
  }

  private connected(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<Client> {
    const client = new Client({ name: 'mandate-mcp-gateway', version: this.gatewayVersion });
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => this.onToolsChanged?.());
    const transport: Transport = this.config.url
      ? new StreamableHTTPClientTransport(new URL(this.config.url), {
          requestInit: { headers: this.headers },
        })
      : new StdioClientTransport({
          command: this.config.command as string,
          args: this.config.args,
          cwd: this.config.cwd,
          env: { ...getDefaultEnvironment(), ...(this.config.env ?? {}) },
          stderr: 'ignore',
        });
    // A closed connection is opened again on the next use.
    transport.onclose = () => {
      if (this.client === client) this.client = undefined;
    };
    await client.connect(transport, { timeout: this.config.timeoutMs });
    this.client = client;
    return client;
  }
}
