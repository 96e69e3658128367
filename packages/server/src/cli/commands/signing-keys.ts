import type { Command } from 'commander';
import { clientFrom } from '../client.js';
import { type GlobalOptions, printJson, printTable } from '../output.js';

/** The token signing keys: list and rotate (a platform key). */
export function signingKeyCommands(program: Command, globals: () => GlobalOptions): void {
  const keys = program
    .command('signing-keys')
    .description('the keys access tokens are signed with (needs a platform key)');

  keys
    .command('list')
    .description(
      'list the signing keys: the active one and retired ones (published until their tokens expire)',
    )
    .action(async () => {
      const { items } = await clientFrom(globals()).signingKeys.list();
      if (globals().json) return printJson(items);
      printTable(
        items.map((k) => ({ ...k, published: k.published ? 'yes' : 'no' })),
        ['kid', 'status', 'createdAt', 'retiredAt', 'publishUntil', 'published'],
      );
    });

  keys
    .command('rotate')
    .description('retire the active key and start signing with a new one')
    .option('--compromised', 'withdraw the old key at once: every token it signed stops working')
    .action(async (options: { compromised?: boolean }) => {
      const result = await clientFrom(globals()).signingKeys.rotate({ compromised: options.compromised });
      if (globals().json) return printJson(result);
      process.stdout.write(`signing with ${result.kid}; retired ${result.retired.join(', ') || '(none)'}\n`);
    });
}
