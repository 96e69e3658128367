import fs from 'node:fs';
import {
  type AuditRecord,
  type Checkpoint,
  fromBase64,
  LogVerifier,
  NoteError,
  ProofError,
  verifyCheckpoint,
  verifyProofBundle,
} from '@mandate/core';
import type { ExplainNode, MandateClient } from '@mandate/sdk';
import { type Command, Option } from 'commander';
import { clientFrom } from '../client.js';
import { CliError, type GlobalOptions, printJson, printTable } from '../output.js';
import { positiveInt, readJsonFile } from '../parse.js';
import { Progress } from '../progress.js';

type Globals = () => GlobalOptions;

const summary = (r: AuditRecord) => ({
  seq: r.seq,
  time: r.time,
  type: r.type,
  actor: `${r.actor.kind}:${r.actor.id}`,
  target: `${r.target.type}:${r.target.id}`,
});

/** Verification failures are the user's answer, not a crash: one line, exit 1. */
function asCliError(error: unknown): never {
  if (error instanceof ProofError || error instanceof NoteError)
    throw new CliError(`verification failed: ${error.message}`);
  throw error;
}

export function auditCommands(program: Command, globals: Globals): void {
  const audit = program
    .command('audit')
    .description('the tamper-evident audit log: events, proofs, verification');

  audit
    .command('tail')
    .description('the latest events')
    .option('-n, --lines <n>', 'how many', positiveInt, 20)
    .option('--follow', 'keep printing new events (Ctrl-C to stop)')
    .action(async (options: { lines: number; follow?: boolean }) => {
      const client = clientFrom(globals());
      const size = Number((await client.audit.checkpoint()).split('\n')[1]);
      let cursor = size - options.lines - 1;
      for (;;) {
        const page = await client.audit.events({
          cursor: cursor >= 0 ? String(cursor) : undefined,
          limit: 200,
        });
        if (globals().json) for (const r of page.items) process.stdout.write(`${JSON.stringify(r)}\n`);
        else if (page.items.length > 0)
          printTable(page.items.map(summary), ['seq', 'time', 'type', 'actor', 'target']);
        const last = page.items.at(-1);
        if (last) cursor = last.seq;
        if (page.nextCursor) continue;
        if (!options.follow) return;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    });

  audit
    .command('show <seq>')
    .description('one event, in full')
    .action(async (seq: string) => {
      printJson(await clientFrom(globals()).audit.event(seqOf(seq)));
    });

  audit
    .command('explain <seq>')
    .description('provenance: the records an event depends on, each with its inclusion proof')
    .action(async (seq: string) => {
      const tree = await clientFrom(globals()).audit.explain(seqOf(seq));
      if (globals().json) return printJson(tree);
      printTree(tree, '', true, true);
    });

  audit
    .command('checkpoint')
    .description('the latest signed checkpoint')
    .option('--sign', 'sign one now if the log grew')
    .action(async (options: { sign?: boolean }) => {
      const client = clientFrom(globals());
      process.stdout.write(
        options.sign ? await client.audit.signCheckpoint() : await client.audit.checkpoint(),
      );
    });

  audit
    .command('verifier-key')
    .description("the key that verifies this org's checkpoints (keep a copy you trust)")
    .action(async () => {
      process.stdout.write(`${await clientFrom(globals()).audit.verifierKey()}\n`);
    });

  audit
    .command('proof <seq>')
    .description('write an inclusion proof bundle for one event (verify it offline with verify-proof)')
    .option('--out <file>', 'where to write it (default proof-<seq>.json; - for stdout)')
    .action(async (seq: string, options: { out?: string }) => {
      const bundle = await clientFrom(globals()).audit.proof(seqOf(seq));
      const out = options.out ?? `proof-${seqOf(seq)}.json`;
      const text = `${JSON.stringify(bundle, null, 2)}\n`;
      if (out === '-') return void process.stdout.write(text);
      fs.writeFileSync(out, text);
      process.stdout.write(
        `Proof of event ${bundle.index} in the log of size ${bundle.treeSize} written to ${out}\n`,
      );
    });

  audit
    .command('verify-proof <bundle>')
    .description('verify a proof bundle offline, against a verifier key you trust')
    .option('--key <verifierKey>', 'the verifier key you trust (<name>+<hash>+<key>); no server is contacted')
    .action((file: string, options: { key?: string }) => {
      // Offline: there is no API key here, so the program-level --key can only be the verifier key.
      const key = options.key ?? globals().key;
      if (!key) throw new CliError('give the verifier key you trust: --key <name>+<hash>+<key>');
      const bundle = readJsonFile(file) as Parameters<typeof verifyProofBundle>[0];
      let checkpoint: Checkpoint;
      try {
        checkpoint = verifyProofBundle(bundle, key);
      } catch (error) {
        asCliError(error);
      }
      if (globals().json) return printJson({ ok: true, index: bundle.index, treeSize: checkpoint.size });
      process.stdout.write(
        `OK: event ${bundle.index} is in ${checkpoint.origin} at size ${checkpoint.size}, signed by the given key\n`,
      );
    });

  audit
    .command('export')
    .description('stream the log as JSON Lines (canonical records) or OCSF events')
    .addOption(new Option('--format <format>', 'jsonl or ocsf').choices(['jsonl', 'ocsf']).default('jsonl'))
    .option('--from <seq>', 'start at this sequence number (resume)', positiveInt, 0)
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (options: { format: 'jsonl' | 'ocsf'; from: number; out?: string }) => {
      const client = clientFrom(globals());
      const out = options.out ? fs.createWriteStream(options.out) : process.stdout;
      let count = 0;
      for await (const line of client.audit.export({ format: options.format, from: options.from })) {
        if (!out.write(`${line}\n`))
          await new Promise<void>((resolve) => (out as NodeJS.WritableStream).once('drain', () => resolve()));
        count++;
      }
      if (options.out) {
        await new Promise((resolve) => (out as fs.WriteStream).end(resolve));
        process.stderr.write(`${count} records written to ${options.out}\n`);
      }
    });

  audit
    .command('verify')
    .description('re-hash the whole log (from the server, or an export file) against signed checkpoints')
    .option('--verifier-key <key>', 'the verifier key you trust (default: ask the server, and say so)')
    .option(
      '--file <export.jsonl>',
      'verify an export file offline instead of the server (with --key <verifier key>)',
    )
    .option(
      '--checkpoint <file>',
      'a signed checkpoint you saved earlier to verify against (required with --file)',
    )
    .action(async (options: { verifierKey?: string; file?: string; checkpoint?: string }) => {
      // Offline (--file) there is no API key, so --key can only be the verifier key.
      const verdict = options.file
        ? await verifyFile(options.file, options.checkpoint, options.verifierKey ?? globals().key)
        : await verifyServer(clientFrom(globals()), options.verifierKey, options.checkpoint);
      if (globals().json) printJson(verdict);
      if (!verdict.ok) {
        throw new CliError(`verification failed at sequence ${verdict.firstBadSeq}: ${verdict.reason}`);
      }
      if (!globals().json) {
        const extra =
          verdict.uncovered > 0 ? ` (${verdict.uncovered} newer records not yet in a checkpoint)` : '';
        process.stdout.write(
          `OK: ${verdict.verifiedSize} records verified against the signed checkpoint${extra}\n`,
        );
      }
    });
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function seqOf(text: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new CliError(`not a sequence number: ${text}`);
  return Number(text);
}

async function verifyServer(client: MandateClient, trustedKey: string | undefined, pinnedFile?: string) {
  const key = trustedKey ?? (await client.audit.verifierKey());
  if (!trustedKey) {
    process.stderr.write(`note: trusting the server's verifier key ${key}; pass --verifier-key to pin it\n`);
  }
  const checkpoints: Checkpoint[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 100_000; pages++) {
    const page = await client.audit.checkpoints({ cursor, limit: 200 });
    for (const item of page.items) {
      try {
        checkpoints.push(verifyCheckpoint(item.note, key));
      } catch (error) {
        asCliError(error);
      }
    }
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  if (pinnedFile) {
    // A checkpoint the auditor kept: the log must still match it, whatever the server now serves.
    try {
      checkpoints.push(verifyCheckpoint(readText(pinnedFile), key));
    } catch (error) {
      asCliError(error);
    }
  }
  if (checkpoints.length === 0) checkpoints.push(verifyCheckpoint(await client.audit.checkpoint(), key));
  const verifier = new LogVerifier(checkpoints);
  const progress = new Progress('verifying', verifier.coveredSize);
  let leaves: Uint8Array[] = [];
  let leavesFrom = 0;
  let seq = 0;
  for await (const line of client.audit.export({ format: 'jsonl' })) {
    if (seq >= leavesFrom + leaves.length) {
      leavesFrom = seq;
      leaves = (await client.audit.leaves(seq, 5000)).items.map(fromBase64);
    }
    verifier.push(line, leaves[seq - leavesFrom]);
    seq++;
    progress.tick(seq);
    if (verifier.failed) break;
  }
  progress.done();
  return verifier.finish();
}

async function verifyFile(file: string, checkpointFile: string | undefined, key: string | undefined) {
  if (!checkpointFile || !key)
    throw new CliError('--file needs --checkpoint <file> and --key <verifier key>');
  let checkpoint: Checkpoint;
  try {
    checkpoint = verifyCheckpoint(readText(checkpointFile), key);
  } catch (error) {
    asCliError(error);
  }
  if (!fs.existsSync(file)) throw new CliError(`${file}: no such file`);
  const verifier = new LogVerifier([checkpoint]);
  const progress = new Progress('verifying', checkpoint.size);
  const { createInterface } = await import('node:readline');
  let seq = 0;
  for await (const line of createInterface({
    input: fs.createReadStream(file),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    if (line === '') continue;
    verifier.push(line);
    progress.tick(++seq);
    if (verifier.failed) break;
  }
  progress.done();
  return verifier.finish();
}

function printTree(node: ExplainNode, indent: string, last: boolean, root: boolean): void {
  const r = node.record;
  const branch = root ? '' : last ? '└─ ' : '├─ ';
  const why = root ? '' : `${node.relation}: `;
  process.stdout.write(
    `${indent}${branch}${why}#${r.seq} ${r.type} by ${r.actor.kind}:${r.actor.id} on ${r.target.type}:${r.target.id} ` +
      `at ${r.time} (proof: ${node.proof.proof.length} hashes to size ${node.proof.treeSize})\n`,
  );
  const childIndent = root ? '' : `${indent}${last ? '   ' : '│  '}`;
  for (const line of decisionDetails(r)) process.stdout.write(`${childIndent}   ${line}\n`);
  for (const [i, child] of node.dependsOn.entries()) {
    printTree(child, childIndent, i === node.dependsOn.length - 1, false);
  }
}

/** For a decision: its result and reasons, the risk factors, the limits consumed, the approval. */
function decisionDetails(record: ExplainNode['record']): string[] {
  if (record.type !== 'decision') return [];
  const after = record.after as {
    result?: string;
    reasons?: Array<{ code: string; detail?: string } | string>;
    risk?: { score: number; factors: Array<{ name: string; contribution: number; detail?: string }> };
    limits?: Array<{
      delegationId: string;
      uses: number;
      maxUses?: number;
      spent?: number;
      budget?: { max: number };
    }>;
    approval?: { id: string; status: string; decidedBy?: { kind: string; id: string } };
  };
  const lines: string[] = [];
  const reasons = (after.reasons ?? []).map((r) => (typeof r === 'string' ? r : r.code));
  lines.push(`result: ${after.result ?? '?'}${reasons.length ? ` (${reasons.join(', ')})` : ''}`);
  if (after.risk)
    lines.push(
      `risk ${after.risk.score}: ${after.risk.factors.map((f) => `${f.name} +${f.contribution}`).join(', ') || 'no factors'}`,
    );
  for (const l of after.limits ?? [])
    lines.push(
      `limits of ${l.delegationId}: use ${l.uses}${l.maxUses ? `/${l.maxUses}` : ''}` +
        (l.budget ? `, budget ${l.spent}/${l.budget.max}` : ''),
    );
  if (after.approval) {
    const by = after.approval.decidedBy;
    lines.push(
      `approval ${after.approval.id}: ${after.approval.status}${by ? `, decided by ${by.kind}:${by.id}` : ''}`,
    );
  }
  return lines;
}
