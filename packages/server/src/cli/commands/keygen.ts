import fs from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { CliError, type GlobalOptions, printJson } from '../output.js';

/** Makes an agent key pair locally: the private key stays in a 0600 file, the public one is registered. */
export function keygenCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('keygen')
    .description("generate an agent's key pair (private JWK file, mode 0600) and print the public JWK")
    .requiredOption('--out <file>', 'where to write the private JWK')
    .addOption(new Option('--alg <alg>', 'key type').choices(['EdDSA', 'ES256']).default('EdDSA'))
    .option('--force', 'overwrite an existing file')
    .action(async (options: { out: string; alg: 'EdDSA' | 'ES256'; force?: boolean }) => {
      if (fs.existsSync(options.out) && !options.force) {
        throw new CliError(`${options.out} exists; pass --force to overwrite it`);
      }
      const { privateKey, publicKey } = await generateKeyPair(options.alg, { extractable: true });
      const privateJwk = await exportJWK(privateKey);
      const publicJwk = await exportJWK(publicKey);
      const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
      fs.writeFileSync(
        options.out,
        `${JSON.stringify({ ...privateJwk, kid, alg: options.alg }, null, 2)}\n`,
        {
          mode: 0o600,
        },
      );
      if (globals().json) return printJson({ kid, publicJwk, privateKeyFile: options.out });
      process.stdout.write(`Private key written to ${options.out} (keep it secret)\nkid ${kid}\n`);
      process.stdout.write(`${JSON.stringify(publicJwk)}\n`);
    });
}
