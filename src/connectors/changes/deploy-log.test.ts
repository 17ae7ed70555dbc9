import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../core/errors.js';
import { ORDER_TOLERANCE_MS } from '../shared/time-window.js';
import { parseDeployLine, readDeployLog } from './deploy-log.js';

let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deploy-log-'));
  path = join(dir, 'deploys.jsonl');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const T0 = Date.parse('2024-05-01T10:00:00Z');
const minutes = (n: number): number => T0 + n * 60_000;
const record = (at: number | string, service: string, version: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ at, service, version, kind: 'deploy', by: 'ci', ...extra });

describe('parseDeployLine', () => {
  it('reads RFC 3339 and ms times, release as a synonym of version, and the optional fields', () => {
    expect(parseDeployLine(JSON.stringify({ at: '2024-05-01T12:00:00+02:00', service: 'checkout', release: 'r42', kind: 'rollback', by: 'alice', previous: 'r43', environment: 'prod', extra: 'ignored' })))
      .toEqual({ ok: true, record: { at: T0, service: 'checkout', version: 'r42', kind: 'rollback', by: 'alice', previous: 'r43', environment: 'prod', description: null, ref: null } });
    expect(parseDeployLine(record(T0, 'checkout', '1.4.2'))).toMatchObject({ ok: true, record: { at: T0, version: '1.4.2', previous: null } });
  });

  it('names each wrong field of an invalid record', () => {
    const parsed = parseDeployLine(JSON.stringify({ at: 'yesterday', service: 'checkout', kind: 'restart', by: 'ci' }));
    expect(parsed.ok).toBe(false);
    const reason = (parsed as { reason: string }).reason;
    expect(reason).toMatch(/^at: /);
    expect(reason).toMatch(/kind: /);
    expect(reason).toMatch(/version: version \(or release\) is required/);
    expect(parseDeployLine('not json')).toEqual({ ok: false, reason: 'not JSON' });
  });
});

describe('readDeployLog', () => {
  const query = { since: minutes(0), until: minutes(60), limit: 100, maxBytes: 1_048_576 };

  it('returns the records of the window oldest first, of one service when asked', async () => {
    await writeFile(path, [
      record(minutes(-30), 'checkout', '1.0'),
      record(minutes(5), 'checkout', '1.1', { previous: '1.0' }),
      record(minutes(10), 'payments', '7'),
      record(minutes(20), 'checkout', '1.2', { previous: '1.1' }),
      record(minutes(90), 'checkout', '1.3'),
      '',
    ].join('\n'));
    const all = await readDeployLog(path, query);
    expect(all.records.map((r) => `${r.service}@${r.version}`)).toEqual(['checkout@1.1', 'payments@7', 'checkout@1.2']);
    expect(all).toMatchObject({ truncated: false, notes: [], invalidLines: 0 });
    const checkout = await readDeployLog(path, { ...query, service: 'checkout' });
    expect(checkout.records.map((r) => r.version)).toEqual(['1.1', '1.2']);
  });

  it('skips an incomplete last line being written, and counts other invalid lines', async () => {
    await writeFile(path, [record(minutes(1), 'checkout', '1.1'), '{"at": oops', record(minutes(2), 'checkout', '1.2'), '{"at":"2024-05-01T10:03:00Z","serv'].join('\n'));
    const read = await readDeployLog(path, query);
    expect(read.records.map((r) => r.version)).toEqual(['1.1', '1.2']);
    expect(read.invalidLines).toBe(1);
    expect(read.invalidExamples).toEqual([{ excerpt: '{"at": oops', reason: 'not JSON' }]);
    expect(read.notes).toContain('The last line of the deploy log is incomplete (being written) and was skipped.');
    expect(read.truncated).toBe(false);
  });

  it('keeps the newest records when the window has more than limit, and says so', async () => {
    await writeFile(path, `${Array.from({ length: 10 }, (_, i) => record(minutes(i), 'checkout', `1.${i}`)).join('\n')}\n`);
    const read = await readDeployLog(path, { ...query, limit: 3 });
    expect(read.records.map((r) => r.version)).toEqual(['1.7', '1.8', '1.9']);
    expect(read.truncated).toBe(true);
    expect(read.notes[0]).toMatch(/more than 3 records; the newest 3/);
  });

  it('reads no more than maxBytes from the end, and says older records may be missing', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => record(minutes(i), 'checkout', `1.${i}`));
    await writeFile(path, `${lines.join('\n')}\n`);
    const read = await readDeployLog(path, { ...query, maxBytes: 4096 });
    expect(read.truncated).toBe(true);
    expect(read.records.at(-1)?.version).toBe('1.49');
    expect(read.records.length).toBeLessThan(50);
    expect(read.notes.some((note) => note.includes('maxReadBytes'))).toBe(true);
  });

  it('stops at the first record older than since by more than the tolerance, but reads on past records a little out of order', async () => {
    await writeFile(path, [
      record(minutes(1), 'checkout', 'before-the-stop'),
      record(minutes(0) - ORDER_TOLERANCE_MS - 1, 'checkout', 'stop-here'),
      record(minutes(2), 'checkout', 'a'),
      record(minutes(-2), 'checkout', 'slightly-old'),
      record(minutes(1), 'checkout', 'c'),
      record(minutes(3), 'checkout', 'b'),
      '',
    ].join('\n'));
    const read = await readDeployLog(path, query);
    expect(read.records.map((r) => r.version)).toEqual(['c', 'a', 'b']);
  });

  it('reports a missing file as a non-retryable connector error naming the setting', async () => {
    const error = await readDeployLog(join(dir, 'missing.jsonl'), query).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'TOOL_FAILED', system: 'deploy-log', retryable: false });
    expect((error as Error).message).toMatch(/connectors\.changes\.deployLog/);
  });
});
