import type { PolicyIssue } from '../../core/policy/policy-errors.js';
import { RunbookSchema, type Runbook } from '../../core/runbooks/runbook.js';
import type { ToolCatalog } from '../../core/tools/catalog.js';
import { isYamlFileName, loadYamlDirectory } from '../shared/yaml-directory.js';

/** A loaded runbook directory: the runbooks, the files they came from and the SHA-256 of them all. */
export interface LoadedRunbooks {
  readonly runbooks: readonly Runbook[];
  /** The runbook files read, as `<dir>/<name>`, sorted by name. */
  readonly files: readonly string[];
  /** Hex SHA-256 over every file's name and bytes, in order: which runbook set was in force. */
  readonly digest: string;
}

/** True for a runbook file name: `*.yaml` or `*.yml`, not hidden. */
export const isRunbookFileName = isYamlFileName;

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
  const loaded = await loadYamlDirectory(dir, {
    noun: 'runbook', schema: RunbookSchema, unreadable: 'RUNBOOK_UNREADABLE', invalid: 'RUNBOOK_INVALID',
    nameOf: (runbook) => runbook.metadata.name, namePath: ['metadata', 'name'],
    check(runbook, doc) {
      const issues: PolicyIssue[] = [];
      runbook.spec.plan.forEach((step, index) => {
        if (catalog.find(step.tool) === undefined) issues.push(doc.issueAt(['spec', 'plan', index, 'tool'], `the catalog has no tool ${step.tool} (is its connector enabled?)`));
      });
      runbook.spec.verify.forEach((step, index) => {
        const tool = catalog.find(step.tool);
        if (tool === undefined) issues.push(doc.issueAt(['spec', 'verify', index, 'tool'], `the catalog has no tool ${step.tool} (is its connector enabled?)`));
        else if (tool.risk !== 'read') issues.push(doc.issueAt(['spec', 'verify', index, 'tool'], `verifications must use read tools; ${step.tool} is ${tool.risk}`));
      });
      return issues;
    },
  });
  return { runbooks: loaded.values, files: loaded.files, digest: loaded.digest };
}
