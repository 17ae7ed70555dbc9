import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { diagnose, type Diagnosis } from './engine.js';
import { emptyEvidenceBundle, SERIES_ROLES, type EvidenceBundle, type EvidenceChange, type EvidenceLogLine, type EvidenceSeries, type SeriesRole } from './evidence.js';
import { generateScenarios, isCorrect } from '../../../test/support/diagnosis-scenarios.js';
import { seededRandom } from '../../../test/support/random.js';

// Hand-built bundles: 2 h of 30 s points for a few services, a planted cause, deterministic noise.

const START = Date.parse('2026-03-25T08:00:00Z');
const STEP = 30_000;
const POINTS = 240;
const ONSET_INDEX = 200;
const ONSET = START + ONSET_INDEX * STEP;
const TIMES = Array.from({ length: POINTS }, (_, index) => START + index * STEP);
const MINUTE = 60_000;

/** A hand-built estate: normal golden signals for each service, then the planted changes. */
class Estate {
  readonly next: () => number;
  readonly series = new Map<string, EvidenceSeries>();
  readonly lines = new Map<string, EvidenceLogLine[]>();
  readonly changes: EvidenceChange[] = [];
  latency: EvidenceBundle['latencySamples'] = [];

  constructor(seed: number, services: readonly string[] = ['frontend', 'checkout', 'payments', 'orders', 'catalog', 'cart']) {
    this.next = seededRandom(seed);
    for (const service of services) {
      this.add(service, 'request_rate', () => 200, 0.03);
      this.add(service, 'error_rate', () => 0.002, 0.2);
      this.add(service, 'latency_p99', () => 0.25, 0.08);
      this.add(service, 'cpu', () => 0.5, 0.06);
      this.add(service, 'memory', () => 500e6, 0.01);
      this.lines.set(service, TIMES.filter((_, index) => index % 2 === 0).map((at, index) => ({ at: at + 1000, level: 'INFO', message: `GET /api/${service}/items/${(index * 37) % 1000} 200 in ${10 + (index % 50)} ms` })));
    }
  }

  gaussian(): number {
    let sum = 0;
    for (let index = 0; index < 12; index++) sum += this.next();
    return sum - 6;
  }

  /** Adds or replaces a series: `level(index)` with relative noise `spread`. */
  add(service: string, role: SeriesRole, level: (index: number) => number, spread: number): this {
    const id = `prom:${service}:${role}`;
    this.series.set(id, {
      evidence: { id, source: 'prometheus', query: `${role}{service="${service}"}` },
      labels: { service },
      service,
      role,
      points: TIMES.map((t, index) => [t, Math.max(0, level(index) * (1 + spread * this.gaussian()))] as const),
    });
    return this;
  }

  drop(service: string, role: SeriesRole): this {
    this.series.delete(`prom:${service}:${role}`);
    return this;
  }

  log(service: string, from: number, every: number, level: string, message: (index: number) => string): this {
    const lines = this.lines.get(service) ?? [];
    for (let index = from; index < POINTS; index += every) lines.push({ at: (TIMES[index] as number) + 7000, level, message: message(index) });
    this.lines.set(service, lines);
    return this;
  }

  change(service: string, index: number, kind: EvidenceChange['kind'], ref: string): this {
    this.changes.push({ evidence: { id: `change:${service}:${ref}`, source: 'git', query: `deploys of ${service}` }, at: TIMES[index] as number, service, kind, summary: `${kind} ${service} ${ref}`, ref });
    return this;
  }

  bundle(onsetMs: number | null = ONSET): EvidenceBundle {
    return {
      window: { startMs: START, endMs: TIMES[POINTS - 1] as number },
      onsetMs,
      signals: [],
      series: [...this.series.values()],
      changes: this.changes,
      logs: [...this.lines.entries()].map(([service, lines]) => ({ evidence: { id: `logs:${service}`, source: 'loki', query: `{service="${service}"}` }, service, lines: [...lines].sort((a, b) => a.at - b.at) })),
      latencySamples: this.latency,
    };
  }
}

