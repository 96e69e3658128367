#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { agentCommands } from './commands/agents.js';
import { apiKeyCommands } from './commands/api-keys.js';
import { approvalCommands } from './commands/approvals.js';
import { auditCommands } from './commands/audit.js';
import { checkCommand } from './commands/check.js';
import { delegationCommands } from './commands/delegations.js';
import { initCommand } from './commands/init.js';
import { keygenCommand } from './commands/keygen.js';
import { killSwitchCommands } from './commands/killswitch.js';
import { mcpGatewayCommands } from './commands/mcp-gateway.js';
import { orgCommands } from './commands/orgs.js';
import { policyCommands } from './commands/policies.js';
import { serveCommand } from './commands/serve.js';
import { signingKeyCommands } from './commands/signing-keys.js';
import { tokenCommands } from './commands/token.js';
import { userCommands } from './commands/users.js';
import { describeError, type GlobalOptions } from './output.js';

const program = new Command('mandate')
  .description('Mandate: runtime identity for AI agents')
  .version(VERSION)
  .option('--url <url>', 'server URL (MANDATE_URL, default http://127.0.0.1:7070)')
  .option('--key <key>', 'API key (MANDATE_KEY)')
  .option('--json', 'machine-readable output')
  .showSuggestionAfterError()
  .exitOverride()
  .configureOutput({
    // Commander's own errors ("unknown option", "missing argument") are already one line.
    outputError: (text, write) => write(text.startsWith('error: ') ? `mandate: ${text.slice(7)}` : text),
  });

const globals = () => program.opts<GlobalOptions>();

serveCommand(program);
initCommand(program, globals);
agentCommands(program, globals);
userCommands(program, globals);
apiKeyCommands(program, globals);
orgCommands(program, globals);
keygenCommand(program, globals);
auditCommands(program, globals);
delegationCommands(program, globals);
tokenCommands(program, globals);
signingKeyCommands(program, globals);
policyCommands(program, globals);
checkCommand(program, globals);
killSwitchCommands(program, globals);
approvalCommands(program, globals);
mcpGatewayCommands(program, globals);

for (const command of program.commands) {
  command.exitOverride();
  for (const sub of command.commands) sub.exitOverride();
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here with code 0; usage errors were already printed.
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`mandate: ${describeError(error)}\n`);
    process.exitCode = 1;
  }
}
