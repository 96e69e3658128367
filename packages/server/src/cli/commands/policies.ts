import fs from 'node:fs';
import type { Command } from 'commander';
import { clientFrom } from '../client.js';
import { CliError, type GlobalOptions, printFields, printJson, printTable } from '../output.js';
import { positiveInt, readJsonFile } from '../parse.js';

type Globals = () => GlobalOptions;

function readText(file: string): string {
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new CliError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

const version = (value: string) => (value === '0' ? 0 : positiveInt(value));

/** The org's Cedar policies (publish, list, show, diff, activate, validate) and its entities. */
export function policyCommands(program: Command, globals: Globals): void {
  const policies = program.command('policies').description("the org's Cedar policy set, versioned");

  policies
    .command('publish <file>')
    .description('publish a Cedar policy file as a new version and make it active (- for stdin)')
    .option('--schema <file>', 'a Cedar schema declaring your entity types and actions (strict validation)')
    .option('--note <text>', 'why this version')
    .action(async (file: string, options: { schema?: string; note?: string }) => {
      const published = await clientFrom(globals()).policies.publish({
        policies: readText(file),
        schema: options.schema ? readText(options.schema) : undefined,
        note: options.note,
      });
      if (globals().json) return printJson(published);
      process.stdout.write(
        `published version ${published.version} (sha256 ${published.hash.slice(0, 16)}…), now active\n`,
      );
      const replay = published.replay;
      if (replay?.deniesAllRecent)
        process.stderr.write(
          `warning: this version denies every one of the ${replay.replayed} most recent allowed requests ` +
            `(replayed against it); activate an earlier version to roll back\n`,
        );
    });

  policies
    .command('validate <file>')
    .description('check a Cedar policy file as publishing would, without publishing it')
    .option('--schema <file>', 'a Cedar schema declaring your entity types and actions')
    .action(async (file: string, options: { schema?: string }) => {
      const result = await clientFrom(globals()).policies.validate({
        policies: readText(file),
        schema: options.schema ? readText(options.schema) : undefined,
      });
      if (globals().json) return printJson(result);
      for (const error of result.errors) process.stdout.write(`error: ${error}\n`);
      for (const warning of result.warnings) process.stdout.write(`warning: ${warning}\n`);
      process.stdout.write(result.valid ? 'valid\n' : 'invalid\n');
      if (!result.valid) process.exitCode = 1;
    });

  policies
    .command('list')
    .description('list the versions and which is active')
    .action(async () => {
      const page = await clientFrom(globals()).policies.list({ limit: 200 });
      if (globals().json) return printJson(page);
      printTable(
        page.items.map((v) => ({
          active: v.active ? '*' : '',
          version: v.version,
          createdAt: v.createdAt,
          by: v.createdBy.id,
          hash: v.hash.slice(0, 16),
          note: v.note,
        })),
        ['active', 'version', 'createdAt', 'by', 'hash', 'note'],
      );
    });

  policies
    .command('show <version>')
    .description('show a version: its details, then its policy text')
    .action(async (v: string) => {
      const found = await clientFrom(globals()).policies.get(version(v));
      if (globals().json) return printJson(found);
      printFields([
        ['version', found.version],
        ['active', found.active ? 'yes' : 'no'],
        ['sha256', found.hash],
        ['created', found.createdAt],
        ['by', `${found.createdBy.kind}:${found.createdBy.id}`],
        ['note', found.note],
      ]);
      process.stdout.write(`\n${found.policies}${found.policies.endsWith('\n') ? '' : '\n'}`);
    });

  policies
    .command('diff <version>')
    .description('what changed in a version (against the one before, or --against N)')
    .option('--against <version>', 'the version to compare with', version)
    .action(async (v: string, options: { against?: number }) => {
      const result = await clientFrom(globals()).policies.diff(version(v), options.against);
      if (globals().json) return printJson(result);
      process.stdout.write(result.diff);
    });

  policies
    .command('activate <version>')
    .description('make an earlier version (or 0, the baseline) active again')
    .requiredOption('--reason <text>', 'why')
    .action(async (v: string, options: { reason: string }) => {
      const activated = await clientFrom(globals()).policies.activate(version(v), options.reason);
      if (globals().json) return printJson(activated);
      process.stdout.write(`version ${activated.version} is active\n`);
    });

  const entities = program
    .command('entities')
    .description('the entities your policies see (Cedar JSON format)');

  entities
    .command('put <file>')
    .description('store entities from a JSON file: an array, or { "entities": [...] }')
    .action(async (file: string) => {
      const data = readJsonFile(file) as unknown;
      const list = Array.isArray(data) ? data : (data as { entities?: unknown })?.entities;
      if (!Array.isArray(list))
        throw new CliError(`${file}: expected an array of entities or { "entities": [...] }`);
      const result = await clientFrom(globals()).entities.put(list);
      if (globals().json) return printJson(result);
      process.stdout.write(`stored ${result.stored} entities\n`);
    });

  entities
    .command('list')
    .description('list stored entities')
    .option('--type <type>', 'only this entity type')
    .action(async (options: { type?: string }) => {
      const page = await clientFrom(globals()).entities.list({ type: options.type, limit: 200 });
      if (globals().json) return printJson(page);
      printTable(
        page.items.map((e) => {
          const uid = e.uid as { type: string; id: string };
          const parents = (e.parents as Array<{ type: string; id: string }>).map((p) => `${p.type}::${p.id}`);
          return { type: uid.type, id: uid.id, parents: parents.join(', ') };
        }),
        ['type', 'id', 'parents'],
      );
    });

  entities
    .command('show <type> <id>')
    .description('show one entity')
    .action(async (type: string, id: string) =>
      printJson(await clientFrom(globals()).entities.get(type, id)),
    );

  entities
    .command('delete <type> <id>')
    .description('delete one entity')
    .action(async (type: string, id: string) => {
      await clientFrom(globals()).entities.delete(type, id);
      if (globals().json) return printJson({ deleted: true });
      process.stdout.write('deleted\n');
    });
}