const ramp = (index: number, from: number, to: number): number => (index <= from ? 0 : index >= to ? 1 : (index - from) / (to - from));
const top = (diagnosis: Diagnosis) => diagnosis.hypotheses[0];
const find = (diagnosis: Diagnosis, id: string) => diagnosis.hypotheses.find((hypothesis) => hypothesis.id === id);

/** A log-normal latency sample (ms). */
function latencies(next: () => number, n: number, median: number): number[] {
  return Array.from({ length: n }, () => {
    let sum = 0;
    for (let index = 0; index < 12; index++) sum += next();
    return median * Math.exp(0.4 * (sum - 6));
  });
}

function leakEstate(seed = 1): Estate {
  return new Estate(seed)
    .add('checkout', 'heap_bytes', (i) => 250e6 * (1 + (0.6 * i) / POINTS) * (1 + 0.15 * ((i % 8) / 8)), 0.01)
    .add('checkout', 'gc_pause_seconds', (i) => 0.01 * (1 + 3 * (i / POINTS) ** 2), 0.15)
    .log('checkout', POINTS - 6, 3, 'ERROR', () => 'java.lang.OutOfMemoryError: Java heap space');
}

function poolEstate(seed = 5, service = 'orders'): Estate {
  return new Estate(seed)
    .add(service, 'pool_max', () => 20, 0)
    .add(service, 'pool_active', (i) => (i < ONSET_INDEX - 4 ? 8 : 19.5), 0.05)
    .add(service, 'pool_wait_seconds', (i) => (i < ONSET_INDEX - 4 ? 0.002 : 0.9), 0.2)
    .add(service, 'long_queries', (i) => (i < ONSET_INDEX - 4 ? 0.3 : 9), 0.1)
    .add(service, 'latency_p99', (i) => (i < ONSET_INDEX - 4 ? 0.25 : 2.5), 0.08)
    .log(service, ONSET_INDEX - 4, 2, 'ERROR', () => 'HikariPool-1 - Connection is not available, request timed out after 30000ms.');
}

