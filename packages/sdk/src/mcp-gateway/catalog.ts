import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { McpGatewayConfig } from './config.js';
import type { MandatePdp } from './pdp.js';
import type { PinStatus, PinStore } from './pins.js';
import type { Upstream } from './upstreams.js';

/** One upstream tool as agents see it. */
export interface CatalogEntry {
  /** The name agents call (`<toolPrefix><tool>`). */
  exposed: string;
  upstream: Upstream;
  tool: Tool;
  /** `<upstream>/<tool>`: the pin id and the default resource id. */
  id: string;
  pin: PinStatus;
}

/**
 * What the upstreams offer now, with each tool's pin checked: read from the upstreams on every
 * listing, and reused by tools/call for `toolsCacheSeconds` (or until an upstream says its
 * tools changed). A tool seen for the first time is pinned; a changed one is reported to
 * Mandate once per new definition and stays blocked until an operator accepts it.
 */
export class ToolCatalog {
  private entries?: Map<string, CatalogEntry>;
  private readAt = 0;
  /** Upstreams that failed to list (their tools are absent: nothing unknown is callable). */
  readonly failures = new Map<string, string>();
  private readonly reported = new Set<string>();

  constructor(
    private readonly config: McpGatewayConfig,
    private readonly upstreams: Upstream[],
    private readonly pins: PinStore,
    private readonly pdp: MandatePdp,
    private readonly log: (message: string) => void,
  ) {
    for (const upstream of upstreams) upstream.onToolsChanged = () => this.invalidate();
  }

  invalidate(): void {
    this.entries = undefined;
  }

  /** Fresh from the upstreams (tools/list). */
  async list(): Promise<CatalogEntry[]> {
    return [...(await this.read()).values()];
  }

  /** One tool by its exposed name (tools/call): the cached listing if recent, else a fresh one. */
  async find(exposed: string): Promise<CatalogEntry | undefined> {
    const fresh = Date.now() - this.readAt < this.config.toolsCacheSeconds * 1000;
    const entries = this.entries && fresh ? this.entries : await this.read();
    const entry = entries.get(exposed);
    // A definition cached before an operator accepted it is re-checked against the pin file.
    if (entry) entry.pin = this.pins.check(entry.id, entry.tool);
    return entry;
  }

  private async read(): Promise<Map<string, CatalogEntry>> {
    const entries = new Map<string, CatalogEntry>();
    const collisions = new Set<string>();
    const lists = await Promise.all(
      this.upstreams.map(async (upstream) => {
        try {
          const tools = await upstream.listTools();
          this.failures.delete(upstream.name);
          return { upstream, tools };
        } catch (error) {
          this.failures.set(upstream.name, (error as Error).message);
          this.log(`upstream ${upstream.name}: tools/list failed (${(error as Error).message})`);
          return { upstream, tools: [] as Tool[] };
        }
      }),
    );
    for (const { upstream, tools } of lists) {
      const prefix = upstream.config.toolPrefix ?? `${upstream.name}__`;
      for (const tool of tools) {
        const exposed = `${prefix}${tool.name}`;
        // Two upstreams offering one name: neither is offered (no silent shadowing).
        if (entries.has(exposed) || collisions.has(exposed)) {
          collisions.add(exposed);
          entries.delete(exposed);
          continue;
        }
        const id = `${upstream.name}/${tool.name}`;
        const pin = this.pins.check(id, tool);
        if (pin.status === 'new') {
          this.pins.pin(id, pin.hash);
          await this.report('mcp.tool.pinned', id, pin.hash, { hash: pin.hash });
        } else if (pin.status === 'changed') {
          await this.report('mcp.tool.changed', id, pin.hash, {
            hash: pin.hash,
            pinned: pin.pinned,
            blocked: true,
          });
        }
        entries.set(exposed, {
          exposed,
          upstream,
          tool,
          id,
          pin: pin.status === 'new' ? { status: 'pinned', hash: pin.hash } : pin,
        });
      }
    }
    this.entries = entries;
    this.readAt = Date.now();
    return entries;
  }

  /** Once per (event, tool, definition) while this gateway runs; retried on the next read if Mandate failed. */
  private async report(
    type: 'mcp.tool.pinned' | 'mcp.tool.changed',
    id: string,
    hash: string,
    detail: Record<string, unknown>,
  ): Promise<void> {
    const key = `${type} ${id} ${hash}`;
    if (this.reported.has(key)) return;
    if (await this.pdp.event(type, id, detail)) this.reported.add(key);
    else this.log(`could not record ${type} for ${id} in Mandate (will retry)`);
  }
}
