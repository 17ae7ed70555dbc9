import { Option, type Command } from 'commander';
import { parseRoleSpecs, PRINCIPAL_KINDS, type Principal, type PrincipalKind } from '../../core/identity/identity.js';
import { CliError, configFor, globalOptions, type CliContext } from '../context.js';
import type { IdentityAdmin } from '../deps.js';
import { renderTable, toJson } from '../output.js';

interface CreateOptions {
  readonly kind: PrincipalKind;
  readonly group: string[];
  readonly role: string[];
}

/** Collects a repeatable option's values in order. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Runs `task` on the identity store of the configured database (opened with `deps.openIdentity`) and
 * closes it afterwards.
 */
export async function withIdentity<T>(ctx: CliContext, command: Command, task: (identity: IdentityAdmin) => Promise<T>): Promise<T> {
  const identity = await ctx.deps.openIdentity(configFor(ctx, command));
  try {
    return await task(identity);
  } finally {
    await identity.close();
  }
}

/** `viewer@*, approver@shop` for a table: every project's roles, `*` first, then by project. */
function rolesText(principal: Principal): string {
  const projects = Object.keys(principal.roles).sort((a, b) => (a === '*' ? -1 : b === '*' ? 1 : a.localeCompare(b)));
  const entries = projects.flatMap((project) => (principal.roles[project] ?? []).map((role) => `${role}@${project}`));
  return entries.length === 0 ? '-' : entries.join(', ');
}

/**
 * Registers `interlock principals create|list`, which work on the database directly (no server
 * needed), so the first admin can be created on a fresh install:
 * `interlock principals create alice --kind human --group change-board --role approver:shop --role viewer`.
 * A role without `:project` holds in every project (`*`).
 */
export function registerPrincipalsCommand(program: Command, ctx: CliContext): void {
  const principals = program.command('principals').description('manage principals (people, agents, services) in the database');

  principals
    .command('create')
    .description('create a principal with groups and roles (role or role:project; no project = every project)')
    .argument('<name>', 'unique name, recorded as requester and voter, e.g. alice or triage-agent')
    .addOption(new Option('--kind <kind>', 'what the principal is').choices(PRINCIPAL_KINDS).makeOptionMandatory())
    .option('--group <group>', 'a group the principal belongs to (repeatable)', collect, [])
    .option('--role <role[:project]>', 'viewer, operator, approver, auditor, sender or admin, in one project or all (repeatable)', collect, [])
    .action(async (name: string, options: CreateOptions, command: Command) => {
      const parsed = parseRoleSpecs(options.role);
      if ('problems' in parsed) throw new CliError(parsed.problems.join('; '), 2);
      const principal = await withIdentity(ctx, command, (identity) => identity.createPrincipal({ name, kind: options.kind, groups: options.group, roles: parsed.roles }, ctx.now()));
      ctx.io.out(globalOptions(command).json === true ? toJson(principal) : `created ${principal.kind} ${principal.name} (${principal.id}); roles: ${rolesText(principal)}; groups: ${principal.groups.join(', ') || '-'}`);
    });

  principals
    .command('list')
    .description('list principals with their kinds, groups and roles')
    .action(async (_options: unknown, command: Command) => {
      const all = await withIdentity(ctx, command, (identity) => identity.listPrincipals());
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson(all));
        return;
      }
      ctx.io.out(all.length === 0 ? 'no principals yet: create one with `interlock principals create <name> --kind human --role admin`' : renderTable(['NAME', 'KIND', 'GROUPS', 'ROLES', 'ID'], all.map((p) => [p.name, p.kind, p.groups.join(', ') || '-', rolesText(p), p.id])));
    });
}
