import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { startServer } from '../../runtime/start-server.js';
import { positiveInt } from '../parse.js';

export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('run the Mandate server (embedded SQLite under ./.mandate by default)')
    .option('--config <file>', 'configuration file (default: ./mandate.yaml if present, or MANDATE_CONFIG)')
    .option('--port <port>', 'port to listen on (MANDATE_PORT, default 7070)', positiveInt)
    .option('--host <host>', 'address to listen on (MANDATE_HOST, default 127.0.0.1)')
    .option('--data-dir <dir>', 'where the data lives (MANDATE_DATA_DIR, default ./.mandate)')
    .action(async (options: { config?: string; port?: number; host?: string; dataDir?: string }) => {
      const config = loadConfig({
        file: options.config,
        overrides: { port: options.port, host: options.host, dataDir: options.dataDir },
      });
      const server = await startServer(config, (line) => process.stdout.write(`${line}\n`));
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`${signal}: stopping\n`);
        await server.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
}