describe('diagnose: each signature on its pattern, the planted cause first', () => {
  it('memory leak: a heap growing steadily across the onset, GC pauses lengthening, OOM errors', () => {
    const diagnosis = diagnose(leakEstate().bundle());
    const hypothesis = top(diagnosis);
    expect(hypothesis?.id).toBe('memory_leak:checkout');
    expect(hypothesis?.confidence).toBeGreaterThan(0.8);
    expect(hypothesis?.remediation).toMatchObject({ action: 'restart', target: 'checkout' });
    const trend = hypothesis?.facts.find((fact) => fact.statement.includes('grew'));
    expect(trend?.evidence).toEqual(['prom:checkout:heap_bytes']);
    expect(trend?.values.r2).toBeGreaterThan(0.8);
    expect(trend?.values.slopePerHour).toBeGreaterThan(0);
    expect(hypothesis?.facts.some((fact) => fact.statement.includes('out-of-memory') && fact.evidence.includes('logs:checkout'))).toBe(true);
  });

  it('bad deploy: the error rate steps up right after a deploy of the service, with a new error template', () => {
    const estate = new Estate(2)
      .change('payments', ONSET_INDEX - 10, 'deploy', 'v2.4.1')
      .add('payments', 'error_rate', (i) => (i < ONSET_INDEX - 8 ? 0.002 : 0.06), 0.2)
      .log('payments', ONSET_INDEX - 8, 1, 'ERROR', (i) => `NullPointerException at PaymentService.charge(PaymentService.java:${100 + (i % 7)})`);
    const diagnosis = diagnose(estate.bundle());
    const hypothesis = top(diagnosis);
    expect(hypothesis?.id).toBe('bad_deploy:payments');
    expect(hypothesis?.confidence).toBeGreaterThan(0.8);
    expect(hypothesis?.remediation).toMatchObject({ action: 'rollback', target: 'payments', parameters: { changeRef: 'v2.4.1' } });
    expect(hypothesis?.components.errorStep).toBeGreaterThan(0.5);
    expect(hypothesis?.facts[0]?.evidence).toEqual(['change:payments:v2.4.1']);
  });

  it('connection-pool exhaustion: connections at the pool size, waits and long queries up, pool errors logged', () => {
    const diagnosis = diagnose(poolEstate().bundle());
    const hypothesis = top(diagnosis);
    expect(hypothesis?.id).toBe('pool_exhaustion:orders');
    expect(hypothesis?.confidence).toBeGreaterThan(0.8);
    expect(hypothesis?.remediation).toMatchObject({ action: 'raise_pool_size', target: 'orders', parameters: { currentPoolMax: 20, suggestedPoolMax: 30 } });
    expect(hypothesis?.checks.some((check) => check.query?.includes('pg_stat_activity'))).toBe(true);
  });

  it('canary regression: the canary is slower than its baseline (KS test and p99 ratio)', () => {
    const next = seededRandom(4);
    const estate = new Estate(4).change('checkout', ONSET_INDEX - 30, 'deploy', 'v5-canary');
    estate.latency = [
      { evidence: { id: 'latency:checkout:baseline', source: 'prometheus', query: 'baseline' }, service: 'checkout', group: 'baseline', values: latencies(next, 800, 100) },
      { evidence: { id: 'latency:checkout:canary', source: 'prometheus', query: 'canary' }, service: 'checkout', group: 'canary', values: latencies(next, 300, 135) },
    ];
    const diagnosis = diagnose(estate.bundle());
    const hypothesis = top(diagnosis);
    expect(hypothesis?.id).toBe('canary_regression:checkout');
    expect(hypothesis?.confidence).toBeGreaterThan(0.7);
    expect(hypothesis?.facts[0]?.values.pValue).toBeLessThan(0.01);
    expect(hypothesis?.facts[1]?.values.p99Ratio).toBeGreaterThan(1.1);
    expect(hypothesis?.remediation.action).toBe('shift_canary_traffic_back');
  });

  it('load surge: the request rate rises along a line that crosses the capacity within the horizon, with the forecast and when', () => {
    const estate = new Estate(6)
      .add('catalog', 'request_rate', (i) => 200 * (1 + 1.1 * ramp(i, POINTS - 100, POINTS)), 0.03)
      .add('catalog', 'request_capacity', () => 480, 0);
    const diagnosis = diagnose(estate.bundle(START + (POINTS - 30) * STEP));
    const hypothesis = top(diagnosis);
    expect(hypothesis?.id).toBe('load_surge:catalog');
    expect(hypothesis?.confidence).toBeGreaterThan(0.8);
    const forecast = hypothesis?.facts.find((fact) => fact.values.forecastAtHorizon !== undefined);
    expect(forecast?.values.capacity).toBe(480);
    // About 2.2 req/s more per 30 s point: from ~420 at the end, 480 is reached in roughly 15 min.
    expect(forecast?.values.crossingAtMs).toBeGreaterThan(TIMES[POINTS - 1] as number);
    expect(forecast?.values.crossingAtMs).toBeLessThan((TIMES[POINTS - 1] as number) + 30 * MINUTE);
    expect(forecast?.evidence).toEqual(['prom:catalog:request_rate', 'prom:catalog:request_capacity']);
    expect(hypothesis?.remediation.action).toBe('scale_out');
  });

  it('resource saturation: one service\'s CPU jumps at the onset and stays; its caller only slows down', () => {
    const estate = new Estate(7)
      .add('cart', 'cpu', (i) => (i < ONSET_INDEX - 2 ? 0.5 : 1.9), 0.06)
      .add('cart', 'latency_p99', (i) => (i < ONSET_INDEX - 2 ? 0.25 : 0.6), 0.08)
      .add('frontend', 'latency_p99', (i) => (i < ONSET_INDEX - 2 ? 0.25 : 0.4), 0.08);
    const diagnosis = diagnose(estate.bundle());
    expect(top(diagnosis)?.id).toBe('resource_saturation:cart');
    expect(top(diagnosis)?.confidence).toBeGreaterThan(0.8);
    expect(diagnosis.ranking[0]?.service).toBe('cart');
  });
});

