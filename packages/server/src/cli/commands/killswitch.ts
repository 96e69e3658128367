import type { KillSwitchLock } from '@mandate/sdk';
import { type Command, Option } from 'commander';
import { clientFrom } from '../client.js';
import { CliError, type GlobalOptions, printFields, printJson, printTable } from '../output.js';

/** `mandate killswitch lock|release|status`: the emergency stop. */
export function killSwitchCommands(program: Command, globals: () => GlobalOptions): void {
  const killswitch = program
    .command('killswitch')
    .description('stop an org, every agent of one owner, or one agent at once; release explicitly');

  killswitch
    .command('lock')
    .description('lock: every decision under the lock is denied from when this returns')
    .addOption(new Option('--org', 'lock the whole org').conflicts(['owner', 'agent']))
    .addOption(new Option('--owner <usr_id>', 'lock every agent this user owns').conflicts(['agent']))
    .option('--agent <agt_id>', 'lock one agent (and every chain it is part of)')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (options: { org?: boolean; owner?: string; agent?: string; reason: string }) => {
      const scope = options.org ? 'org' : options.owner ? 'owner' : options.agent ? 'agent' : undefined;
      if (!scope) throw new CliError('say what to lock: --org, --owner <usr_id> or --agent <agt_id>');
      const lock = await clientFrom(globals()).killSwitch.lock({
        scope,
        ...(options.owner ? { targetId: options.owner } : {}),
        ...(options.agent ? { targetId: options.agent } : {}),
        reason: options.reason,
      });
      if (globals().json) return printJson(lock);
      show(lock);
    });

  killswitch
    .command('release')
    .description('release a lock: what it stopped is usable again')
    .argument('<lock_id>', 'the lock (lck_…), from `mandate killswitch status`')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (lockId: string, options: { reason: string }) => {
      const lock = await clientFrom(globals()).killSwitch.release(lockId, options.reason);
      if (globals().json) return printJson(lock);
      show(lock);
    });

  killswitch
    .command('status')
    .description('the locks in force (with --all, released ones too)')
    .option('--all', 'include released locks')
    .action(async (options: { all?: boolean }) => {
      const page = await clientFrom(globals()).killSwitch.list({ all: options.all === true, limit: 200 });
      if (globals().json) return printJson(page.items);
      if (page.items.length === 0) return void process.stdout.write('no locks in force\n');
      printTable(
        page.items.map((l) => ({
          id: l.id,
          state: l.releasedAt ? 'released' : 'LOCKED',
          scope: l.scope,
          targetId: l.targetId,
          reason: l.reason,
          lockedAt: l.lockedAt,
          releasedAt: l.releasedAt,
        })),
        ['id', 'state', 'scope', 'targetId', 'reason', 'lockedAt', 'releasedAt'],
      );
    });
}

function show(lock: KillSwitchLock): void {
  printFields([
    ['lock', lock.id],
    ['state', lock.releasedAt ? 'released' : 'LOCKED'],
    ['scope', lock.scope],
    ['target', lock.targetId],
    ['reason', lock.reason],
    ['locked at', lock.lockedAt],
    ['released at', lock.releasedAt],
  ]);
}
