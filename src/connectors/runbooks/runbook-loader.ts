import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InterlockError } from '../../core/errors.js';
import { sortIssues, type PolicyIssue } from '../../core/policy/policy-errors.js';
import { parseYamlFile } from '../../core/policy/yaml-source.js';
import { RunbookSchema, type Runbook } from '../../core/runbooks/runbook.js';
import type { ToolCatalog } from '../../core/tools/catalog.js';

/** A loaded runbook directory: the runbooks, the files they came from and the SHA-256 of them all. */
export interface LoadedRunbooks {
  readonly runbooks: readonly Runbook[];
  /** The runbook files read, as `<dir>/<name>`, sorted by name. */
  readonly files: readonly string[];
  /** Hex SHA-256 over every file's name and bytes, in order: which runbook set was in force. */
  readonly digest: string;
}

/** True for a runbook file name: `*.yaml` or `*.yml`, not hidden. */
export function isRunbookFileName(name: string): boolean {
  return /\.ya?ml$/.test(name) && !name.startsWith('.');
}

function unreadable(message: string, error: unknown): InterlockError {
  const reason = error instanceof Error ? error.message : String(error);
  return new InterlockError('RUNBOOK_UNREADABLE', `${message}: ${reason}`, { cause: error, details: { issues: [] } });
}

/**
 * Reads and checks every runbook file of `dir` (one or more `---` separated documents each, see
 * docs/runbooks.md): the schema, the placeholders, that every plan tool is in `catalog`, that every
 * verification is a read tool of the catalog, and that names are unique.
 *
 * @throws InterlockError `RUNBOOK_UNREADABLE` when the directory or a file cannot be read.
 * @throws InterlockError `RUNBOOK_INVALID` listing every problem with `file:line:column` in
 *   `details.issues`.
 */
export async function loadRunbookDirectory(dir: string, catalog: Pick<ToolCatalog, 'find'>): Promise<LoadedRunbooks> {
  let names: string[];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    names = entries.filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && isRunbookFileName(entry.name)).map((entry) => entry.name).sort();
  } catch (error) {
    throw unreadable(`cannot read runbook directory ${dir}`, error);
  }
  const issues: PolicyIssue[] = [];
  const runbooks: Runbook[] = [];
  const seen = new Map<string, string>();
  const hash = createHash('sha256');
  for (const name of names) {
    const path = join(dir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw unreadable(`cannot read runbook file ${path}`, error);
    }
    hash.update(`${name}\0${text}\0`);
    const parsed = parseYamlFile(path, text);
    issues.push(...parsed.issues);
    for (const doc of parsed.documents) {
      const result = RunbookSchema.safeParse(doc.value);
      if (!result.success) {
        for (const issue of result.error.issues) issues.push(doc.issueAt(issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment)), issue.message));
        continue;
      }
      const runbook = result.data;
      const first = seen.get(runbook.metadata.name);
      if (first !== undefined) issues.push(doc.issueAt(['metadata', 'name'], `duplicate runbook name "${runbook.metadata.name}" (also in ${first})`));
      seen.set(runbook.metadata.name, path);
      runbook.spec.plan.forEach((step, index) => {
        if (catalog.find(step.tool) === undefined) issues.push(doc.issueAt(['spec', 'plan', index, 'tool'], `the catalog has no tool ${step.tool} (is its connector enabled?)`));
      });
      runbook.spec.verify.forEach((step, index) => {
        const tool = catalog.find(step.tool);
        if (tool === undefined) issues.push(doc.issueAt(['spec', 'verify', index, 'tool'], `the catalog has no tool ${step.tool} (is its connector enabled?)`));
        else if (tool.risk !== 'read') issues.push(doc.issueAt(['spec', 'verify', index, 'tool'], `verifications must use read tools; ${step.tool} is ${tool.risk}`));
      });
      runbooks.push(runbook);
    }
  }
  if (issues.length > 0) {
    const sorted = sortIssues(issues);
    throw new InterlockError('RUNBOOK_INVALID', `invalid runbook set, ${sorted.length === 1 ? '1 problem' : `${sorted.length} problems`}: ${sorted.map((issue) => `${issue.source} ${issue.path}: ${issue.message}`).join('; ')}`, { details: { issues: sorted } });
  }
  return { runbooks, files: names.map((name) => join(dir, name)), digest: hash.digest('hex') };
}
