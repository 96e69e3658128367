import fs from 'node:fs';
import { DATA_CLASSES } from '@mandate/core';
import { AgentCredentials } from '@mandate/sdk';
import type { Command } from 'commander';
import { Option } from 'commander';
import { decodeJwt } from 'jose';
import { DEFAULT_URL } from '../client.js';
import { CliError, type GlobalOptions, printFields, printJson } from '../output.js';
import { collect, keyValues, readJsonFile, readPrivateJwk } from '../parse.js';

/** `mandate check`: ask, as the agent, whether an action may run now (exit 0 allow, 3 deny, 4 approval). */
export function checkCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('check')
    .description(
      'ask whether an action may run now, as the agent, with its access token (mandate token exchange); ' +
        'exit 0 when allowed, 3 when not, 4 when it waits for a human approval',
    )
    .requiredOption('--agent <id>', 'the agent (agt_…)')
    .requiredOption('--key-file <file>', "the agent's private JWK file (signs the DPoP proof)")
    .requiredOption('--token <token>', 'the access token (- for stdin)')
    .requiredOption('--action <name>', 'the action, e.g. email.read')
    .requiredOption('--resource <type:id>', 'the resource, e.g. mailbox:alice/inbox')
    .addOption(new Option('--data-class <class>', 'the data the action touches').choices(DATA_CLASSES))
    .option('--env <environment>', 'the environment it runs in')
    .option('--arg <name=value>', 'an argument of the action (repeatable; values are strings)', collect)
    .option('--context-file <file>', 'context for the policies, as JSON')
    .option('--untrusted-input', 'the agent has read untrusted content in this task (a risk factor)')
    .action(async (options) => {
      const raw = (options.token === '-' ? fs.readFileSync(0, 'utf8') : options.token).trim();
      let bound: boolean;
      try {
        bound = decodeJwt(raw).cnf !== undefined;
      } catch {
        throw new CliError('--token: not a JWT');
      }
      const at = String(options.resource).indexOf(':');
      if (at <= 0) throw new CliError('--resource: expected type:id, e.g. mailbox:alice/inbox');
      const creds = new AgentCredentials({
        url: globals().url ?? process.env.MANDATE_URL ?? DEFAULT_URL,
        agentId: options.agent,
        privateJwk: readPrivateJwk(options.keyFile),
      });
      const answer = await creds.decide(
        {
          access_token: raw,
          token_type: bound ? 'DPoP' : 'Bearer',
          expires_in: 0,
          authorization_details: [],
        },
        {
          action: options.action,
          resource: { type: options.resource.slice(0, at), id: options.resource.slice(at + 1) },
          dataClass: options.dataClass,
          environment: options.env,
          arguments: keyValues(options.arg, '--arg'),
          context: options.contextFile
            ? (readJsonFile(options.contextFile) as Record<string, unknown>)
            : undefined,
          ...(options.untrustedInput ? { signals: { untrustedInput: true } } : {}),
        },
      );
      // 4: not now, but a human can say yes (wait on the approval, then ask again).
      if (answer.decision !== 'allow') process.exitCode = answer.decision === 'approval_required' ? 4 : 3;
      if (globals().json) return printJson(answer);
      printFields([
        ['decision', answer.decision],
        [
          'reasons',
          answer.reasons
            .map(
              (r) =>
                `${r.code}${r.dimension ? ` (${r.dimension})` : ''}${r.limit ? ` (${r.limit})` : ''}${r.detail ? `: ${r.detail}` : ''}`,
            )
            .join('; ') || undefined,
        ],
        ['policies', answer.policies.join(', ') || undefined],
        [
          'risk',
          answer.risk
            ? `${answer.risk.score} (${answer.risk.factors.map((f) => `${f.name} +${f.contribution}`).join(', ') || 'no factors'})`
            : undefined,
        ],
        [
          'approval',
          answer.approval
            ? `${answer.approval.id} ${answer.approval.status} until ${answer.approval.expiresAt}: mandate approvals show ${answer.approval.id}`
            : undefined,
        ],
        ['decision id', answer.decisionId],
      ]);
    });
}
