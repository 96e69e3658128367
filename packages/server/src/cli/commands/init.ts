import { DEFAULT_ORG_SETTING } from '@mandate/engine';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { openEngine } from '../../runtime/open-engine.js';
import { CliError, type GlobalOptions, printJson } from '../output.js';

/**
 * Prepares a data folder: the database, the default org with its first admin key, and a
 * platform key. Both keys are printed once; running it again changes nothing.
 */
export function initCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('init')
    .description('create the data folder, the default org, an admin key and a platform key (printed once)')
    .option('--config <file>', 'configuration file')
    .option('--data-dir <dir>', 'where the data lives (default ./.mandate)')
    .option('--new-platform-key', 'on an initialised folder: create one more platform key and print it')
    .action(async (options: { config?: string; dataDir?: string; newPlatformKey?: boolean }) => {
      const config = loadConfig({ file: options.config, overrides: { dataDir: options.dataDir } });
      const { engine, dataDir } = openEngine(config);
      try {
        const initialised = Boolean(await engine.store.platform.getSetting(DEFAULT_ORG_SETTING));
        if (initialised && options.newPlatformKey) {
          // Whoever can write the data folder already controls the server; this is no escalation.
          const platformKey = await engine.orgs.createPlatformKey(
            'created by mandate init --new-platform-key',
          );
          if (globals().json) return printJson({ dataDir, platformKey });
          process.stdout.write(
            `Platform key (shown only now; manages orgs through /v1/orgs):\n  ${platformKey}\n`,
          );
          return;
        }
        if (initialised) {
          throw new CliError(
            `${dataDir} is already initialised (keys are shown only once; --new-platform-key makes another platform key)`,
          );
        }
        const { org, created } = await engine.orgs.ensureDefaultOrg({ withAdminKey: true });
        const platformKey = await engine.orgs.createPlatformKey('created by mandate init');
        const adminKey = created?.adminKey?.secret;
        if (globals().json) return printJson({ dataDir, orgId: org.id, adminKey, platformKey });
        process.stdout.write(
          [
            `Initialised ${dataDir}`,
            `Default org: ${org.id}`,
            'These keys are shown only now; store them safely.',
            `Admin API key (org ${org.id}):`,
            `  ${adminKey}`,
            'Platform key (manages orgs through /v1/orgs):',
            `  ${platformKey}`,
            '',
          ].join('\n'),
        );
      } finally {
        await engine.store.close();
      }
    });
}
