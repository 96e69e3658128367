import { DATA_CLASSES } from '@mandate/core';
import type { Agent } from '@mandate/sdk';
import { type Command, Option } from 'commander';
import { clientFrom } from '../client.js';
import { CliError, type GlobalOptions, printFields, printJson, printTable } from '../output.js';
import { collect, keyValues, positiveInt, readPublicJwk } from '../parse.js';

type Globals = () => GlobalOptions;

function showAgent(agent: Agent, json: boolean | undefined): void {
  if (json) {
    printJson(agent);
    return;
  }
  printFields([
    ['id', agent.id],
    ['name', agent.name],
    ['status', agent.status],
    ['owner', agent.ownerId],
    ['description', agent.description],
    ['labels', agent.labels.join(', ')],
    ['environments', agent.environments.join(', ')],
    ['actions', agent.boundaries.actions.join(', ')],
    ['resources', agent.boundaries.resources.join(', ')],
    ['max data class', agent.boundaries.maxDataClass],
    ['max credential ttl', `${agent.boundaries.maxCredentialTtlSeconds}s`],
    ['max delegation depth', agent.boundaries.maxDelegationDepth],
    ['expires', agent.expiresAt],
    [
      'keys',
      agent.keys.map((key) => `${key.kid} (${key.jwk.crv}, ${key.status})`).join(`\n${' '.repeat(22)}`),
    ],
    [
      'last change',
      `${agent.lastStatusChange.status} at ${agent.lastStatusChange.at}${agent.lastStatusChange.reason ? `: ${agent.lastStatusChange.reason}` : ''}`,
    ],
  ]);
}

export function agentCommands(program: Command, globals: Globals): void {
  const agents = program.command('agents').description('register agents and manage their lifecycle and keys');

  agents
    .command('register')
    .description('register an agent (active if you are its owner, otherwise pending until activated)')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--owner <userId>', 'the accountable owner (usr_…)')
    .requiredOption(
      '--key-file <file>',
      "a JWK file of the agent's key (repeatable; only the public part is sent)",
      collect,
    )
    .requiredOption(
      '--action <pattern>',
      'an action the agent may ever be given (repeatable, e.g. email.*)',
      collect,
    )
    .requiredOption(
      '--resource <pattern>',
      'a resource it may ever be given (repeatable, e.g. mailbox:alice/*)',
      collect,
    )
    .addOption(new Option('--data-class <class>', 'highest data class').choices(DATA_CLASSES))
    .option('--max-ttl <seconds>', 'longest credential lifetime', positiveInt)
    .option('--max-depth <n>', 'deepest re-delegation (0: none)', positiveInt)
    .option('--description <text>', 'what the agent is for')
    .option('--label <label>', 'a label (repeatable)', collect)
    .option('--env <environment>', 'an environment it runs in (repeatable)', collect)
    .option('--meta <key=value>', 'metadata, e.g. model=gpt-5 (repeatable)', collect)
    .option('--expires-at <iso>', 'expiry (default: 90 days)')
    .action(async (options) => {
      const client = clientFrom(globals());
      const agent = await client.agents.register({
        name: options.name,
        ownerId: options.owner,
        description: options.description,
        labels: options.label,
        environments: options.env,
        metadata: keyValues(options.meta, '--meta'),
        expiresAt: options.expiresAt,
        boundaries: {
          actions: options.action,
          resources: options.resource,
          maxDataClass: options.dataClass,
          maxCredentialTtlSeconds: options.maxTtl,
          maxDelegationDepth: options.maxDepth,
        },
        keys: (options.keyFile as string[]).map(readPublicJwk),
      });
      showAgent(agent, globals().json);
    });

  agents
    .command('list')
    .description('list agents')
    .option('--status <status>', 'pending, active, suspended, revoked or expired')
    .option('--owner <userId>', 'owned by this user')
    .option('--label <label>', 'carrying this label')
    .option('--env <environment>', 'in this environment')
    .option('--name <prefix>', 'name starts with')
    .option('--limit <n>', 'page size (max 200)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (options) => {
      const client = clientFrom(globals());
      const page = await client.agents.list({
        status: options.status,
        owner: options.owner,
        label: options.label,
        environment: options.env,
        name: options.name,
        limit: options.limit,
        cursor: options.cursor,
      });
      if (globals().json) return printJson(page);
      printTable(
        page.items.map((a) => ({
          id: a.id,
          name: a.name,
          status: a.status,
          owner: a.ownerId,
          expires: a.expiresAt,
        })),
        ['id', 'name', 'status', 'owner', 'expires'],
      );
      if (page.nextCursor) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
    });

  agents
    .command('show <agentId>')
    .description('show one agent')
    .action(async (agentId: string) =>
      showAgent(await clientFrom(globals()).agents.get(agentId), globals().json),
    );

  for (const [command, description, reasonRequired] of [
    ['activate', 'activate a pending agent (its owner or an admin)', false],
    ['suspend', 'suspend an active agent', true],
    ['resume', 'resume a suspended agent', false],
    ['revoke', 'revoke an agent for good (its owner or an admin)', true],
  ] as const) {
    const sub = agents.command(`${command} <agentId>`).description(description);
    if (reasonRequired) sub.requiredOption('--reason <text>', 'why (recorded in the audit log)');
    else sub.option('--reason <text>', 'why (recorded in the audit log)');
    sub.action(async (agentId: string, options: { reason?: string }) => {
      const agent = await clientFrom(globals()).agents.transition(agentId, command, {
        reason: options.reason,
      });
      if (globals().json) return printJson(agent);
      process.stdout.write(`${agent.id} is now ${agent.status}\n`);
    });
  }

  agents
    .command('renew <agentId>')
    .description('extend the expiry (an expired agent returns to its previous status)')
    .option('--expires-at <iso>', 'new expiry (default: 90 days from now)')
    .option('--reason <text>', 'why')
    .action(async (agentId: string, options: { expiresAt?: string; reason?: string }) => {
      const agent = await clientFrom(globals()).agents.transition(agentId, 'renew', options);
      if (globals().json) return printJson(agent);
      process.stdout.write(`${agent.id} is ${agent.status} until ${agent.expiresAt}\n`);
    });

  agents
    .command('rotate-key <agentId>')
    .description('add a new public key and, optionally, retire an old one')
    .option('--add <file>', 'JWK file of the new key (only the public part is sent)')
    .option('--retire <kid>', 'thumbprint of the key to retire')
    .option('--reason <text>', 'why')
    .action(async (agentId: string, options: { add?: string; retire?: string; reason?: string }) => {
      if (!options.add && !options.retire) throw new CliError('give --add <file>, --retire <kid>, or both');
      const client = clientFrom(globals());
      let agent: Agent | undefined;
      if (options.add) agent = await client.agents.addKey(agentId, readPublicJwk(options.add));
      if (options.retire) agent = await client.agents.retireKey(agentId, options.retire, options.reason);
      if (globals().json) return printJson(agent);
      printTable(
        (agent?.keys ?? []).map((key) => ({
          kid: key.kid,
          curve: key.jwk.crv,
          status: key.status,
          added: key.addedAt,
        })),
        ['kid', 'curve', 'status', 'added'],
      );
    });

  agents
    .command('transfer <agentId>')
    .description('give the agent a new accountable owner (admin)')
    .requiredOption('--to <userId>', 'the new owner')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (agentId: string, options: { to: string; reason: string }) => {
      const agent = await clientFrom(globals()).agents.transfer(agentId, options.to, options.reason);
      if (globals().json) return printJson(agent);
      process.stdout.write(`${agent.id} is now owned by ${agent.ownerId}\n`);
    });
}
