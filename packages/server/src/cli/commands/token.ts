import fs from 'node:fs';
import { type AccessTokenClaims, actorChain, TokenError, verifyAccessToken } from '@mandate/core';
import type { Command } from 'commander';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { CliError, type GlobalOptions, printFields, printJson } from '../output.js';

type Globals = () => GlobalOptions;

/** Tokens: decode (and optionally verify) an access token, showing its delegation chain. */
export function tokenCommands(program: Command, globals: Globals): void {
  const token = program.command('token').description('inspect access tokens');

  token
    .command('decode <token>')
    .description(
      'show an access token readably: who it acts for, the chain of agents, its scope (use - for stdin)',
    )
    .option('--jwks <file>', "verify it against the issuer's JWKS file (otherwise it is shown unverified)")
    .option('--issuer <url>', 'expected issuer (with --jwks)')
    .option('--audience <aud>', 'expected audience (with --jwks)')
    .action(async (text: string, options: { jwks?: string; issuer?: string; audience?: string }) => {
      const raw = (text === '-' ? fs.readFileSync(0, 'utf8') : text).trim();
      let header: ReturnType<typeof decodeProtectedHeader>;
      let claims: AccessTokenClaims;
      try {
        header = decodeProtectedHeader(raw);
        claims = decodeJwt(raw) as unknown as AccessTokenClaims;
      } catch {
        throw new CliError('not a JWT');
      }
      let verified = 'NOT verified (pass --jwks, --issuer and --audience to verify)';
      if (options.jwks) {
        if (!options.issuer || !options.audience) throw new CliError('--jwks needs --issuer and --audience');
        let jwks: unknown;
        try {
          jwks = JSON.parse(fs.readFileSync(options.jwks, 'utf8'));
        } catch {
          throw new CliError(`${options.jwks}: cannot read a JWKS`);
        }
        try {
          await verifyAccessToken(raw, {
            keys: jwks as never,
            issuer: options.issuer,
            audience: options.audience,
          });
          verified = 'verified';
        } catch (error) {
          if (error instanceof TokenError) throw new CliError(`${error.code}: ${error.message}`);
          throw error;
        }
      }
      if (globals().json) return printJson({ header, claims, verified: verified === 'verified' });
      const agents = actorChain(claims.act);
      const chain = agents.length > 0 ? [...agents].reverse().join(' → ') : String(claims.client_id ?? '');
      printFields([
        ['signature', verified],
        ['acts for', String(claims.sub ?? '')],
        ['chain', chain],
        ['presented by', String(claims.client_id ?? '')],
        ['delegation', claims.dlg],
        ['org', claims.org],
        ['audience', Array.isArray(claims.aud) ? claims.aud.join(', ') : claims.aud],
        ['issued', typeof claims.iat === 'number' ? new Date(claims.iat * 1000).toISOString() : undefined],
        ['expires', typeof claims.exp === 'number' ? new Date(claims.exp * 1000).toISOString() : undefined],
        ['key-bound', claims.cnf?.jkt ? `yes (jkt ${claims.cnf.jkt})` : 'no (bearer)'],
        [
          'actions',
          claims.authorization_details?.flatMap((d) => d.scope?.actions ?? []).join(', ') || undefined,
        ],
        [
          'resources',
          claims.authorization_details?.flatMap((d) => d.scope?.resources ?? []).join(', ') || undefined,
        ],
      ]);
    });
}