describe('diagnose: negatives and confounders', () => {
  it('a cache warming up (memory grows, then holds) is not a leak', () => {
    const estate = new Estate(11).add('checkout', 'heap_bytes', (i) => 250e6 * (1 + 0.5 * ramp(i, 0, 80)), 0.01);
    const diagnosis = diagnose(estate.bundle());
    expect(find(diagnosis, 'memory_leak:checkout')).toBeUndefined();
    expect(top(diagnosis)?.kind).toBe('unknown');
  });

  it('a memory step at the onset (a hog) is saturation, not a leak', () => {
    const estate = new Estate(12).add('checkout', 'memory', (i) => (i < ONSET_INDEX ? 500e6 : 900e6), 0.01);
    const diagnosis = diagnose(estate.bundle());
    expect(find(diagnosis, 'memory_leak:checkout')).toBeUndefined();
    expect(top(diagnosis)?.id).toBe('resource_saturation:checkout');
  });

  it('a deploy with a flat error rate is refuted, not reported', () => {
    const diagnosis = diagnose(new Estate(13).change('payments', ONSET_INDEX - 5, 'deploy', 'v2.5.0').bundle());
    expect(find(diagnosis, 'bad_deploy:payments')).toBeUndefined();
    expect(top(diagnosis)?.kind).toBe('unknown');
    expect(top(diagnosis)?.facts.some((fact) => fact.evidence.includes('change:payments:v2.5.0'))).toBe(true);
  });

  it('errors that began well before a deploy (a hotfix attempt) do not blame the deploy', () => {
    const estate = new Estate(14)
      .change('payments', ONSET_INDEX - 4, 'deploy', 'hotfix-1')
      .add('payments', 'error_rate', (i) => (i < ONSET_INDEX - 60 ? 0.002 : 0.05), 0.2);
    const diagnosis = diagnose(estate.bundle());
    const deploy = find(diagnosis, 'bad_deploy:payments');
    expect(deploy).toBeUndefined();
  });

  it('an innocent deploy just before the onset does not outrank a pool exhaustion elsewhere', () => {
    const estate = poolEstate(15, 'orders').change('cart', ONSET_INDEX - 3, 'deploy', 'v7.0.0');
    const diagnosis = diagnose(estate.bundle());
    expect(top(diagnosis)?.id).toBe('pool_exhaustion:orders');
    expect(find(diagnosis, 'bad_deploy:cart')).toBeUndefined();
  });

  it('a busy pool that is not waiting is not exhausted', () => {
    const estate = new Estate(16)
      .add('orders', 'pool_max', () => 20, 0)
      .add('orders', 'pool_active', () => 17.5, 0.03)
      .add('orders', 'pool_wait_seconds', () => 0.002, 0.2);
    const diagnosis = diagnose(estate.bundle());
    expect(top(diagnosis)?.kind).toBe('unknown');
    expect(find(diagnosis, 'pool_exhaustion:orders')?.confidence ?? 0).toBeLessThan(0.5);
  });

  it('a canary faster than its baseline is no regression', () => {
    const next = seededRandom(17);
    const estate = new Estate(17);
    estate.latency = [
      { evidence: { id: 'b', source: 'prometheus', query: 'baseline' }, service: 'checkout', group: 'baseline', values: latencies(next, 800, 100) },
      { evidence: { id: 'c', source: 'prometheus', query: 'canary' }, service: 'checkout', group: 'canary', values: latencies(next, 300, 80) },
    ];
    const diagnosis = diagnose(estate.bundle());
    expect(find(diagnosis, 'canary_regression:checkout')).toBeUndefined();
  });

  it('traffic that rose and levelled off far below capacity forecasts no surge', () => {
    const estate = new Estate(18)
      .add('catalog', 'request_rate', (i) => 200 * (1 + 0.3 * ramp(i, 100, 130)), 0.03)
      .add('catalog', 'request_capacity', () => 800, 0);
    const diagnosis = diagnose(estate.bundle());
    expect(find(diagnosis, 'load_surge:catalog')).toBeUndefined();
  });

  it('a two-point CPU blip is not saturation', () => {
    const estate = new Estate(19).add('cart', 'cpu', (i) => (i === ONSET_INDEX || i === ONSET_INDEX + 1 ? 2 : 0.5), 0.06);
    const diagnosis = diagnose(estate.bundle());
    expect(find(diagnosis, 'resource_saturation:cart')).toBeUndefined();
    expect(top(diagnosis)?.kind).toBe('unknown');
  });

  it('an estate with nothing wrong gives unknown first, with a confidence above one half', () => {
    const diagnosis = diagnose(new Estate(20).bundle());
    expect(top(diagnosis)?.kind).toBe('unknown');
    expect(top(diagnosis)?.confidence).toBeGreaterThan(0.5);
  });
});

