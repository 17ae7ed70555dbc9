import { describe, expect, it } from 'vitest';
import { createTextFilter, logqlLineFilters, MAX_REGEX_LENGTH, regexProblem } from './text-filter.js';

describe('text filters', () => {
  it('filters by substring, RE2 pattern and level, each optionally ignoring case', () => {
    const refused = createTextFilter({ contains: 'refused', levels: ['error'] });
    expect(refused('connection refused', 'ERROR')).toBe(true);
    expect(refused('connection refused', 'INFO')).toBe(false);
    expect(refused('connection refused', null)).toBe(false);
    expect(refused('Connection REFUSED', 'error')).toBe(false);
    expect(createTextFilter({ contains: 'refused', ignoreCase: true })('Connection REFUSED', null)).toBe(true);
    const pattern = createTextFilter({ regex: 'pool (exhausted|timeout) after \\d+ms' });
    expect(pattern('db pool exhausted after 5000ms', null)).toBe(true);
    expect(pattern('db pool ok', null)).toBe(false);
    expect(createTextFilter({})('anything', null)).toBe(true);
  });

  it('matches a pattern that makes backtracking engines run for ages in time linear in the line (RE2)', () => {
    // (a+)+$ on "aaaa...!" is the textbook catastrophic backtracking case for JavaScript's RegExp.
    const evil = createTextFilter({ regex: '(a+)+$' });
    expect(evil(`${'a'.repeat(50_000)}!`, null)).toBe(false);
    expect(evil('aaaa', null)).toBe(true);
  });

  it('says why a pattern is refused: too long, invalid, or a construct RE2 does not have', () => {
    expect(regexProblem('a'.repeat(MAX_REGEX_LENGTH + 1))).toBe(`longer than ${MAX_REGEX_LENGTH} characters`);
    expect(regexProblem('(unclosed')).toMatch(/missing closing \)/);
    expect(regexProblem('(\\w+)\\1')).toMatch(/invalid escape sequence/);
    expect(regexProblem('(?=lookahead)')).toMatch(/invalid or unsupported Perl syntax/);
    expect(regexProblem('timeout|refused')).toBeUndefined();
  });

  it('writes the same filters as LogQL line filters, quoting them as LogQL strings', () => {
    expect(logqlLineFilters({ contains: 'say "hi"\\now' })).toBe('|= "say \\"hi\\"\\\\now"');
    expect(logqlLineFilters({ contains: 'a.b', ignoreCase: true, regex: 'x|y' })).toBe('|~ "(?i)a\\\\.b" |~ "(?i)x|y"');
    expect(logqlLineFilters({ levels: ['error'] })).toBe('');
  });
});
