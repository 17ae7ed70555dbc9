import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConnectorError, ERROR_CODES, InputError, InterlockError } from './errors.js';

describe('error registry', () => {
  it('docs/errors.md lists exactly the registered codes, with the same kind and status', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\w+) \| (\d{3}) \|/gm)].map((m) => ({ code: m[1]!, kind: m[2]!, status: Number(m[3]) }));
    const registered = Object.entries(ERROR_CODES).map(([code, info]) => ({ code, kind: info.kind, status: info.status }));
    expect(rows.sort((a, b) => a.code.localeCompare(b.code))).toEqual(registered.sort((a, b) => a.code.localeCompare(b.code)));
  });

  it('gives every error its registered status and keeps details and cause', () => {
    const cause = new Error('socket hang up');
    const error = new ConnectorError('TOOL_TIMEOUT', 'too slow', { system: 'nginx', retryable: false, outcomeUnknown: true, cause });
    expect(error).toBeInstanceOf(InterlockError);
    expect(error.status).toBe(504);
    expect(error.kind).toBe('connector');
    expect(error.cause).toBe(cause);
    expect(error.details).toMatchObject({ system: 'nginx', outcomeUnknown: true });
    const input = new InputError('TOOL_ARGS_INVALID', 'bad', [{ path: 'steps.0.args.x', message: 'unknown key' }]);
    expect(input.status).toBe(400);
    expect(input.details).toEqual({ issues: [{ path: 'steps.0.args.x', message: 'unknown key' }] });
  });
});
