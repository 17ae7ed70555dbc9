import { describe, expect, it } from 'vitest';
import { createLineParser, parseLogTime } from './log-lines.js';
import { LogFormatSchema } from './logs-config.js';

describe('parseLogTime', () => {
  it('reads ISO 8601 / RFC 3339 forms, with the default offset for times written without one', () => {
    const utc = Date.parse('2015-10-18T18:01:47.978Z');
    expect(parseLogTime('2015-10-18 18:01:47,978')).toBe(utc);
    expect(parseLogTime('2015-10-18T18:01:47.978Z')).toBe(utc);
    expect(parseLogTime('2015-10-18T20:01:47.978123+02:00')).toBe(utc);
    expect(parseLogTime('2015-10-18 20:01:47,978', 120)).toBe(utc);
    expect(parseLogTime('2015-10-18T18:01Z')).toBe(Date.parse('2015-10-18T18:01:00Z'));
  });

  it('reads the common log format of nginx and Apache', () => {
    expect(parseLogTime('10/Oct/2000:13:55:36 -0700')).toBe(Date.parse('2000-10-10T20:55:36Z'));
  });

  it('tells Unix seconds, ms, µs and ns apart by size', () => {
    const ms = 1_700_000_000_123;
    expect(parseLogTime('1700000000.123')).toBe(ms);
    expect(parseLogTime(String(ms))).toBe(ms);
    expect(parseLogTime(String(ms * 1000))).toBe(ms);
    expect(parseLogTime(`${ms}000000`)).toBe(ms);
  });

  it('refuses what is not a time, or an impossible date', () => {
    expect(parseLogTime('yesterday')).toBeUndefined();
    expect(parseLogTime('2015-02-30 10:00:00')).toBeUndefined();
    expect(parseLogTime('2015-10-18 25:00:00')).toBeUndefined();
    expect(parseLogTime('31/Foo/2000:13:55:36 -0700')).toBeUndefined();
  });
});

describe('createLineParser', () => {
  it('splits a Loghub Hadoop line into time, level and message', () => {
    const parse = createLineParser(LogFormatSchema.parse({ type: 'pattern', pattern: '<Date> <Time> <Level> \\[<Process>\\] <Component>: <Content>' }));
    expect(parse('2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster for application appattempt_1445144423722_0020_000001'))
      .toEqual({ time: Date.parse('2015-10-18T18:01:47.978Z'), level: 'INFO', message: 'Created MRAppMaster for application appattempt_1445144423722_0020_000001' });
    expect(parse('\tat java.lang.Thread.run(Thread.java:745)')).toBeUndefined();
  });

  it('reads the time from the fields named by time, e.g. an nginx access log', () => {
    const parse = createLineParser(LogFormatSchema.parse({ type: 'pattern', pattern: '<Client> - <User> \\[<Time>\\] <Content>', time: ['Time'] }));
    expect(parse('127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /checkout HTTP/1.1" 502 157')).toEqual({ time: Date.parse('2000-10-10T20:55:36Z'), level: null, message: '"GET /checkout HTTP/1.1" 502 157' });
  });

  it('reads JSON Lines with pino\'s numeric levels, and configured (dotted) field names', () => {
    const pino = createLineParser(LogFormatSchema.parse({ type: 'json' }));
    expect(pino('{"level":50,"time":1700000000123,"msg":"connection refused"}')).toEqual({ time: 1_700_000_000_123, level: 'error', message: 'connection refused' });
    expect(pino('{"level":50,"msg":"no time"}')).toBeUndefined();
    expect(pino('not json')).toBeUndefined();
    const custom = createLineParser(LogFormatSchema.parse({ type: 'json', timeField: '@timestamp', levelField: 'log.level', messageField: 'message' }));
    expect(custom('{"@timestamp":"2024-05-01T10:00:00Z","log":{"level":"WARN"},"message":"slow query"}')).toEqual({ time: Date.parse('2024-05-01T10:00:00Z'), level: 'WARN', message: 'slow query' });
  });
});

describe('LogFormatSchema', () => {
  it('names what is wrong with a pattern: no <Content>, no time fields, an unknown time field, an invalid pattern', () => {
    const problems = (format: unknown): string[] => {
      const parsed = LogFormatSchema.safeParse(format);
      return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    };
    expect(problems({ type: 'pattern', pattern: '<Date> <Time> <Level>' })).toEqual(['pattern: has no <Content> field']);
    expect(problems({ type: 'pattern', pattern: '<Level> <Content>' })).toEqual(['time: is required: the pattern has neither <Timestamp> nor <Date> and <Time>']);
    expect(problems({ type: 'pattern', pattern: '<When> <Content>', time: ['When', 'Then'] })).toEqual(['time.1: is not a field of the pattern']);
    expect(problems({ type: 'pattern', pattern: '<Date> (<Content>' })[0]).toMatch(/^pattern: log format is not a valid pattern/);
    expect(problems({ type: 'json', timeField: 'a..b' })[0]).toMatch(/^timeField: /);
  });
});
