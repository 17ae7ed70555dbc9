import { describe, expect, it } from 'vitest';
import { findLogNovelties, looksLikeError, type LogLine } from './log-novelty.js';

const MINUTE = 60_000;
const START = Date.parse('2026-03-25T10:00:00Z');
const ONSET = START + 60 * MINUTE;
const END = ONSET + 15 * MINUTE;
const WINDOWS = { baselineStart: START, onset: ONSET, end: END };

/** Lines every `everyMs` from `from` (inclusive) to `to` (exclusive); `offset` keeps times of different series apart. */
function series(from: number, to: number, everyMs: number, offset: number, line: (index: number) => Omit<LogLine, 'time'>): LogLine[] {
  const lines: LogLine[] = [];
  for (let time = from + offset, index = 0; time < to; time += everyMs, index++) lines.push({ time, ...line(index) });
  return lines;
}

/** An hour of a healthy service, then a database incident: new errors, a new variant, a rise, and steady traffic. */
function incidentLog(): LogLine[] {
  return [
    // Steady request traffic, same rate before and after the onset.
    ...series(START, END, 30_000, 1, (i) => ({ level: 'INFO', message: `GET /api/orders/${1000 + i} 200 in ${12 + (i % 7)} ms` })),
    ...series(START, END, MINUTE, 2, (i) => ({ level: 'INFO', message: `heartbeat from worker-${(i % 3) + 1} ok` })),
    // A pool message, steady; after the onset a variant of it that Drain folds into the same template.
    ...series(START, END, 2 * MINUTE, 3, () => ({ level: 'INFO', message: 'connection pool to orders-db established' })),
    ...series(ONSET + 5 * MINUTE, END, 2 * MINUTE, 4, () => ({ level: 'ERROR', message: 'connection pool to orders-db exhausted' })),
    // Slow queries: every 5 minutes before, every 20 s after (15 times the rate).
    ...series(START, ONSET, 5 * MINUTE, 5, (i) => ({ level: 'WARN', message: `slow query on orders took ${1500 + i} ms` })),
    ...series(ONSET, END, 20_000, 5, (i) => ({ level: 'WARN', message: `slow query on orders took ${2500 + i} ms` })),
    // New since the onset: an error every 30 s from 2 minutes in, and an informational message.
    ...series(ONSET + 2 * MINUTE, END, 30_000, 6, (i) => ({ level: 'ERROR', message: `connection to db-primary:5432 refused: too many clients already (attempt ${i + 1})`, raw: `2026-03-25 ERROR pgclient: connection to db-primary:5432 refused (attempt ${i + 1})` })),
    ...series(ONSET + 10 * MINUTE, END, MINUTE, 7, () => ({ level: 'INFO', message: 'failover candidate db-replica-2 selected' })),
  ];
}

