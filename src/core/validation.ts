import type { z } from 'zod';
import type { Issue } from './errors.js';

/**
 * Turns Zod issues into Interlock {@link Issue}s: a dotted path (prefixed with `prefix`), what was
 * expected and what was received, so a 4xx or a config error can name every field at once.
 */
export function toIssues(error: z.ZodError, prefix = ''): Issue[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((part) => part !== '').join('.');
    const expected = 'expected' in issue && typeof issue.expected === 'string' ? issue.expected : undefined;
    const received = 'input' in issue && issue.input !== undefined ? describeValue(issue.input) : undefined;
    return {
      path: path === '' ? '(root)' : path,
      message: issue.message,
      ...(expected === undefined ? {} : { expected }),
      ...(received === undefined ? {} : { received }),
    };
  });
}

/** A short, safe description of a received value for error messages (never the full value). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return value.length > 40 ? `string of length ${value.length}` : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${value.toString()}`;
  return typeof value;
}

/** Formats issues as one line each: `path: message (expected X, got Y)`. */
export function formatIssues(issues: readonly Issue[]): string {
  return issues
    .map((issue) => {
      const extra = [issue.expected === undefined ? '' : `expected ${issue.expected}`, issue.received === undefined ? '' : `got ${issue.received}`]
        .filter((part) => part !== '')
        .join(', ');
      return `${issue.path}: ${issue.message}${extra === '' ? '' : ` (${extra})`}`;
    })
    .join('\n');
}
