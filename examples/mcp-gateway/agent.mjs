#!/usr/bin/env node
/**
 * A minimal agent for the MCP gateway: gets a DPoP-bound token for the gateway (token exchange
 * with `resource` = the gateway's URL), connects with the MCP SDK's client, sending a fresh DPoP
 * proof with every HTTP request, lists its tools and calls one.
 *
 *   node examples/mcp-gateway/agent.mjs --gateway http://127.0.0.1:7080/mcp --agent agt_… \
 *     --key-file agent.jwk --delegation dlg_… [--call everything__echo --args '{"message":"hi"}']
 *
 * Mandate's URL is MANDATE_URL (default http://127.0.0.1:7070). Run `npx tsc -b` first.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { AgentCredentials } from '@mandate/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const { values } = parseArgs({
  options: {
    gateway: { type: 'string', default: 'http://127.0.0.1:7080/mcp' },
    agent: { type: 'string' },
    'key-file': { type: 'string' },
    delegation: { type: 'string' },
    call: { type: 'string' },
    args: { type: 'string', default: '{}' },
  },
});
if (!values.agent || !values['key-file'] || !values.delegation) {
  console.error('agent.mjs: give --agent, --key-file and --delegation');
  process.exit(2);
}
const creds = new AgentCredentials({
  url: process.env.MANDATE_URL ?? 'http://127.0.0.1:7070',
  agentId: values.agent,
  privateJwk: JSON.parse(fs.readFileSync(values['key-file'], 'utf8')),
});
const token = await creds.exchange({ delegation: values.delegation, resource: [values.gateway] });
const dpopFetch = async (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `DPoP ${token.access_token}`);
  headers.set('dpop', await creds.dpopProof(init.method ?? 'GET', values.gateway, token.access_token));
  return fetch(input, { ...init, headers });
};
const client = new Client({ name: 'example-agent', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(values.gateway), { fetch: dpopFetch }));
const { tools } = await client.listTools();
console.log(`tools I may call: ${tools.map((t) => t.name).join(', ') || '(none)'}`);
if (values.call) {
  const result = await client.callTool({ name: values.call, arguments: JSON.parse(values.args) });
  console.log(
    `${values.call}: ${result.isError ? 'REFUSED ' : ''}${result.content.map((c) => c.text ?? c.type).join(' ')}`,
  );
}
await client.close();
