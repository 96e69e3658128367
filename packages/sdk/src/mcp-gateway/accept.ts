import { type McpGatewayConfig, pepKeyOf, upstreamHeaders } from './config.js';
import { GATEWAY_VERSION, pinsFileOf, type StartOptions } from './gateway.js';
import { MandatePdp } from './pdp.js';
import { PinStore } from './pins.js';
import { Upstream } from './upstreams.js';

export interface AcceptResult {
  /** `<upstream>/<tool>` and what happened to its pin. */
  tools: Array<{ id: string; status: 'accepted' | 'unchanged' | 'pinned'; hash: string; previous?: string }>;
}

/**
 * An operator accepts the current definitions of changed tools: `ids` (`<upstream>/<tool>`), or
 * every changed tool with `all`. The upstreams are asked for their tools now (what is accepted
 * is what they offer at this moment), the pin file is updated, and each acceptance is recorded
 * in Mandate's audit log first: if Mandate cannot record it, nothing is accepted.
 */
export async function acceptTools(
  config: McpGatewayConfig,
  selection: { ids?: string[]; all?: boolean },
  options: StartOptions = {},
): Promise<AcceptResult> {
  const env = options.env ?? process.env;
  const pins = new PinStore(pinsFileOf(config, options.baseDir));
  const pdp = new MandatePdp({
    url: config.mandate.url,
    apiKey: pepKeyOf(config, env),
    fetch: options.fetch ?? globalThis.fetch,
    timeoutMs: config.mandate.timeoutMs,
  });
  const wanted = new Set(selection.ids ?? []);
  for (const id of wanted) {
    const [upstream] = id.split('/');
    if (!upstream || !config.upstreams[upstream] || !id.includes('/'))
      throw new Error(`${id}: not <upstream>/<tool> of a configured upstream`);
  }
  const result: AcceptResult = { tools: [] };
  const seen = new Set<string>();
  for (const [name, upstreamConfig] of Object.entries(config.upstreams)) {
    if (!selection.all && ![...wanted].some((id) => id.startsWith(`${name}/`))) continue;
    const upstream = new Upstream(
      name,
      upstreamConfig,
      upstreamHeaders(name, upstreamConfig, env),
      GATEWAY_VERSION,
    );
    try {
      for (const tool of await upstream.listTools()) {
        const id = `${name}/${tool.name}`;
        if (!selection.all && !wanted.has(id)) continue;
        seen.add(id);
        const pin = pins.check(id, tool);
        if (pin.status === 'pinned') {
          result.tools.push({ id, status: 'unchanged', hash: pin.hash });
          continue;
        }
        const type = pin.status === 'changed' ? 'mcp.tool.accepted' : 'mcp.tool.pinned';
        const detail = {
          hash: pin.hash,
          ...(pin.status === 'changed' ? { previous: pin.pinned } : {}),
          by: 'operator',
        };
        if (!(await pdp.event(type, id, detail)))
          throw new Error(`Mandate did not record the acceptance of ${id}: nothing accepted`);
        pins.accept(id, pin.hash);
        result.tools.push({
          id,
          status: pin.status === 'changed' ? 'accepted' : 'pinned',
          hash: pin.hash,
          ...(pin.status === 'changed' ? { previous: pin.pinned } : {}),
        });
      }
    } finally {
      await upstream.close();
    }
  }
  for (const id of wanted)
    if (!seen.has(id)) throw new Error(`${id}: the upstream does not offer this tool now`);
  return result;
}
