import type { Command } from 'commander';
import { clientFrom } from '../client.js';
import { type GlobalOptions, printFields, printJson, printTable } from '../output.js';
import { positiveInt } from '../parse.js';

type Globals = () => GlobalOptions;

/** Org management; `--key` must be a platform key. */
export function orgCommands(program: Command, globals: Globals): void {
  const orgs = program.command('orgs').description('manage orgs (needs a platform key)');

  orgs
    .command('create')
    .description('create an org; prints its first admin API key once')
    .requiredOption('--name <name>', 'org name')
    .action(async (options: { name: string }) => {
      const created = await clientFrom(globals()).orgs.create(options.name);
      if (globals().json) return printJson(created);
      printFields([
        ['id', created.org.id],
        ['name', created.org.name],
      ]);
      process.stdout.write(
        `\nAdmin API key (shown only now, store it safely):\n${created.adminKey.secret}\n`,
      );
    });

  orgs
    .command('list')
    .description('list orgs')
    .option('--limit <n>', 'page size (max 200)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (options) => {
      const page = await clientFrom(globals()).orgs.list(options);
      if (globals().json) return printJson(page);
      printTable(
        page.items.map((o) => ({ id: o.id, name: o.name, created: o.createdAt })),
        ['id', 'name', 'created'],
      );
    });

  orgs
    .command('show <orgId>')
    .description('show one org')
    .action(async (orgId: string) => {
      const org = await clientFrom(globals()).orgs.get(orgId);
      if (globals().json) return printJson(org);
      printFields([
        ['id', org.id],
        ['name', org.name],
        ['created', org.createdAt],
      ]);
    });
}
