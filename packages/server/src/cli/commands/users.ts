import { ROLES } from '@mandate/core';
import type { User } from '@mandate/sdk';
import { type Command, Option } from 'commander';
import { clientFrom } from '../client.js';
import { type GlobalOptions, printFields, printJson, printTable } from '../output.js';
import { collectChoice, positiveInt } from '../parse.js';

type Globals = () => GlobalOptions;

function showUser(user: User, json: boolean | undefined): void {
  if (json) {
    printJson(user);
    return;
  }
  printFields([
    ['id', user.id],
    ['name', user.displayName],
    ['email', user.email],
    ['kind', user.kind],
    ['issuer', user.issuer],
    ['subject', user.subject],
    ['roles', user.roles.join(', ')],
    ['status', user.status],
  ]);
}

const roleOption = () =>
  new Option('--role <role>', 'a role (repeatable)').choices(ROLES).argParser(collectChoice(ROLES));

export function userCommands(program: Command, globals: Globals): void {
  const users = program.command('users').description('the humans who own agents, delegate and approve');

  users
    .command('create')
    .description('create a local user, or pre-register a user of a trusted OIDC issuer')
    .requiredOption('--name <name>', 'display name')
    .option('--email <email>', 'email address')
    .addOption(roleOption())
    .option('--issuer <url>', 'OIDC issuer (with --subject)')
    .option('--subject <sub>', 'OIDC subject (with --issuer)')
    .action(async (options) => {
      const user = await clientFrom(globals()).users.create({
        displayName: options.name,
        email: options.email,
        roles: options.role,
        issuer: options.issuer,
        subject: options.subject,
      });
      showUser(user, globals().json);
    });

  users
    .command('list')
    .description('list users')
    .option('--status <status>', 'active or offboarded')
    .option('--kind <kind>', 'local or oidc')
    .option('--limit <n>', 'page size (max 200)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (options) => {
      const page = await clientFrom(globals()).users.list(options);
      if (globals().json) return printJson(page);
      printTable(
        page.items.map((u) => ({
          id: u.id,
          name: u.displayName,
          kind: u.kind,
          roles: u.roles.join(','),
          status: u.status,
        })),
        ['id', 'name', 'kind', 'roles', 'status'],
      );
      if (page.nextCursor) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
    });

  users
    .command('show <userId>')
    .description('show one user')
    .action(async (userId: string) =>
      showUser(await clientFrom(globals()).users.get(userId), globals().json),
    );

  users
    .command('update <userId>')
    .description("change a user's name, email or roles")
    .option('--name <name>', 'display name')
    .option('--email <email>', 'email address')
    .addOption(roleOption())
    .action(async (userId: string, options) => {
      const user = await clientFrom(globals()).users.update(userId, {
        displayName: options.name,
        email: options.email,
        roles: options.role,
      });
      showUser(user, globals().json);
    });

  users
    .command('offboard <userId>')
    .description('the user leaves (transfer their agents first)')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (userId: string, options: { reason: string }) => {
      const user = await clientFrom(globals()).users.offboard(userId, options.reason);
      if (globals().json) return printJson(user);
      process.stdout.write(`${user.id} is offboarded\n`);
    });
}
