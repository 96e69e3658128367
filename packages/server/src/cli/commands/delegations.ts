import { DATA_CLASSES } from '@mandate/core';
import type { DelegationView } from '@mandate/sdk';
import { type Command, Option } from 'commander';
import { clientFrom } from '../client.js';
import { CliError, type GlobalOptions, printFields, printJson, printTable } from '../output.js';
import { collect, positiveInt, readJsonFile } from '../parse.js';

type Globals = () => GlobalOptions;

function showDelegation(d: DelegationView, json: boolean | undefined): void {
  if (json) {
    printJson(d);
    return;
  }
  printFields([
    ['id', d.id],
    ['purpose', d.purpose],
    [
      'status',
      d.live ? `${d.status}, live` : `${d.status}, not usable${d.liveness ? ` (${d.liveness})` : ''}`,
    ],
    ['root user', d.rootUserId],
    ['delegator', `${d.delegator.kind}:${d.delegator.id}`],
    ['delegate', d.delegateAgentId],
    ['parent', d.parentId],
    ['depth', d.depth],
    ['actions', d.scope.actions.join(', ')],
    ['resources', d.scope.resources.join(', ')],
    ['data class', d.scope.dataClass],
    ['environments', d.scope.environments?.join(', ')],
    ['expires', d.scope.expiresAt],
    ['re-delegation', d.scope.maxDepth > 0 ? `${d.scope.maxDepth} more hop(s)` : 'none'],
    ['approval for', d.scope.requireApproval?.join(', ')],
    ['standing', d.standing ? 'yes (the agent acts on it autonomously)' : undefined],
    ['approvers', d.approvers?.length ? d.approvers.join(', ') : undefined],
  ]);
}

/** `2h`, `30m`, `1d` or an ISO date → ISO date. */
function expiryFrom(text: string): string {
  const match = /^(\d{1,6})([mhd])$/.exec(text);
  if (match) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'm' | 'h' | 'd'];
    return new Date(Date.now() + Number(match[1]) * unit).toISOString();
  }
  if (Number.isNaN(Date.parse(text)))
    throw new CliError(`--expires: expected 30m, 2h, 1d or an ISO date, got ${text}`);
  return new Date(text).toISOString();
}

export function delegationCommands(program: Command, globals: Globals): void {
  const delegations = program
    .command('delegations')
    .description('grant agents scoped authority, and revoke it');

  delegations
    .command('grant')
    .description('grant an agent scoped authority for a purpose (an admin records it for a named user)')
    .requiredOption('--agent <agentId>', 'the delegate agent (agt_…)')
    .requiredOption('--purpose <text>', 'what the authority is for')
    .requiredOption('--action <pattern>', 'an action pattern (repeatable, e.g. email.read)', collect)
    .requiredOption('--resource <pattern>', 'a resource pattern (repeatable, e.g. mailbox:alice/*)', collect)
    .requiredOption('--expires <when>', 'until when: 30m, 2h, 1d or an ISO date')
    .option('--for <userId>', 'the user the grant is made for (required with an admin key)')
    .option('--standing', "a standing grant the agent acts on autonomously (only the agent's owner)")
    .addOption(
      new Option('--data-class <class>', 'highest data class (default public)').choices(DATA_CLASSES),
    )
    .option('--env <environment>', 'an environment (repeatable)', collect)
    .option('--max-depth <n>', 'further re-delegations allowed (default 0)', positiveInt)
    .option('--max-uses <n>', 'uses allowed', positiveInt)
    .option('--rate <n>', 'uses per minute allowed', positiveInt)
    .option('--require-approval <pattern>', 'actions that need a human yes (repeatable)', collect)
    .option(
      '--approver <who>',
      'besides you, who may approve: a user id (usr_…) or role:<role> (repeatable)',
      collect,
    )
    .option(
      '--scope-file <file>',
      'the whole scope as JSON instead of the flags above (arguments, budget, …)',
    )
    .action(async (options) => {
      const scope = options.scopeFile
        ? (readJsonFile(options.scopeFile) as object)
        : {
            actions: options.action,
            resources: options.resource,
            expiresAt: expiryFrom(options.expires),
            dataClass: options.dataClass,
            environments: options.env,
            maxDepth: options.maxDepth,
            requireApproval: options.requireApproval,
            limits:
              options.maxUses || options.rate
                ? { maxUses: options.maxUses, ratePerMinute: options.rate }
                : undefined,
          };
      const d = await clientFrom(globals()).delegations.grant({
        delegateAgentId: options.agent,
        purpose: options.purpose,
        scope,
        onBehalfOf: options.for,
        standing: options.standing,
        approvers: options.approver,
      });
      showDelegation(d, globals().json);
    });

  delegations
    .command('list')
    .description('list delegations')
    .option('--agent <agentId>', 'granted to this agent')
    .option('--user <userId>', 'rooted at this user')
    .option('--status <status>', 'active or revoked')
    .option('--limit <n>', 'page size (max 200)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (options) => {
      const page = await clientFrom(globals()).delegations.list(options);
      if (globals().json) return printJson(page);
      printTable(
        page.items.map((d) => ({
          id: d.id,
          agent: d.delegateAgentId,
          user: d.rootUserId,
          depth: d.depth,
          status: d.live ? 'live' : d.status === 'active' ? `not usable` : d.status,
          expires: d.scope.expiresAt,
        })),
        ['id', 'agent', 'user', 'depth', 'status', 'expires'],
      );
      if (page.nextCursor) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
    });

  delegations
    .command('show <delegationId>')
    .description('one delegation, and whether its whole chain is usable now')
    .action(async (delegationId: string) =>
      showDelegation(await clientFrom(globals()).delegations.get(delegationId), globals().json),
    );

  delegations
    .command('tree <delegationId>')
    .description('the delegation and every re-delegation below it')
    .action(async (delegationId: string) => {
      const { items } = await clientFrom(globals()).delegations.tree(delegationId);
      if (globals().json) return printJson(items);
      const base = items[0]?.depth ?? 0;
      for (const d of items) {
        process.stdout.write(
          `${'  '.repeat(d.depth - base)}${d.id} → ${d.delegateAgentId} [${d.scope.actions.join(', ')}] ${d.status}\n`,
        );
      }
    });

  delegations
    .command('revoke <delegationId>')
    .description('revoke a delegation and its whole subtree')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (delegationId: string, options: { reason: string }) => {
      const { revoked } = await clientFrom(globals()).delegations.revoke(delegationId, options.reason);
      if (globals().json) return printJson(revoked);
      process.stdout.write(
        `revoked ${revoked.length} delegation(s): ${revoked.map((d) => d.id).join(', ')}\n`,
      );
    });
}
