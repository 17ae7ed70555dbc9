import type { Command } from 'commander';
import type { ApiToken } from '../../core/identity/tokens.js';
import { durationMs } from '../arguments.js';
import { globalOptions, type CliContext } from '../context.js';
import { formatTime, renderTable, toJson } from '../output.js';
import { withIdentity } from './principals.js';

interface CreateOptions {
  readonly principal: string;
  readonly label?: string;
  readonly expiresIn?: number;
}

/** Where a token stands at `now`. */
function tokenState(token: ApiToken, now: number): string {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt !== null && now >= token.expiresAt) return 'expired';
  return 'active';
}

/**
 * Registers `interlock tokens create|revoke|list`, which work on the database directly. `create`
 * prints the token once (Interlock keeps only its SHA-256); `list` never shows a secret.
 */
export function registerTokensCommand(program: Command, ctx: CliContext): void {
  const tokens = program.command('tokens').description('manage API tokens in the database (a token is shown once, at creation)');

  tokens
    .command('create')
    .description('create an API token for a principal and print it once')
    .requiredOption('--principal <name>', 'the principal the token authenticates')
    .option('--label <text>', 'what the token is for, e.g. "ci pipeline"')
    .option('--expires-in <duration>', 'expire after this long: 90m, 12h, 30d (default: never)', durationMs)
    .action(async (options: CreateOptions, command: Command) => {
      const now = ctx.now();
      const { token, secret } = await withIdentity(ctx, command, (identity) =>
        identity.createToken({ principal: options.principal, ...(options.label === undefined ? {} : { label: options.label }), expiresAt: options.expiresIn === undefined ? null : now + options.expiresIn }, now),
      );
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson({ ...token, token: secret }));
        return;
      }
      ctx.io.out(secret);
      ctx.io.err(`token ${token.id} for ${token.principalName}${token.expiresAt === null ? '' : `, expires ${formatTime(token.expiresAt)}`}. It is shown only now: store it (e.g. as INTERLOCK_TOKEN).`);
    });

  tokens
    .command('revoke')
    .description('revoke an API token; it never authenticates again')
    .argument('<id>', 'token ID (see `interlock tokens list`)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const token = await withIdentity(ctx, command, (identity) => identity.revokeToken(id, ctx.now()));
      ctx.io.out(globalOptions(command).json === true ? toJson(token) : `revoked token ${token.id} of ${token.principalName} (at ${formatTime(token.revokedAt)})`);
    });

  tokens
    .command('list')
    .description('list API tokens (never their secrets), newest first')
    .option('--principal <name>', "only this principal's tokens")
    .action(async (options: { readonly principal?: string }, command: Command) => {
      const all = await withIdentity(ctx, command, (identity) => identity.listTokens(options.principal === undefined ? {} : { principal: options.principal }));
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson(all));
        return;
      }
      const now = ctx.now();
      ctx.io.out(
        all.length === 0
          ? 'no tokens'
          : renderTable(
              ['ID', 'PRINCIPAL', 'LABEL', 'STATE', 'CREATED', 'EXPIRES', 'LAST USED'],
              all.map((t) => [t.id, t.principalName, t.label ?? '-', tokenState(t, now), formatTime(t.createdAt), formatTime(t.expiresAt), formatTime(t.lastUsedAt)]),
            ),
      );
    });
}
