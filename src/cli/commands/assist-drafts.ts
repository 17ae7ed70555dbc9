import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { z } from 'zod';
import { draftChangeRequest, InventorySystemSchema, renderChangeRequestMarkdown, type InventorySystem } from '../../agents/assistants/change-request.js';
import { draftTriage, renderTriageMarkdown, type ServiceOwner } from '../../agents/assistants/triage.js';
import { parseYamlFile } from '../../core/policy/yaml-source.js';
import { RunbookSchema, type Runbook } from '../../core/runbooks/runbook.js';
import { isRunbookFileName } from '../../connectors/runbooks/runbook-loader.js';
import { apiFor, withApiOptions } from '../api.js';
import { CliError, configFor, globalOptions, type CliContext } from '../context.js';
import { toJson } from '../output.js';

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${what} ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A YAML (or JSON, which is YAML) file as data. */
async function readData(file: string, what: string): Promise<unknown> {
  const text = await readText(file, what);
  try {
    return parse(text) as unknown;
  } catch (error) {
    throw new CliError(`${what} ${file} is not YAML or JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function issuesText(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/** An inventory file: a list of systems, or `{ systems: [...] }`. */
async function readInventory(file: string): Promise<InventorySystem[]> {
  const data = await readData(file, 'inventory');
  const list = Array.isArray(data) ? data : typeof data === 'object' && data !== null ? (data as { systems?: unknown }).systems : undefined;
  const parsed = InventorySystemSchema.array().safeParse(list);
  if (!parsed.success) throw new CliError(`inventory ${file} is not a list of { name, kind, owner, tier? } (or { systems: [...] }): ${issuesText(parsed.error)}`, 2);
  return parsed.data;
}

const OwnerSchema = z.object({ owner: z.string().min(1).max(200), team: z.string().min(1).max(200).optional(), contact: z.string().min(1).max(200).optional() }).strict();
/** The ownership file of `assist triage --owners`. */
const OwnersFileSchema = z.object({
  default: OwnerSchema.optional().describe('Whom to route to when the service has no owner here.'),
  services: z.record(z.string().min(1).max(200), OwnerSchema).default({}),
}).strict();

/** Whom a triage goes to when no ownership file names a default. */
const FALLBACK_OWNER: ServiceOwner = { owner: 'the on-call engineer of the project' };

async function readOwners(file: string): Promise<{ owners: Record<string, ServiceOwner>; defaultOwner: ServiceOwner }> {
  const parsed = OwnersFileSchema.safeParse(await readData(file, 'ownership file'));
  if (!parsed.success) throw new CliError(`ownership file ${file} is not { default?: { owner, team?, contact? }, services: { <service>: { owner, team?, contact? } } }: ${issuesText(parsed.error)}`, 2);
  return { owners: parsed.data.services, defaultOwner: parsed.data.default ?? FALLBACK_OWNER };
}

/**
 * The runbooks of `dir`, checked by their schema (not against a tool catalog: the CLI has none, and the
 * draft only shows which runbook would apply). @throws CliError naming each invalid file.
 */
async function readRunbooks(dir: string): Promise<Runbook[]> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && isRunbookFileName(entry.name)).map((entry) => entry.name).sort();
  } catch (error) {
    throw new CliError(`cannot read runbook directory ${dir}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const runbooks: Runbook[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const parsed = parseYamlFile(path, await readText(path, 'runbook file'));
    problems.push(...parsed.issues.map((issue) => `${issue.source} ${issue.path}: ${issue.message}`));
    for (const doc of parsed.documents) {
      const result = RunbookSchema.safeParse(doc.value);
      if (result.success) runbooks.push(result.data);
      else problems.push(`${path}: ${issuesText(result.error)}`);
    }
  }
  if (problems.length > 0) throw new CliError(`invalid runbooks in ${dir}: ${problems.join('; ')}`);
  return runbooks;
}

/**
 * Registers the draft assistants under `assist` (a command group created elsewhere):
 * `assist change-request <notes-file> [--inventory <file>] [--window <text>]`, offline from files, and
 * `assist triage <incident-id> [--runbooks <dir>] [--owners <file>]`, which reads the incident and its
 * diagnosis from a running server (`--url`, `--token`). Both print the draft as Markdown, or as JSON
 * with `--json`. They decide nothing. See docs/assistants.md.
 */
export function registerAssistDraftCommands(assist: Command, ctx: CliContext): void {
  assist.command('change-request')
    .description('draft a change request (CAB) from technical notes: affected systems, risk, steps, rollback, validation, what is missing (approves nothing)')
    .argument('<notes-file>', 'the technical notes, Markdown or plain text')
    .option('--inventory <file>', 'known systems, YAML or JSON: a list (or { systems: [...] }) of { name, kind, owner, tier? }')
    .option('--window <text>', 'the requested maintenance window, e.g. "2026-04-04 02:00-03:00 UTC"')
    .action(async (notesFile: string, options: { inventory?: string; window?: string }, command: Command) => {
      const notes = await readText(resolve(ctx.cwd, notesFile), 'notes file');
      const inventory = options.inventory === undefined ? [] : await readInventory(resolve(ctx.cwd, options.inventory));
      const draft = draftChangeRequest({ notes, inventory, ...(options.window === undefined ? {} : { window: options.window }) });
      ctx.io.out(globalOptions(command).json === true ? toJson(draft) : renderChangeRequestMarkdown(draft));
    });

  withApiOptions(assist.command('triage'))
    .description("draft an incident triage from a running server's incident and diagnosis: facts, assumptions, missing evidence, read-only checks, owner (decides nothing)")
    .argument('<incident-id>', 'incident ID')
    .option('--runbooks <dir>', 'runbook directory (default: runbooks.dir from the configuration)')
    .option('--owners <file>', 'ownership file, YAML or JSON: { default?: { owner, team?, contact? }, services: { <service>: { owner, team?, contact? } } }')
    .action(async (id: string, options: { runbooks?: string; owners?: string }, command: Command) => {
      const runbookDir = options.runbooks === undefined ? configFor(ctx, command).runbooks.dir : resolve(ctx.cwd, options.runbooks);
      const runbooks = runbookDir === undefined ? [] : await readRunbooks(runbookDir);
      const { owners, defaultOwner } = options.owners === undefined ? { owners: {}, defaultOwner: FALLBACK_OWNER } : await readOwners(resolve(ctx.cwd, options.owners));
      const api = apiFor(ctx, command);
      const { incident, signals } = await api.getIncident(id);
      const view = await api.getDiagnosis(id);
      const draft = draftTriage({ incident, signals, diagnosis: view.status === 'done' ? view.diagnosis : null, runbooks, owners, defaultOwner });
      ctx.io.out(globalOptions(command).json === true ? toJson(draft) : renderTriageMarkdown(draft));
    });
}
