import { ROLES } from '@mandate/core';
import { type Command, Option } from 'commander';
import { clientFrom } from '../client.js';
import { type GlobalOptions, printFields, printJson, printTable } from '../output.js';
import { collectChoice, positiveInt } from '../parse.js';

type Globals = () => GlobalOptions;

export function apiKeyCommands(program: Command, globals: Globals): void {
  const keys = program
    .command('api-keys')
    .description('API keys for scripts, services and enforcement points');

  keys
    .command('create')
    .description('create an API key; its secret is printed once and never again')
    .requiredOption('--name <name>', 'what the key is for')
    .addOption(
      new Option('--role <role>', 'a role (repeatable)')
        .choices(ROLES)
        .argParser(collectChoice(ROLES))
        .makeOptionMandatory(),
    )
    .option('--user <userId>', 'the key acts for this user')
    .option('--expires-at <iso>', 'expiry')
    .action(async (options) => {
      const created = await clientFrom(globals()).apiKeys.create({
        name: options.name,
        roles: options.role,
        userId: options.user,
        expiresAt: options.expiresAt,
      });
      if (globals().json) return printJson(created);
      printFields([
        ['id', created.key.id],
        ['roles', created.key.roles.join(', ')],
        ['user', created.key.userId],
      ]);
      process.stdout.write(`\nSecret (shown only now, store it safely):\n${created.secret}\n`);
    });

  keys
    .command('list')
    .description('list API keys (never their secrets)')
    .option('--limit <n>', 'page size (max 200)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (options) => {
      const page = await clientFrom(globals()).apiKeys.list(options);
      if (globals().json) return printJson(page);
      printTable(
        page.items.map((k) => ({
          id: k.id,
          name: k.name,
          roles: k.roles.join(','),
          status: k.revokedAt ? 'revoked' : 'active',
          'last used': k.lastUsedAt ?? 'never',
        })),
        ['id', 'name', 'roles', 'status', 'last used'],
      );
      if (page.nextCursor) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
    });

  keys
    .command('show <keyId>')
    .description('show one API key')
    .action(async (keyId: string) => {
      const key = await clientFrom(globals()).apiKeys.get(keyId);
      if (globals().json) return printJson(key);
      printFields([
        ['id', key.id],
        ['name', key.name],
        ['roles', key.roles.join(', ')],
        ['user', key.userId],
        ['created', key.createdAt],
        ['expires', key.expiresAt],
        ['revoked', key.revokedAt],
        ['last used', key.lastUsedAt ?? 'never'],
      ]);
    });

  keys
    .command('revoke <keyId>')
    .description('revoke an API key (it stops working at once)')
    .option('--reason <text>', 'why')
    .action(async (keyId: string, options: { reason?: string }) => {
      const key = await clientFrom(globals()).apiKeys.revoke(keyId, options.reason);
      if (globals().json) return printJson(key);
      process.stdout.write(`${key.id} is revoked\n`);
    });
}
