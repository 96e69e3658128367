/// <reference types="node" />
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

/**
 * One MCP session (Mcp-Session-Id), bound at initialize to the agent and the user of the token
 * that opened it: a request with another agent's token is refused, so one agent cannot borrow
 * (or clear) another's session state.
 */
export interface Session {
  id?: string;
  agentId: string;
  subject: string;
  /** The agent read outside content in this session: later decisions carry untrusted_input. */
  untrusted: boolean;
  transport: StreamableHTTPServerTransport;
  server: Server;
  lastUsed: number;
}

/** Most live sessions; an idle one past the limit is closed first. */
export class Sessions {
  private readonly byId = new Map<string, Session>();

  constructor(
    private readonly max = 10_000,
    private readonly idleMs = 60 * 60_000,
  ) {}

  get(id: string): Session | undefined {
    const session = this.byId.get(id);
    if (session) session.lastUsed = Date.now();
    return session;
  }

  add(session: Session & { id: string }): void {
    this.sweep();
    this.byId.set(session.id, session);
  }

  delete(id: string): void {
    this.byId.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }

  async closeAll(): Promise<void> {
    const all = [...this.byId.values()];
    this.byId.clear();
    await Promise.all(all.map((s) => s.transport.close().catch(() => undefined)));
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, session] of this.byId)
      if (now - session.lastUsed > this.idleMs || this.byId.size >= this.max) {
        this.byId.delete(id);
        void session.transport.close().catch(() => undefined);
      }
  }
}