describe('diagnose: missing evidence', () => {
  it('an empty bundle gives one unknown hypothesis with a low confidence and lists what is missing', () => {
    const diagnosis = diagnose(emptyEvidenceBundle({ startMs: START, endMs: START + 3_600_000 }));
    expect(diagnosis.hypotheses).toHaveLength(1);
    const unknown = diagnosis.hypotheses[0];
    expect(unknown?.kind).toBe('unknown');
    expect(unknown?.confidence).toBeLessThan(0.5);
    expect(unknown?.summary).toMatch(/Not enough evidence/);
    expect(unknown?.missingEvidence).toEqual(expect.arrayContaining([expect.stringMatching(/no latency series/), expect.stringMatching(/no errors series/), expect.stringMatching(/no onset/)]));
    expect(unknown?.remediation.action).toBe('escalate');
    expect(diagnosis.onset).toEqual({ ms: null, source: 'none', evidence: [] });
  });

  it('taking the GC series and the logs away lowers the leak\'s confidence and names them', () => {
    const full = find(diagnose(leakEstate().bundle()), 'memory_leak:checkout');
    const partial = leakEstate().drop('checkout', 'gc_pause_seconds').bundle();
    const thinner = find(diagnose({ ...partial, logs: partial.logs.filter((batch) => batch.service !== 'checkout') }), 'memory_leak:checkout');
    expect(full).toBeDefined();
    expect(thinner).toBeDefined();
    expect(thinner?.confidence).toBeLessThan(full?.confidence ?? 0);
    expect(thinner?.missingEvidence).toEqual(expect.arrayContaining(['no gc_pause_seconds series for checkout', 'no logs for checkout: out-of-memory errors could not be looked for']));
  });

  it('a deploy with no error evidence for its service is kept at a low confidence, the gap named', () => {
    const estate = new Estate(21).change('payments', ONSET_INDEX - 2, 'deploy', 'v2.6.0').drop('payments', 'error_rate');
    const bundle = estate.bundle();
    const diagnosis = diagnose({ ...bundle, logs: bundle.logs.filter((batch) => batch.service !== 'payments') });
    const deploy = find(diagnosis, 'bad_deploy:payments');
    expect(deploy?.confidence).toBeLessThan(0.5);
    expect(deploy?.missingEvidence).toContain('no error_rate series for payments');
    expect(deploy?.assumptions.some((text) => text.includes('only the change'))).toBe(true);
  });

  it('without an onset, the earliest signal gives it; without signals, a change point in the series', () => {
    const estate = new Estate(22).add('cart', 'cpu', (i) => (i < ONSET_INDEX ? 0.5 : 1.9), 0.06);
    const bundle = estate.bundle(null);
    const signal = { evidence: { id: 'alert:cpu', source: 'alertmanager', query: '' }, name: 'HighCPU', labels: { service: 'cart' }, annotations: {}, status: 'firing' as const, startsAt: ONSET + 60_000, endsAt: null };
    expect(diagnose({ ...bundle, signals: [signal] }).onset).toEqual({ ms: ONSET + 60_000, source: 'signals', evidence: ['alert:cpu'] });
    const found = diagnose(bundle).onset;
    expect(found.source).toBe('change_point');
    expect(Math.abs((found.ms ?? 0) - ONSET)).toBeLessThan(5 * MINUTE);
  });
});

