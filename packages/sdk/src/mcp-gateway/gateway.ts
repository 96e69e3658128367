/// <reference types="node" />
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MemoryReplayCache } from '@mandate/core';
import { ToolCatalog } from './catalog.js';
import {
  type McpGatewayConfig,
  type McpGatewayConfigInput,
  parseGatewayConfig,
  pepKeyOf,
  upstreamHeaders,
} from './config.js';
import { requestListener } from './http.js';
import { mandateKeys } from './jwks.js';
import { MandatePdp } from './pdp.js';
import { PinStore } from './pins.js';
import { Sessions } from './sessions.js';
import { Upstream } from './upstreams.js';

export const GATEWAY_VERSION = '0.1.0';

export interface StartOptions {
  /** fetch for every call to Mandate (JWKS, decisions, outcomes, events); default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Where the pin file goes by default (the config file's folder); default the working directory. */
  baseDir?: string;
  env?: Record<string, string | undefined>;
  log?: (message: string) => void;
}

export interface McpGateway {
  /** The MCP endpoint agents connect to (publicUrl + path). */
  url: string;
  /** The address it listens on. */
  address: { host: string; port: number };
  /** Waits for background work (outcome records sent to Mandate). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the MCP gateway: an MCP server to agents over Streamable HTTP (Mandate tokens with
 * DPoP), an MCP client to each upstream, and Mandate as the decision point for every listing
 * and call. Upstreams are connected lazily, on the first listing.
 */
export async function startMcpGateway(
  input: McpGatewayConfigInput | McpGatewayConfig,
  options: StartOptions = {},
): Promise<McpGateway> {
  const config = parseGatewayConfig(input);
  const env = options.env ?? process.env;
  const log = options.log ?? ((message: string) => process.stderr.write(`mcp-gateway: ${message}\n`));
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const apiKey = pepKeyOf(config, env);
  const upstreams = Object.entries(config.upstreams).map(
    ([name, upstream]) => new Upstream(name, upstream, upstreamHeaders(name, upstream, env), GATEWAY_VERSION),
  );
  const pins = new PinStore(pinsFileOf(config, options.baseDir));
  const pdp = new MandatePdp({
    url: config.mandate.url,
    apiKey,
    fetch: fetchImpl,
    timeoutMs: config.mandate.timeoutMs,
  });
  const catalog = new ToolCatalog(config, upstreams, pins, pdp, log);
  const sessions = new Sessions();
  const pending = new Set<Promise<unknown>>();

  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const publicUrl = (config.publicUrl ?? `http://${hostForUrl(config.listen.host)}:${address.port}`).replace(
    /\/+$/,
    '',
  );
  const resourceUrl = `${publicUrl}${config.path}`;
  const issuer = (config.mandate.issuer ?? config.mandate.url).replace(/\/+$/, '');
  const identity = { resourceUrl, authorizationServer: issuer, allowBearer: config.allowBearer };
  server.on(
    'request',
    requestListener({
      door: {
        keys: mandateKeys(config.mandate.url, fetchImpl, config.mandate.timeoutMs),
        issuer,
        audiences: config.audiences ?? [resourceUrl],
        allowBearer: config.allowBearer,
        replay: new MemoryReplayCache(),
        resourceUrl,
      },
      identity,
      path: config.path,
      maxBodyBytes: config.maxBodyBytes,
      sessions,
      handlers: {
        catalog,
        pdp,
        version: GATEWAY_VERSION,
        log,
        track(work) {
          const tracked = work.catch(() => undefined).finally(() => pending.delete(tracked));
          pending.add(tracked);
        },
      },
    }),
  );

  const settled = async () => {
    while (pending.size > 0) await Promise.all([...pending]);
  };
  return {
    url: resourceUrl,
    address: { host: address.address, port: address.port },
    settled,
    async close() {
      await sessions.closeAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await settled();
      await Promise.all(upstreams.map((u) => u.close()));
    },
  };
}

/** The pin file: as configured (relative to the config's folder), or beside the config. */
export function pinsFileOf(config: McpGatewayConfig, baseDir = process.cwd()): string {
  return path.resolve(baseDir, config.pinsFile ?? 'mcp-gateway-pins.json');
}

const hostForUrl = (host: string) =>
  host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
