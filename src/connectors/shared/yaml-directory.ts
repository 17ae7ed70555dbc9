import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { InterlockError, type ErrorCode } from '../../core/errors.js';
import { sortIssues, type PolicyIssue } from '../../core/policy/policy-errors.js';
import { parseYamlFile, type SourcedDocument } from '../../core/policy/yaml-source.js';

/** A loaded directory of YAML definitions: the values, the files they came from and the SHA-256 of them all. */
export interface LoadedYamlDirectory<T> {
  readonly values: readonly T[];
  /** The files read, as `<dir>/<name>`, sorted by name. */
  readonly files: readonly string[];
  /** Hex SHA-256 over every file's name and bytes, in order: which set was in force. */
  readonly digest: string;
}

/** True for a definition file name: `*.yaml` or `*.yml`, not hidden. */
export function isYamlFileName(name: string): boolean {
  return /\.ya?ml$/.test(name) && !name.startsWith('.');
}

/** How {@link loadYamlDirectory} reads one kind of definition. */
export interface YamlDirectoryKind<S extends z.ZodType> {
  /** What the files hold, in messages: `runbook`, `agent`. */
  readonly noun: string;
  readonly schema: S;
  /** Code of a directory or file that cannot be read, e.g. `RUNBOOK_UNREADABLE`. */
  readonly unreadable: ErrorCode;
  /** Code of a set with problems, e.g. `RUNBOOK_INVALID`. */
  readonly invalid: ErrorCode;
  /** Problems of one valid document beyond its schema, each at a path of the document (`doc.issueAt`). */
  check?(value: z.output<S>, doc: SourcedDocument, path: string): PolicyIssue[];
  /** The name that must be unique across the set. */
  nameOf(value: z.output<S>): string;
  /** The path of that name in a document, for the duplicate's issue. */
  readonly namePath: readonly (string | number)[];
}

/**
 * Reads every `*.yaml` / `*.yml` file of `dir` (one or more `---` separated documents each), checks
 * each document against `kind.schema` and `kind.check`, and that names are unique.
 * @throws InterlockError `kind.unreadable` when the directory or a file cannot be read.
 * @throws InterlockError `kind.invalid` listing every problem with `file:line:column` in `details.issues`.
 */
export async function loadYamlDirectory<S extends z.ZodType>(dir: string, kind: YamlDirectoryKind<S>): Promise<LoadedYamlDirectory<z.output<S>>> {
  const unreadable = (message: string, error: unknown): InterlockError => {
    const reason = error instanceof Error ? error.message : String(error);
    return new InterlockError(kind.unreadable, `${message}: ${reason}`, { cause: error, details: { issues: [] } });
  };
  let names: string[];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    names = entries.filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && isYamlFileName(entry.name)).map((entry) => entry.name).sort();
  } catch (error) {
    throw unreadable(`cannot read ${kind.noun} directory ${dir}`, error);
  }
  const issues: PolicyIssue[] = [];
  const values: Array<z.output<S>> = [];
  const seen = new Map<string, string>();
  const hash = createHash('sha256');
  for (const name of names) {
    const path = join(dir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw unreadable(`cannot read ${kind.noun} file ${path}`, error);
    }
    hash.update(`${name}\0${text}\0`);
    const parsed = parseYamlFile(path, text);
    issues.push(...parsed.issues);
    for (const doc of parsed.documents) {
      const result = kind.schema.safeParse(doc.value);
      if (!result.success) {
        for (const issue of result.error.issues) issues.push(doc.issueAt(issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment)), issue.message));
        continue;
      }
      const value = result.data;
      const valueName = kind.nameOf(value);
      const first = seen.get(valueName);
      if (first !== undefined) issues.push(doc.issueAt([...kind.namePath], `duplicate ${kind.noun} name "${valueName}" (also in ${first})`));
      seen.set(valueName, path);
      issues.push(...(kind.check?.(value, doc, path) ?? []));
      values.push(value);
    }
  }
  if (issues.length > 0) {
    const sorted = sortIssues(issues);
    throw new InterlockError(kind.invalid, `invalid ${kind.noun} set, ${sorted.length === 1 ? '1 problem' : `${sorted.length} problems`}: ${sorted.map((issue) => `${issue.source} ${issue.path}: ${issue.message}`).join('; ')}`, { details: { issues: sorted } });
  }
  return { values, files: names.map((name) => join(dir, name)), digest: hash.digest('hex') };
}
