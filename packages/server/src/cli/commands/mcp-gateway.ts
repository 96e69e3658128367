import fs from 'node:fs';
import path from 'node:path';
import {
  acceptTools,
  GatewayConfigError,
  type McpGatewayConfig,
  parseGatewayConfig,
  startMcpGateway,
} from '@mandate/sdk/mcp-gateway';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { CliError, type GlobalOptions, printJson, printTable } from '../output.js';

/** The `mcpGateway:` section of the YAML file, validated; every problem is one line naming the key. */
function readGatewayConfig(file: string | undefined): { config: McpGatewayConfig; baseDir: string } {
  const name = file ?? process.env.MANDATE_CONFIG ?? 'mandate.yaml';
  const resolved = path.resolve(name);
  let text: string;
  try {
    text = fs.readFileSync(resolved, 'utf8');
  } catch (error) {
    throw new CliError(
      `${name}: cannot read the configuration file (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new CliError(
      `${name}: not valid YAML (${(error as Error).message.split('\n')[0]?.replace(/:$/, '')})`,
    );
  }
  const section = (parsed as { mcpGateway?: unknown } | null)?.mcpGateway;
  if (section === undefined) throw new CliError(`${name}: no mcpGateway section`);
  try {
    return { config: parseGatewayConfig(section), baseDir: path.dirname(resolved) };
  } catch (error) {
    if (error instanceof GatewayConfigError) throw new CliError(`${name}: ${error.message}`);
    throw error;
  }
}

export function mcpGatewayCommands(program: Command, globals: () => GlobalOptions): void {
  const gateway = program
    .command('mcp-gateway')
    .description(
      'run the MCP gateway: Mandate decides every tool an agent lists or calls (docs/mcp-gateway.md)',
    )
    .option(
      '--config <file>',
      'configuration file with an mcpGateway section (default ./mandate.yaml or MANDATE_CONFIG)',
    )
    .action(async (options: { config?: string }) => {
      const { config, baseDir } = readGatewayConfig(options.config);
      let started: Awaited<ReturnType<typeof startMcpGateway>>;
      try {
        started = await startMcpGateway(config, { baseDir });
      } catch (error) {
        if (error instanceof GatewayConfigError) throw new CliError(error.message);
        throw error;
      }
      // One write, the "listening" line last: whoever waits for it has the whole banner.
      process.stdout.write(
        `mcp-gateway: decisions from ${config.mandate.url}; upstreams: ${Object.keys(config.upstreams).join(', ')}\n` +
          `mcp-gateway: listening on ${started.url}\n`,
      );
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`${signal}: stopping\n`);
        await started.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });

  const tools = gateway.command('tools').description("the upstream tools' pins");
  tools
    .command('accept')
    .description(
      'accept the current definition of changed tools (<upstream>/<tool> ..., or --all); recorded in Mandate',
    )
    .argument('[tools...]', 'tools as <upstream>/<tool>')
    .option('--config <file>', 'configuration file with an mcpGateway section')
    .option('--all', 'every changed (or new) tool of every upstream')
    .action(async (ids: string[], options: { config?: string; all?: boolean }) => {
      if (ids.length === 0 && !options.all)
        throw new CliError('name the tools (<upstream>/<tool>) or pass --all');
      if (ids.length > 0 && options.all) throw new CliError('name tools or pass --all, not both');
      const configFile = options.config ?? gateway.opts<{ config?: string }>().config;
      const { config, baseDir } = readGatewayConfig(configFile);
      let result: Awaited<ReturnType<typeof acceptTools>>;
      try {
        result = await acceptTools(config, { ids, all: options.all === true }, { baseDir });
      } catch (error) {
        throw new CliError((error as Error).message);
      }
      if (globals().json) return printJson(result);
      printTable(
        result.tools.map((tool) => ({ tool: tool.id, status: tool.status, hash: tool.hash.slice(0, 16) })),
        ['tool', 'status', 'hash'],
      );
    });
}