describe('diagnose: evidence references, determinism, input', () => {
  /** Every evidence ID of a bundle. */
  const idsOf = (bundle: EvidenceBundle): Set<string> => new Set([...bundle.series, ...bundle.changes, ...bundle.logs, ...bundle.latencySamples, ...bundle.signals].map((item) => item.evidence.id));

  it('facts cite only evidence IDs that exist in the bundle (hand-built and generated cases)', () => {
    const bundles = [leakEstate().bundle(), poolEstate().bundle(), ...generateScenarios(7007, { positives: 2, negatives: 1, none: 2, blind: 2 }).map((one) => one.bundle)];
    let cited = 0;
    for (const bundle of bundles) {
      const ids = idsOf(bundle);
      for (const hypothesis of diagnose(bundle).hypotheses) {
        for (const fact of hypothesis.facts) {
          for (const id of fact.evidence) expect(ids.has(id), `${hypothesis.id}: ${fact.statement} cites ${id}`).toBe(true);
          cited += fact.evidence.length;
        }
      }
    }
    expect(cited).toBeGreaterThan(50);
  });

  it('the same bundle gives the same bytes, whatever the order of its items and points', () => {
    const bundle = poolEstate(30).change('cart', ONSET_INDEX - 3, 'deploy', 'v7.0.0').bundle();
    const once = JSON.stringify(diagnose(bundle));
    expect(JSON.stringify(diagnose(bundle))).toBe(once);
    const shuffled: EvidenceBundle = {
      ...bundle,
      series: [...bundle.series].reverse().map((one) => ({ ...one, points: [...one.points].reverse() })),
      logs: [...bundle.logs].reverse(),
      changes: [...bundle.changes].reverse(),
    };
    expect(JSON.stringify(diagnose(shuffled))).toBe(once);
  });

  it('refuses a malformed bundle with INPUT_INVALID naming each field', () => {
    const bundle = leakEstate().bundle();
    const duplicate = { ...bundle, changes: [{ evidence: { id: 'prom:checkout:heap_bytes', source: 'git', query: '' }, at: START, service: 'checkout', kind: 'deploy' as const, summary: 'x' }] };
    const error = (() => {
      try {
        diagnose({ ...duplicate, onsetMs: START - 1 });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InputError);
    const issues = (error as InputError).details.issues as Array<{ path: string }>;
    expect(issues.map((issue) => issue.path)).toEqual(expect.arrayContaining(['onsetMs', 'changes.0.evidence.id']));
    expect(() => diagnose({ ...bundle, window: { startMs: START, endMs: START } })).toThrow(InputError);
  });

  it('puts the truth in the top three on most generated scenarios (a quality guard, not the benchmark)', () => {
    const cases = generateScenarios(4004, { positives: 3, negatives: 2, none: 3, blind: 0 });
    const inTopThree = cases.filter((one) => diagnose(one.bundle).hypotheses.slice(0, 3).some((hypothesis) => isCorrect(one.truth, hypothesis.kind, hypothesis.service)));
    expect(inTopThree.length / cases.length).toBeGreaterThanOrEqual(0.85);
  });
});

describe('diagnose: properties', () => {
  const services = fc.constantFrom('checkout', 'cart', 'orders', 'payments');
  const time = fc.integer({ min: START - 3_600_000, max: START + 10_800_000 });
  const reference = (prefix: string) => fc.record({ id: fc.string({ minLength: 1, maxLength: 8 }).map((id) => `${prefix}:${id}`), source: fc.constantFrom('prometheus', 'git', 'loki'), query: fc.string({ maxLength: 20 }) });
  const value = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null));
  const series = fc.record({
    evidence: reference('s'),
    labels: fc.dictionary(fc.constantFrom('service', 'instance'), fc.string({ maxLength: 6 })),
    service: fc.option(services, { nil: undefined }),
    role: fc.constantFrom(...SERIES_ROLES),
    points: fc.array(fc.tuple(time, value), { maxLength: 80 }),
  });
  const change = fc.record({ evidence: reference('c'), at: time, service: services, kind: fc.constantFrom('deploy', 'config', 'rollback', 'scale', 'feature_flag', 'other' as const), summary: fc.string({ maxLength: 30 }), ref: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }) });
  const line = fc.record({ at: time, level: fc.option(fc.constantFrom('INFO', 'ERROR', 'warn'), { nil: undefined }), message: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('java.lang.OutOfMemoryError: Java heap space', 'timeout acquiring connection from pool', 'GET /x 200')), service: fc.option(services, { nil: undefined }) });
  const logs = fc.record({ evidence: reference('l'), service: fc.option(services, { nil: undefined }), lines: fc.array(line, { maxLength: 30 }) });
  const samples = fc.record({ evidence: reference('x'), service: services, group: fc.constantFrom('canary', 'baseline' as const), values: fc.array(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true, min: 0, max: 1e4 }), fc.constant(null)), { maxLength: 150 }) });
  const signal = fc.record({ evidence: reference('a'), name: fc.constantFrom('HighCPU', 'HighErrorRate'), labels: fc.dictionary(fc.constantFrom('service', 'job'), services), annotations: fc.constant({}), status: fc.constantFrom('firing', 'resolved' as const), startsAt: time, endsAt: fc.constant(null) });
  const bundle = fc
    .record({
      span: fc.integer({ min: 60_000, max: 10_800_000 }),
      onset: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
      signals: fc.array(signal, { maxLength: 2 }),
      series: fc.array(series, { maxLength: 6 }),
      changes: fc.array(change, { maxLength: 3 }),
      logs: fc.array(logs, { maxLength: 2 }),
      latencySamples: fc.array(samples, { maxLength: 3 }),
    })
    .map(({ span, onset, ...items }): EvidenceBundle => ({ window: { startMs: START, endMs: START + span }, onsetMs: onset === null ? null : START + Math.round(onset * span), ...items }))
    .filter((candidate) => {
      const ids = [...candidate.series, ...candidate.changes, ...candidate.logs, ...candidate.latencySamples, ...candidate.signals].map((item) => item.evidence.id);
      return new Set(ids).size === ids.length;
    });

  it('never throws on a bundle within the schema; confidences in [0, 1], sorted, unknown present, IDs unique, facts cite the bundle', () => {
    fc.assert(
      fc.property(bundle, (input) => {
        const diagnosis = diagnose(input);
        const ids = new Set([...input.series, ...input.changes, ...input.logs, ...input.latencySamples, ...input.signals].map((item) => item.evidence.id));
        const confidences = diagnosis.hypotheses.map((hypothesis) => hypothesis.confidence);
        for (const confidence of confidences) expect(confidence >= 0 && confidence <= 1).toBe(true);
        for (let index = 1; index < confidences.length; index++) expect(confidences[index - 1] as number).toBeGreaterThanOrEqual(confidences[index] as number);
        expect(diagnosis.hypotheses.filter((hypothesis) => hypothesis.kind === 'unknown')).toHaveLength(1);
        expect(new Set(diagnosis.hypotheses.map((hypothesis) => hypothesis.id)).size).toBe(diagnosis.hypotheses.length);
        for (const hypothesis of diagnosis.hypotheses) for (const fact of hypothesis.facts) for (const id of fact.evidence) expect(ids.has(id)).toBe(true);
        expect(JSON.stringify(diagnosis)).toBe(JSON.stringify(diagnose(input)));
      }),
      { numRuns: 60, seed: 20_260_505 },
    );
  });

  // Bundles on a regular grid, long enough for every signature to run: each series a level with
  // noise, a step or a trend at a random point, gaps, extreme magnitudes; changes, pool errors and
  // OOM lines, canary samples.
  const shaped = fc.record({
    seed: fc.integer({ min: 1, max: 1_000_000 }),
    points: fc.integer({ min: 0, max: 200 }),
    onset: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
    series: fc.array(
      fc.record({
        service: fc.option(services, { nil: undefined }),
        role: fc.constantFrom(...SERIES_ROLES),
        level: fc.oneof(fc.double({ min: -10, max: 1e4, noNaN: true }), fc.constantFrom(0, 1e-300, 1e300, -1e300)),
        noise: fc.double({ min: 0, max: 2, noNaN: true }),
        step: fc.double({ min: -5, max: 50, noNaN: true }),
        at: fc.double({ min: 0, max: 1, noNaN: true }),
        trend: fc.boolean(),
        gaps: fc.double({ min: 0, max: 0.9, noNaN: true }),
      }),
      { maxLength: 10 },
    ),
    changes: fc.array(fc.record({ service: services, at: fc.double({ min: 0, max: 1, noNaN: true }) }), { maxLength: 3 }),
    lines: fc.array(fc.record({ service: services, at: fc.double({ min: 0, max: 1, noNaN: true }), message: fc.constantFrom('java.lang.OutOfMemoryError: Java heap space', 'timeout acquiring connection from pool', 'NullPointerException at X', 'GET /x 200 in 5 ms') }), { maxLength: 40 }),
    canary: fc.option(fc.record({ service: services, shift: fc.double({ min: 0.5, max: 3, noNaN: true }), n: fc.integer({ min: 0, max: 400 }) }), { nil: null }),
  });

  it('never throws on long, shaped bundles either (steps, trends, gaps, extreme magnitudes)', () => {
    fc.assert(
      fc.property(shaped, (shape) => {
        const next = seededRandom(shape.seed);
        const times = Array.from({ length: shape.points }, (_, index) => START + index * STEP);
        const end = START + Math.max(1, shape.points) * STEP;
        const input: EvidenceBundle = {
          window: { startMs: START, endMs: end },
          onsetMs: shape.onset === null ? null : START + Math.round(shape.onset * (end - START)),
          signals: [],
          series: shape.series.map((one, index) => ({
            evidence: { id: `s${index}`, source: 'prometheus', query: `q${index}` },
            labels: {},
            ...(one.service === undefined ? {} : { service: one.service }),
            role: one.role,
            points: times.map((t, row) => {
              if (next() < one.gaps) return [t, null] as const;
              const from = Math.floor(one.at * shape.points);
              const shift = one.trend ? (one.step * Math.max(0, row - from)) / Math.max(1, shape.points) : row >= from ? one.step : 0;
              const value = one.level * (1 + shift) * (1 + one.noise * (next() - 0.5));
              return [t, Number.isFinite(value) ? value : null] as const;
            }),
          })),
          changes: shape.changes.map((one, index) => ({ evidence: { id: `c${index}`, source: 'git', query: '' }, at: START + Math.round(one.at * (end - START)), service: one.service, kind: 'deploy' as const, summary: 'deploy', ref: `r${index}` })),
          logs: shape.lines.length === 0 ? [] : [{ evidence: { id: 'logs', source: 'loki', query: '' }, lines: shape.lines.map((one) => ({ at: START + Math.round(one.at * (end - START)), level: 'ERROR', message: one.message, service: one.service })) }],
          latencySamples:
            shape.canary === null
              ? []
              : [
                  { evidence: { id: 'base', source: 'prometheus', query: '' }, service: shape.canary.service, group: 'baseline' as const, values: latencies(next, shape.canary.n, 100) },
                  { evidence: { id: 'can', source: 'prometheus', query: '' }, service: shape.canary.service, group: 'canary' as const, values: latencies(next, shape.canary.n, 100 * shape.canary.shift) },
                ],
        };
        const diagnosis = diagnose(input);
        const confidences = diagnosis.hypotheses.map((hypothesis) => hypothesis.confidence);
        for (const confidence of confidences) expect(confidence >= 0 && confidence <= 1).toBe(true);
        for (let index = 1; index < confidences.length; index++) expect(confidences[index - 1] as number).toBeGreaterThanOrEqual(confidences[index] as number);
        expect(diagnosis.hypotheses.some((hypothesis) => hypothesis.kind === 'unknown')).toBe(true);
        expect(() => JSON.stringify(diagnosis)).not.toThrow();
      }),
      { numRuns: 40, seed: 20_260_506 },
    );
  });
});
