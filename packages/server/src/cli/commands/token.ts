import fs from 'node:fs';
import { type AccessTokenClaims, actorChain, TokenError, verifyAccessToken } from '@mandate/core';
import { AgentCredentials } from '@mandate/sdk';
import type { Command } from 'commander';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { clientFrom, DEFAULT_URL } from '../client.js';
import { CliError, type GlobalOptions, printFields, printJson } from '../output.js';
import { collect, readPrivateJwk } from '../parse.js';

type Globals = () => GlobalOptions;

/** Tokens: get one as an agent (exchange), inspect one (decode, introspect), revoke one. */
export function tokenCommands(program: Command, globals: Globals): void {
  const token = program.command('token').description('get, inspect and revoke access tokens');

  token
    .command('exchange')
    .description(
      "get an access token as an agent, signing with the agent's private key file: for a delegation " +
        'made to it (--delegation), a re-delegation hop (--subject-token of the agent that re-delegated), ' +
        'or its standing delegation (--standing). Prints the token; --json prints the whole answer',
    )
    .requiredOption('--agent <id>', 'the agent (agt_…)')
    .requiredOption('--key-file <file>', "the agent's private JWK file (mandate keygen)")
    .option('--delegation <id>', 'the delegation to use (dlg_…)')
    .option('--subject-token <token>', 'the access token of the agent that re-delegated (- for stdin)')
    .option('--standing', "use the agent's standing delegation from its owner (client_credentials)")
    .option('--scope <action>', 'narrow the token to these actions (repeatable)', collect)
    .option('--audience <aud>', 'an audience for the token (repeatable)', collect)
    .option('--resource <uri>', 'a resource URI for the token (repeatable)', collect)
    .option('--no-dpop', 'a bearer token, not bound to the key (not recommended)')
    .action(
      async (options: {
        agent: string;
        keyFile: string;
        delegation?: string;
        subjectToken?: string;
        standing?: boolean;
        scope?: string[];
        audience?: string[];
        resource?: string[];
        dpop: boolean;
      }) => {
        if (!options.delegation && !options.subjectToken && !options.standing)
          throw new CliError('give --delegation, --subject-token or --standing');
        if (options.standing && options.subjectToken)
          throw new CliError('--standing and --subject-token do not go together');
        const creds = new AgentCredentials({
          url: globals().url ?? process.env.MANDATE_URL ?? DEFAULT_URL,
          agentId: options.agent,
          privateJwk: readPrivateJwk(options.keyFile),
        });
        const subjectToken =
          options.subjectToken === '-' ? fs.readFileSync(0, 'utf8').trim() : options.subjectToken;
        const request = {
          delegation: options.delegation,
          scope: options.scope,
          audience: options.audience,
          resource: options.resource,
          dpop: options.dpop,
        };
        const issued = options.standing
          ? await creds.clientCredentials(request)
          : await creds.exchange({ ...request, subjectToken });
        if (globals().json) return printJson(issued);
        process.stdout.write(`${issued.access_token}\n`);
        process.stderr.write(
          `${issued.token_type} token, expires in ${issued.expires_in} s` +
            (issued.token_type === 'DPoP' ? ' (present it with a DPoP proof by the same key)' : '') +
            '\n',
        );
      },
    );

  token
    .command('introspect <token>')
    .description(
      'ask the server whether a token is usable now (needs the pep, auditor or admin role; - for stdin)',
    )
    .action(async (text: string) => {
      const raw = (text === '-' ? fs.readFileSync(0, 'utf8') : text).trim();
      const result = await clientFrom(globals()).oauth.introspect(raw);
      // Exit code 3 for an inactive token, with or without --json, so scripts can branch on it.
      if (!result.active) process.exitCode = 3;
      if (globals().json) return printJson(result);
      if (!result.active) {
        process.stdout.write('inactive\n');
        process.exitCode = 3;
        return;
      }
      const chain = [...actorChain(result.act)].reverse().join(' → ') || result.client_id;
      printFields([
        ['active', 'yes'],
        ['acts for', result.sub],
        ['chain', chain],
        ['delegation', result.dlg],
        ['expires', new Date(result.exp * 1000).toISOString()],
        ['type', result.token_type],
      ]);
    });

  token
    .command('revoke <token>')
    .description('revoke an access token before it expires (needs the admin role; - for stdin)')
    .action(async (text: string) => {
      const raw = (text === '-' ? fs.readFileSync(0, 'utf8') : text).trim();
      await clientFrom(globals()).oauth.revoke(raw);
      if (globals().json) return printJson({ revoked: true });
      process.stdout.write('revoked (if it was a valid token of your org)\n');
    });

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