describe('log novelty since an onset', () => {
  it('ranks the new error template first and leaves out templates whose rate held', () => {
    const report = findLogNovelties(incidentLog(), WINDOWS);
    const [first] = report.findings;
    expect(first).toMatchObject({
      change: 'new',
      template: 'connection to db-primary:<:NUM:> refused: too many clients already (attempt <:NUM:>)',
      baselineCount: 0,
      incidentCount: 26,
      rateRatio: null,
      firstSeen: ONSET + 2 * MINUTE + 6,
      looksLikeError: true,
      levels: { ERROR: 26 },
    });
    expect(first?.examples).toEqual([
      '2026-03-25 ERROR pgclient: connection to db-primary:5432 refused (attempt 1)',
      '2026-03-25 ERROR pgclient: connection to db-primary:5432 refused (attempt 2)',
      '2026-03-25 ERROR pgclient: connection to db-primary:5432 refused (attempt 3)',
    ]);
    const templates = report.findings.map((finding) => finding.template);
    expect(templates.some((template) => template.startsWith('GET '))).toBe(false);
    expect(templates.some((template) => template.startsWith('heartbeat'))).toBe(false);
    expect(templates).not.toContain('connection pool to orders-db <*>');
  });

  it('reports a line that changes a constant word of an old template as a new variant of it', () => {
    const report = findLogNovelties(incidentLog(), WINDOWS);
    expect(report.findings[1]).toMatchObject({
      change: 'new',
      template: 'connection pool to orders-db exhausted',
      variantOf: 'connection pool to orders-db established',
      baselineCount: 0,
      incidentCount: 5,
      looksLikeError: true,
    });
  });

  it('reports risen and new informational templates after the errors, with rates per minute', () => {
    const report = findLogNovelties(incidentLog(), WINDOWS);
    expect(report.findings.map((finding) => [finding.change, finding.template, finding.looksLikeError])).toEqual([
      ['new', 'connection to db-primary:<:NUM:> refused: too many clients already (attempt <:NUM:>)', true],
      ['new', 'connection pool to orders-db exhausted', true],
      ['new', 'failover candidate db-replica-2 selected', false],
      ['rose', 'slow query on orders took <:NUM:> ms', false],
    ]);
    const rose = report.findings[3];
    expect(rose).toMatchObject({ baselineCount: 12, incidentCount: 45, baselinePerMinute: 0.2, incidentPerMinute: 3 });
    expect(rose?.rateRatio).toBeCloseTo(15, 9);
    expect(report).toMatchObject({ baselineLines: 120 + 60 + 30 + 12, incidentLines: 30 + 15 + 8 + 5 + 45 + 26 + 5, ignoredLines: 0, omittedFindings: 0 });
  });

  it('needs both the rate ratio and the count for a rise', () => {
    expect(findLogNovelties(incidentLog(), WINDOWS, { minRateRatio: 20 }).findings.map((finding) => finding.change)).not.toContain('rose');
    expect(findLogNovelties(incidentLog(), WINDOWS, { minRiseCount: 46 }).findings.map((finding) => finding.change)).not.toContain('rose');
    // With a low bar the steady templates still stay out: their ratio is about 1.
    const low = findLogNovelties(incidentLog(), WINDOWS, { minRateRatio: 1.5 });
    expect(low.findings.filter((finding) => finding.change === 'rose').map((finding) => finding.template)).toEqual(['slow query on orders took <:NUM:> ms']);
    // At a ratio of 1 they show, each as it stood at the onset (the pool template is not widened by its new variant).
    const all = findLogNovelties(incidentLog(), WINDOWS, { minRateRatio: 1 });
    expect(all.findings.filter((finding) => finding.change === 'rose').map((finding) => finding.template)).toContain('connection pool to orders-db established');
  });

  it('gives the same report whatever the order of the input lines', () => {
    const lines = incidentLog();
    const reversed = [...lines].reverse();
    const interleaved = [...lines.filter((_, index) => index % 2 === 0), ...lines.filter((_, index) => index % 2 === 1)];
    const expected = findLogNovelties(lines, WINDOWS);
    expect(findLogNovelties(reversed, WINDOWS)).toEqual(expected);
    expect(findLogNovelties(interleaved, WINDOWS)).toEqual(expected);
  });

  it('ignores lines outside the windows, cuts the list at the limit, and rejects windows out of order', () => {
    const lines = [...incidentLog(), { time: START - 1, message: 'too early' }, { time: END, message: 'too late' }, { time: Number.NaN, message: 'no time' }];
    const report = findLogNovelties(lines, WINDOWS, { limit: 2 });
    expect(report.ignoredLines).toBe(3);
    expect(report.findings).toHaveLength(2);
    expect(report.omittedFindings).toBe(2);
    expect(() => findLogNovelties([], { baselineStart: START, onset: START, end: END })).toThrow(expect.objectContaining({ code: 'INPUT_INVALID' }));
    expect(() => findLogNovelties([], WINDOWS, { limit: 0 })).toThrow(expect.objectContaining({ code: 'INPUT_INVALID' }));
  });
});

describe('looksLikeError', () => {
  it('goes by the level or by error words in the message', () => {
    expect(looksLikeError({ message: 'all good', level: 'error' })).toBe(true);
    expect(looksLikeError({ message: 'all good', level: 'FATAL' })).toBe(true);
    expect(looksLikeError({ message: 'Connection refused by peer', level: 'INFO' })).toBe(true);
    expect(looksLikeError({ message: 'request timed out after 30 s' })).toBe(true);
    expect(looksLikeError({ message: 'java.lang.NullPointerException at Foo.bar' })).toBe(true);
    expect(looksLikeError({ message: 'caught OutOfMemoryError in worker' })).toBe(true);
    expect(looksLikeError({ message: 'terror and mirror are not errors', level: 'INFO' })).toBe(true); // 'errors' is a word
    expect(looksLikeError({ message: 'terror and mirror', level: 'INFO' })).toBe(false);
    expect(looksLikeError({ message: 'job finished', level: 'INFO' })).toBe(false);
    expect(looksLikeError({ message: 'errorless run' })).toBe(false);
  });
});
