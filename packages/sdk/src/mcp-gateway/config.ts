import { z } from 'zod';

const DATA_CLASSES = ['public', 'internal', 'confidential', 'restricted'] as const;
/** Upstream names become part of action names (`mcp.<upstream>.<tool>`) and resource ids. */
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** How one upstream tool maps to an action request (COAZ "declared mapping", set by the operator). */
const toolMapping = z.strictObject({
  /** The action name (default `<actionPrefix><tool>`). */
  action: z.string().min(1).max(256).optional(),
  /** The resource (default `{ type: 'mcp_tool', id: '<upstream>/<tool>' }`). */
  resource: z
    .strictObject({
      type: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'a plain type name (letters, digits, _)'),
      /** A fixed id, or ... */
      id: z.string().min(1).max(1024).optional(),
      /** ... the id taken from this (string) argument of the call. */
      idFromArgument: z.string().min(1).max(128).optional(),
    })
    .refine((r) => (r.id === undefined) !== (r.idFromArgument === undefined), {
      message: 'give exactly one of id, idFromArgument',
    })
    .optional(),
  dataClass: z.enum(DATA_CLASSES).optional(),
  /** The tool's result is outside content (web, mail): the session is flagged untrusted after it. */
  untrustedContent: z.boolean().optional(),
});

const upstream = z
  .strictObject({
    /** A stdio server: the command and its arguments. */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    cwd: z.string().optional(),
    /** Environment of the command (added to a minimal default environment). */
    env: z.record(z.string(), z.string()).optional(),
    /** A Streamable HTTP server. */
    url: z.url().optional(),
    /** The gateway's OWN credential for this upstream (never the agent's token): static headers ... */
    headers: z.record(z.string(), z.string()).optional(),
    /** ... or headers whose value is read from an environment variable (header → variable name). */
    headersFromEnv: z.record(z.string(), z.string()).optional(),
    /** Action names are `<actionPrefix><tool>` (default `mcp.<upstream>.`). */
    actionPrefix: z.string().max(128).optional(),
    /** Tool names agents see are `<toolPrefix><tool>` (default `<upstream>__`; '' for none). */
    toolPrefix: z.string().max(64).optional(),
    /** Tools whose results are outside content (shorthand for tools.<name>.untrustedContent). */
    untrustedContentTools: z.array(z.string()).default([]),
    tools: z.record(z.string(), toolMapping).default({}),
    /** Longest a tool call upstream may take. */
    timeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
  })
  .refine((u) => (u.command === undefined) !== (u.url === undefined), {
    message: 'give exactly one of command (stdio) or url (Streamable HTTP)',
  });

export const gatewayConfigSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(7080),
    })
    .default({ host: '127.0.0.1', port: 7080 }),
  /** The URL agents use (default http://<host>:<port>); DPoP proofs name it with `path`. */
  publicUrl: z.url().optional(),
  /** The MCP endpoint's path. */
  path: z
    .string()
    .regex(/^\/[A-Za-z0-9/_-]*$/, 'a path starting with /')
    .default('/mcp'),
  mandate: z.strictObject({
    /** Mandate's public URL (its token issuer unless `issuer` says otherwise). */
    url: z.url(),
    issuer: z.url().optional(),
    /** The gateway's API key with the `pep` role, or the name of the variable that holds it. */
    apiKey: z.string().min(1).optional(),
    apiKeyEnv: z.string().min(1).optional(),
    timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
  }),
  /**
   * Audiences an agent's token must name one of (default: the gateway's resource URL). Adding
   * Mandate's URL accepts tokens minted without `resource`.
   */
  audiences: z.array(z.string().min(1)).min(1).optional(),
  /** Accept unbound (Bearer) tokens; default false: DPoP only. */
  allowBearer: z.boolean().default(false),
  /** Where tool pins are kept (default mcp-gateway-pins.json beside the config file, or the cwd). */
  pinsFile: z.string().min(1).optional(),
  /** How long a listing of the upstream tools serves tools/call before it is read again. */
  toolsCacheSeconds: z.number().int().min(0).max(3600).default(30),
  /** Largest request body (bytes). */
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(4 * 1024 * 1024),
  upstreams: z
    .record(z.string().regex(NAME, 'an upstream name: a letter, then letters, digits, _ or -'), upstream)
    .refine((u) => Object.keys(u).length > 0, { message: 'name at least one upstream' }),
});

export type McpGatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type McpGatewayConfig = z.output<typeof gatewayConfigSchema>;
export type UpstreamConfig = McpGatewayConfig['upstreams'][string];
export type ToolMapping = z.output<typeof toolMapping>;

/** A bad configuration: the message is one line naming the key (`mcpGateway.upstreams.x.url: …`). */
export class GatewayConfigError extends Error {
  override readonly name = 'GatewayConfigError';
}

/** Validates a configuration (the `mcpGateway:` section of mandate.yaml, or an object from code). */
export function parseGatewayConfig(raw: unknown, prefix = 'mcpGateway'): McpGatewayConfig {
  const parsed = gatewayConfigSchema.safeParse(raw ?? {});
  if (parsed.success) {
    const config = parsed.data;
    if (config.mandate.apiKey === undefined && config.mandate.apiKeyEnv === undefined)
      throw new GatewayConfigError(
        `${prefix}.mandate.apiKey: give the pep API key, or apiKeyEnv naming its variable`,
      );
    return config;
  }
  const issue = parsed.error.issues[0];
  const where = [prefix, ...(issue?.path ?? []).map(String)].join('.');
  throw new GatewayConfigError(`${where}: ${issue?.message ?? 'invalid'}`);
}

/** The API key the gateway asks Mandate with: the configured one, or the named variable's value. */
export function pepKeyOf(config: McpGatewayConfig, env: Record<string, string | undefined>): string {
  if (config.mandate.apiKey !== undefined) return config.mandate.apiKey;
  const name = config.mandate.apiKeyEnv as string;
  const value = env[name];
  if (!value) throw new GatewayConfigError(`mcpGateway.mandate.apiKeyEnv: the variable ${name} is not set`);
  return value;
}

/** Headers the gateway sends an HTTP upstream: its own credential, from the config or the environment. */
export function upstreamHeaders(
  name: string,
  upstream: UpstreamConfig,
  env: Record<string, string | undefined>,
): Record<string, string> {
  const headers: Record<string, string> = { ...(upstream.headers ?? {}) };
  for (const [header, variable] of Object.entries(upstream.headersFromEnv ?? {})) {
    const value = env[variable];
    if (!value)
      throw new GatewayConfigError(
        `mcpGateway.upstreams.${name}.headersFromEnv.${header}: the variable ${variable} is not set`,
      );
    headers[header] = value;
  }
  return headers;
}
