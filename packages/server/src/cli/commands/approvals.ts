import type { ApprovalView } from '@mandate/sdk';
import type { Command } from 'commander';
import { clientFrom } from '../client.js';
import { CliError, type GlobalOptions, printFields, printJson, printTable } from '../output.js';

const STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled', 'used'];

/** `mandate approvals list|show|approve|deny|cancel|watch`: a human's yes or no to one exact action. */
export function approvalCommands(program: Command, globals: () => GlobalOptions): void {
  const approvals = program
    .command('approvals')
    .description("approve or deny an agent's action that needs a human (one exact action, once)");

  approvals
    .command('list')
    .description('approval requests (default: pending)')
    .option('--status <status>', `one of ${STATUSES.join(', ')}`, 'pending')
    .option('--all', 'every status')
    .action(async (options: { status: string; all?: boolean }) => {
      if (!options.all && !STATUSES.includes(options.status))
        throw new CliError(`--status: one of ${STATUSES.join(', ')}`);
      const page = await clientFrom(globals()).approvals.list({
        limit: 200,
        ...(options.all ? {} : { status: options.status as ApprovalView['status'] }),
      });
      if (globals().json) return printJson(page.items);
      if (page.items.length === 0) return void process.stdout.write('no approval requests\n');
      printTable(page.items.map(row), ['id', 'status', 'agent', 'action', 'resource', 'expiresAt']);
    });

  approvals
    .command('show')
    .description('one approval request: what is asked, why, for whom, and its state')
    .argument('<approval_id>', 'the request (apr_…)')
    .option('--wait <seconds>', 'wait while it is pending (at most 60)', '0')
    .action(async (approvalId: string, options: { wait: string }) => {
      const approval = await clientFrom(globals()).approvals.get(approvalId, seconds(options.wait));
      if (globals().json) return printJson(approval);
      show(approval);
    });

  for (const verb of ['approve', 'deny', 'cancel'] as const) {
    approvals
      .command(verb)
      .description(
        verb === 'approve'
          ? "approve: the agent's next call of exactly this action is allowed, once"
          : verb === 'deny'
            ? 'deny: the action stays refused (approval_denied)'
            : 'cancel: withdraw a pending request (the next call files a fresh one)',
      )
      .argument('<approval_id>', 'the request (apr_…)')
      .option('--comment <text>', 'why (recorded in the audit log)')
      .action(async (approvalId: string, options: { comment?: string }) => {
        const client = clientFrom(globals());
        const approval = await client.approvals[verb](approvalId, options.comment);
        if (globals().json) return printJson(approval);
        show(approval);
      });
  }

  approvals
    .command('watch')
    .description('print approval requests as they arrive (or, with an id, wait until that one is decided)')
    .argument('[approval_id]', 'wait for this request only')
    .option('--timeout <seconds>', 'stop after this long', '600')
    .action(async (approvalId: string | undefined, options: { timeout: string }) => {
      const client = clientFrom(globals());
      const deadline = Date.now() + seconds(options.timeout, 86_400) * 1000;
      if (approvalId) {
        let approval = await client.approvals.get(approvalId);
        while (approval.status === 'pending' && Date.now() < deadline)
          approval = await client.approvals.get(
            approvalId,
            Math.min(30, Math.ceil((deadline - Date.now()) / 1000)),
          );
        if (globals().json) return printJson(approval);
        return show(approval);
      }
      const seen = new Set<string>();
      while (Date.now() < deadline) {
        const page = await client.approvals.list({ status: 'pending', limit: 200 });
        for (const approval of page.items) {
          if (seen.has(approval.id)) continue;
          seen.add(approval.id);
          if (globals().json) process.stdout.write(`${JSON.stringify(approval)}\n`);
          else
            process.stdout.write(
              `${approval.id}  ${approval.action} on ${approval.resource.type}:${approval.resource.id} by ${approval.agentId} (${approval.reasons.join('; ')})\n`,
            );
        }
        await new Promise((r) => setTimeout(r, Math.min(2_000, Math.max(0, deadline - Date.now()))));
      }
    });
}

function seconds(text: string, max = 60): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new CliError(`expected whole seconds from 0 to ${max}: ${text}`);
  return n;
}

const row = (a: ApprovalView) => ({
  id: a.id,
  status: a.status,
  agent: a.agentId,
  action: a.action,
  resource: `${a.resource.type}:${a.resource.id}`,
  expiresAt: a.expiresAt,
});

function show(a: ApprovalView): void {
  printFields([
    ['approval', a.id],
    ['status', a.status],
    ['action', a.action],
    ['resource', `${a.resource.type}:${a.resource.id}`],
    [
      'arguments',
      Object.entries(a.argumentsPreview)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ') || '(none)',
    ],
    ['agent', a.agentId],
    ['chain', a.chain.join(' → ')],
    ['for user', a.rootUserId],
    ['why', a.reasons.join('; ')],
    ['risk', a.risk ? `${a.risk.score} (${a.risk.factors.join(', ')})` : undefined],
    ['expires at', a.expiresAt],
    ['decided by', a.decidedBy ? `${a.decidedBy.kind} ${a.decidedBy.id}` : undefined],
    ['comment', a.comment],
    ['used by decision', a.usedBy],
  ]);
}
