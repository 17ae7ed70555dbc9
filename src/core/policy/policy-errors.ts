import { InterlockError, type Issue } from '../errors.js';

/**
 * One problem in a policy document (or a policy test file): where it is and what is wrong. `path` is
 * the field inside the document (`spec.rules.0.match`); `source` is `<file>:<line>:<column>`, which
 * the CLI prints in front of it.
 */
export interface PolicyIssue extends Issue {
  /** The file as the caller named it (relative to the policy directory when loaded from one). */
  readonly file: string;
  /** 1-based line of the offending value (for a CEL error, of the offending token) in `file`. */
  readonly line: number;
  /** 1-based column of the offending value or token. */
  readonly column: number;
  /** `<file>:<line>:<column>`. */
  readonly source: string;
}

/**
 * A policy set (or a policy test file) was rejected: the documents do not parse, do not have the
 * expected shape, or a CEL condition does not compile against the typed environment. Every problem is
 * listed in `issues`, ordered by file, line and column. Nothing of the rejected set was loaded.
 *
 * Code `POLICY_INVALID` (kind `config`), or `POLICY_UNREADABLE` when a policy directory or file cannot
 * be read at all.
 */
export class PolicyError extends InterlockError {
  readonly issues: readonly PolicyIssue[];
  constructor(code: 'POLICY_INVALID' | 'POLICY_UNREADABLE', message: string, issues: readonly PolicyIssue[] = [], options: { readonly cause?: unknown } = {}) {
    super(code, message, { cause: options.cause, details: { issues } });
    this.issues = issues;
  }
}

/** Orders issues by file, line and column (stable for equal positions). */
export function sortIssues(issues: readonly PolicyIssue[]): PolicyIssue[] {
  return [...issues].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column));
}

/** The rejection of a policy set (or test file) with `issues`, sorted by position. */
export function invalidPolicySet(issues: readonly PolicyIssue[], what = 'policy set'): PolicyError {
  const sorted = sortIssues(issues);
  const count = sorted.length === 1 ? '1 problem' : `${sorted.length} problems`;
  return new PolicyError('POLICY_INVALID', `invalid ${what}, ${count}: fix each one at the file:line:column it names`, sorted);
}

/** One line per issue: `<file>:<line>:<column> <path>: <message>`, for logs and reports. */
export function formatPolicyIssue(issue: PolicyIssue): string {
  return `${issue.source} ${issue.path}: ${issue.message}`;
}
