// Synthetic, labelled incident scenarios for the diagnosis engine (issue #5): generated
// deterministically from a seed, with realistic noise (Gaussian noise, scrape glitches, missing
// points, GC sawtooth, diurnal drift), confounders (an innocent deploy just before the onset, a cache
// warming up, memory that follows traffic, errors that began before a hotfix deploy, a pool that is
// busy but not waiting) and negatives (nothing wrong, a false alarm). THESE ARE SYNTHETIC: they are
// written by us from the published descriptions of the patterns, not recorded from a real estate.
// The calibration is fitted on one seed (TRAINING_SEED) and measured on another (EVALUATION_SEED).
import { fitDiagnosisCalibration, type CalibrationSample, type DiagnosisCalibration } from '../../src/core/diagnosis/calibration.js';
import { diagnose } from '../../src/core/diagnosis/engine.js';
import type { EvidenceBundle, EvidenceChange, EvidenceLatencySamples, EvidenceLogLine, EvidenceLogs, EvidenceSeries, EvidenceSignal, SeriesRole } from '../../src/core/diagnosis/evidence.js';
import { HYPOTHESIS_KINDS, type HypothesisKind } from '../../src/core/diagnosis/hypothesis.js';
import { seededRandom } from './random.js';

/** The generator's version: part of the calibration's name; bump it when the scenarios change. */
export const SCENARIOS_VERSION = 'scenarios-v1';
/** The seed of the training scenarios (the calibration is fitted on them). */
export const TRAINING_SEED = 1001;
/** The seed of the evaluation scenarios (never fitted on). */
export const EVALUATION_SEED = 2002;

/** The families of scenarios: one per pattern, plus nothing wrong and blind (evidence stripped). */
export const SCENARIO_FAMILIES = ['memory_leak', 'bad_deploy', 'pool_exhaustion', 'canary_regression', 'load_surge', 'resource_saturation', 'none', 'blind'] as const;
export type ScenarioFamily = (typeof SCENARIO_FAMILIES)[number];

/** The right answer: a kind and a service, or `unknown` (no known pattern is going on). */
export interface ScenarioTruth {
  readonly kind: HypothesisKind;
  readonly service: string | null;
}

/** One labelled case. */
export interface LabelledScenario {
  /** `<family>/<variant>/<index>`. */
  readonly id: string;
  readonly family: ScenarioFamily;
  /** `positive`, or the negative or confounder it is (`cache_warmup`, `innocent_deploy` ...). */
  readonly variant: string;
  readonly truth: ScenarioTruth;
  readonly bundle: EvidenceBundle;
}

/** How many cases of each family. */
export interface ScenarioCounts {
  readonly positives: number;
  readonly negatives: number;
  readonly none: number;
  readonly blind: number;
}

/**
 * The default set: 50 positives and 25 negatives or confounders per pattern, 60 nothing-wrong, 60
 * blind (570 cases). Blind cases are a fault two times in three: with no evidence, that prior is
 * what the `unknown` hypothesis' confidence learns.
 */
export const DEFAULT_SCENARIO_COUNTS: ScenarioCounts = { positives: 50, negatives: 25, none: 60, blind: 60 };

/** Is hypothesis (`kind`, `service`) the right answer for `truth`? */
export function isCorrect(truth: ScenarioTruth, kind: HypothesisKind, service: string | null): boolean {
  return kind === truth.kind && (truth.kind === 'unknown' || service === truth.service);
}

// ---------------------------------------------------------------------------------------------
// Randomness

/** Draws of several kinds from one seeded sequence ({@link seededRandom}, mulberry32). */
class Random {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = seededRandom(seed);
  }
  next(): number {
    return this.#next();
  }
  between(low: number, high: number): number {
    return low + (high - low) * this.#next();
  }
  int(low: number, high: number): number {
    return Math.floor(this.between(low, high + 1));
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)] as T;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = Math.max(this.#next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.#next());
  }
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let index = out.length - 1; index > 0; index--) {
      const swap = Math.floor(this.#next() * (index + 1));
      [out[index], out[swap]] = [out[swap] as T, out[index] as T];
    }
    return out;
  }
}

/** A seed for case `index` of family `family` under `seed` (FNV-1a of the three). */
function caseSeed(seed: number, family: string, index: number): number {
  let hash = 0x811c9dc5;
  for (const char of `${seed}/${family}/${index}`) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

// ---------------------------------------------------------------------------------------------
// The estate

const STEP_MS = 30_000;
const POINTS = 360; // 3 h at 30 s
const MINUTE = 60_000;
const SERVICES = ['checkout', 'cart', 'catalog', 'payments', 'orders', 'users', 'shipping'] as const;

/** A service's normal behaviour. */
interface Profile {
  readonly name: string;
  readonly rate: number;
  readonly errors: number;
  readonly p99: number;
  readonly cpu: number;
  readonly memory: number;
  readonly jvm: boolean;
  readonly heap: number;
  readonly heapAmplitude: number;
  readonly gcPeriod: number;
  readonly gc: number;
  readonly db: boolean;
  readonly poolMax: number;
  readonly poolUse: number;
  readonly poolWait: number;
  readonly capacity: number | null;
  readonly diurnalPhase: number;
}

/** Values per role of one service, one per point (null: missing). */
type Signals = Partial<Record<SeriesRole, Array<number | null>>>;

/** A case under construction. */
class Builder {
  readonly random: Random;
  readonly start: number;
  readonly times: number[];
  readonly profiles: Profile[];
  readonly signals: Map<string, Signals> = new Map();
  readonly lines: Map<string, EvidenceLogLine[]> = new Map();
  readonly changes: EvidenceChange[] = [];
  readonly alerts: EvidenceSignal[] = [];
  readonly latency: EvidenceLatencySamples[] = [];
  /** Roles that must not be dropped at random (the planted evidence), by service. */
  readonly keep = new Set<string>();
  /** Services whose logs must be kept. */
  readonly keepLogs = new Set<string>();
  onsetIndex: number;

  constructor(seed: number) {
    this.random = new Random(seed);
    // Start between 00:00 and 21:00 UTC of one fixed day, on a 30 s boundary.
    this.start = Date.UTC(2026, 2, 25) + this.random.int(0, 21 * 120) * STEP_MS;
    this.times = Array.from({ length: POINTS }, (_, index) => this.start + index * STEP_MS);
    const names = ['frontend', ...this.random.shuffle(SERVICES).slice(0, this.random.int(3, 5))];
    this.profiles = names.map((name) => this.profile(name));
    for (const profile of this.profiles) this.signals.set(profile.name, this.normalSignals(profile));
    for (const profile of this.profiles) this.lines.set(profile.name, this.normalLines(profile));
    this.onsetIndex = this.random.int(285, 320);
  }

  profile(name: string): Profile {
    const r = this.random;
    const memory = r.between(200e6, 1.2e9);
    const jvm = name !== 'frontend' && r.chance(0.7);
    const db = name !== 'frontend' && r.chance(0.6);
    const rate = r.between(40, 600);
    return {
      name,
      rate,
      errors: r.between(0.0005, 0.01),
      p99: r.between(0.05, 0.6),
      cpu: r.between(0.2, 1.6),
      memory,
      jvm,
      heap: memory * r.between(0.35, 0.6),
      heapAmplitude: r.between(0.08, 0.25),
      gcPeriod: r.int(4, 14),
      gc: r.between(0.004, 0.03),
      db,
      poolMax: r.pick([10, 20, 32, 50]),
      poolUse: r.between(0.15, 0.55),
      poolWait: r.between(0.0005, 0.004),
      capacity: r.chance(0.75) ? rate * r.between(1.8, 4) : null,
      diurnalPhase: r.between(0, 2 * Math.PI),
    };
  }

  /** `base` with relative Gaussian noise `spread`, scrape glitches (0.3 %) and missing points (0.5 %). */
  noisy(base: (index: number) => number, spread: number, floor = 0): Array<number | null> {
    const r = this.random;
    return this.times.map((_, index) => {
      if (r.chance(0.005)) return null;
      let value = base(index) * (1 + spread * r.normal());
      if (r.chance(0.003)) value *= r.between(1.5, 3);
      return Math.max(floor, value);
    });
  }

  diurnal(profile: Profile, index: number): number {
    return 1 + 0.15 * Math.sin((2 * Math.PI * (this.times[index] as number)) / 86_400_000 + profile.diurnalPhase);
  }

  normalSignals(p: Profile): Signals {
    const r = this.random;
    const signals: Signals = {
      request_rate: this.noisy((i) => p.rate * this.diurnal(p, i), 0.04),
      error_rate: this.noisy(() => p.errors, 0.25),
      latency_p99: this.noisy(() => p.p99, 0.1),
      cpu: this.noisy((i) => p.cpu * (0.7 + 0.3 * this.diurnal(p, i)), 0.08),
      memory: this.noisy(() => p.memory, 0.01),
    };
    if (p.jvm) {
      const phase = r.int(0, p.gcPeriod - 1);
      signals.heap_bytes = this.noisy((i) => p.heap * (1 + p.heapAmplitude * (((i + phase) % p.gcPeriod) / p.gcPeriod)), 0.01);
      signals.gc_pause_seconds = this.noisy(() => p.gc, 0.2);
    }
    if (p.db) {
      signals.pool_max = this.times.map(() => p.poolMax);
      signals.pool_active = this.noisy(() => p.poolUse * p.poolMax, 0.2).map((value) => (value === null ? null : Math.min(p.poolMax, Math.round(value))));
      signals.pool_wait_seconds = this.noisy(() => p.poolWait, 0.3);
      signals.long_queries = this.times.map(() => (r.chance(0.15) ? r.int(1, 2) : 0));
    }
    if (p.capacity !== null) signals.request_capacity = this.times.map(() => p.capacity);
    return signals;
  }

  normalLines(p: Profile): EvidenceLogLine[] {
    const r = this.random;
    const lines: EvidenceLogLine[] = [];
    for (let index = 0; index < POINTS; index += 2) {
      const at = (this.times[index] as number) + r.int(0, STEP_MS - 1);
      const kind = r.next();
      if (kind < 0.45) lines.push({ at, level: 'INFO', message: `GET /api/${p.name}/items/${r.int(1, 9999)} 200 in ${r.int(5, 90)} ms` });
      else if (kind < 0.7) lines.push({ at, level: 'INFO', message: `user ${r.int(1000, 99999)} session refreshed` });
      else if (kind < 0.85) lines.push({ at, level: 'DEBUG', message: `cache refreshed: ${r.int(100, 5000)} entries in ${r.int(2, 40)} ms` });
      else if (kind < 0.97) lines.push({ at, level: 'WARN', message: `slow request POST /api/${p.name}/submit took ${r.int(800, 3000)} ms` });
      else lines.push({ at, level: 'ERROR', message: `upstream call to ${r.pick(SERVICES)} failed: connection reset by peer` });
    }
    return lines;
  }

  service(index = 1): Profile {
    return this.profiles[Math.min(index, this.profiles.length - 1)] as Profile;
  }

  /** A service other than frontend, at random. */
  target(): Profile {
    return this.random.pick(this.profiles.slice(1));
  }

  /** Another non-frontend service than `not`, or frontend when there is none. */
  other(not: string): Profile {
    const others = this.profiles.slice(1).filter((p) => p.name !== not);
    return others.length === 0 ? (this.profiles[0] as Profile) : this.random.pick(others);
  }

  set(service: string, role: SeriesRole, values: Array<number | null>, keep = true): void {
    (this.signals.get(service) as Signals)[role] = values;
    if (keep) this.keep.add(`${service}/${role}`);
  }

  get(service: string, role: SeriesRole): Array<number | null> {
    return (this.signals.get(service) as Signals)[role] ?? [];
  }

  /** Multiplies a role's values from `from` on by `factor(index)`. */
  scale(service: string, role: SeriesRole, from: number, factor: (index: number) => number, keep = true): void {
    const values = this.get(service, role);
    if (values.length === 0) return;
    this.set(service, role, values.map((value, index) => (value === null || index < from ? value : value * factor(index))), keep);
  }

  log(service: string, from: number, to: number, perPoint: number, level: string, message: () => string, keep = true): void {
    const lines = this.lines.get(service) as EvidenceLogLine[];
    for (let index = from; index < to; index++) {
      if (!this.random.chance(perPoint)) continue;
      lines.push({ at: (this.times[index] as number) + this.random.int(0, STEP_MS - 1), level, message: message() });
    }
    if (keep) this.keepLogs.add(service);
  }

  change(service: string, index: number, kind: EvidenceChange['kind'], summary: string, ref: string): void {
    this.changes.push({ evidence: { id: `change:${service}:${this.changes.length + 1}`, source: 'git', query: `deploys of ${service}` }, at: this.times[Math.max(0, Math.min(POINTS - 1, index))] as number, service, kind, summary, ref });
  }

  alert(name: string, service: string, index: number): void {
    const startsAt = this.times[Math.max(0, Math.min(POINTS - 1, index))] as number;
    this.alerts.push({ evidence: { id: `alert:${name}:${service}:${this.alerts.length + 1}`, source: 'alertmanager', query: '' }, name, labels: { alertname: name, service, severity: 'page' }, annotations: { summary: `${name} on ${service}` }, status: 'firing', startsAt, endsAt: null });
  }

  /** Innocent changes of random services at random times (0..2), none within 15 min of the onset. */
  innocentChanges(): void {
    const count = this.random.int(0, 2);
    for (let index = 0; index < count; index++) {
      const at = this.random.int(0, POINTS - 1);
      if (Math.abs(at - this.onsetIndex) < 30) continue;
      const service = this.target().name;
      this.change(service, at, this.random.pick(['deploy', 'config']), `routine ${service} release`, `v1.${this.random.int(0, 40)}.${this.random.int(0, 9)}`);
    }
  }

  /** Builds the bundle, dropping non-planted series (15 %) and logs (25 % of services) at random. */
  bundle(options: { onsetGiven?: boolean; alertDelayPoints?: number } = {}): EvidenceBundle {
    const r = this.random;
    const series: EvidenceSeries[] = [];
    for (const [service, signals] of this.signals) {
      for (const [role, values] of Object.entries(signals) as Array<[SeriesRole, Array<number | null>]>) {
        if (!this.keep.has(`${service}/${role}`) && r.chance(0.15)) continue;
        series.push({
          evidence: { id: `prom:${service}:${role}`, source: 'prometheus', query: queryOf(service, role) },
          labels: { service, job: service },
          service,
          role,
          points: values.map((value, index) => [this.times[index] as number, value === null ? null : Number(value.toPrecision(8))] as const),
        });
      }
    }
    const logs: EvidenceLogs[] = [];
    for (const [service, lines] of this.lines) {
      if (!this.keepLogs.has(service) && r.chance(0.25)) continue;
      logs.push({ evidence: { id: `logs:${service}`, source: 'loki', query: `{service="${service}"}` }, service, lines: [...lines].sort((a, b) => a.at - b.at) });
    }
    const onsetMs = this.alerts.length > 0 ? Math.min(...this.alerts.map((alert) => alert.startsAt)) : (this.times[this.onsetIndex] as number);
    return {
      window: { startMs: this.start, endMs: this.times[POINTS - 1] as number },
      onsetMs: options.onsetGiven === false ? null : onsetMs,
      signals: this.alerts,
      series,
      changes: this.changes,
      logs,
      latencySamples: this.latency,
    };
  }
}

function queryOf(service: string, role: SeriesRole): string {
  const selector = `{service="${service}"}`;
  switch (role) {
    case 'request_rate':
      return `sum(rate(http_requests_total${selector}[1m]))`;
    case 'error_rate':
      return `sum(rate(http_requests_total{service="${service}",code=~"5.."}[1m])) / sum(rate(http_requests_total${selector}[1m]))`;
    case 'latency_p99':
      return `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket${selector}[1m])))`;
    case 'cpu':
      return `sum(rate(process_cpu_seconds_total${selector}[1m]))`;
    case 'memory':
      return `sum(process_resident_memory_bytes${selector})`;
    case 'heap_bytes':
      return `sum(jvm_memory_used_bytes{service="${service}",area="heap"})`;
    case 'gc_pause_seconds':
      return `sum(rate(jvm_gc_pause_seconds_sum${selector}[1m]))`;
    case 'pool_active':
      return `sum(hikaricp_connections_active${selector})`;
    case 'pool_max':
      return `sum(hikaricp_connections_max${selector})`;
    case 'pool_wait_seconds':
      return `sum(rate(hikaricp_connections_acquire_seconds_sum${selector}[1m])) / sum(rate(hikaricp_connections_acquire_seconds_count${selector}[1m]))`;
    case 'long_queries':
      return `sum(pg_long_running_transactions${selector})`;
    case 'request_capacity':
      return `sum(interlock_capacity_requests_per_second${selector})`;
    default:
      return `${role}${selector}`;
  }
}

/** A ramp from 0 at `from` to 1 at `to` (0 before, 1 after). */
const ramp = (index: number, from: number, to: number): number => (index <= from ? 0 : index >= to ? 1 : (index - from) / (to - from));

/** A log-normal sample of `n` latencies with median `median` and shape `sigma`. */
function latencies(random: Random, n: number, median: number, sigma: number, tail = 0): number[] {
  return Array.from({ length: n }, () => {
    let value = median * Math.exp(sigma * random.normal());
    if (tail > 0 && random.chance(0.03)) value *= 1 + tail * random.next();
    return Number(value.toPrecision(6));
  });
}

// ---------------------------------------------------------------------------------------------
// The patterns

type Scenario = { variant: string; truth: ScenarioTruth; bundle: EvidenceBundle };

function memoryLeak(b: Builder, negative: boolean): Scenario {
  const r = b.random;
  const s = b.profiles.slice(1).find((p) => p.jvm) ?? b.target();
  const jvm = s.jvm;
  const growth = r.between(0.12, 1.2);
  const onset = b.onsetIndex;
  b.innocentChanges();
  if (!negative) {
    const role: SeriesRole = jvm ? 'heap_bytes' : 'memory';
    b.scale(s.name, role, 0, (i) => 1 + (growth * i) / POINTS);
    if (jvm) b.scale(s.name, 'memory', 0, (i) => 1 + (0.6 * growth * i) / POINTS, r.chance(0.5));
    const gcGrowth = r.between(1.5, 4);
    if (jvm) b.scale(s.name, 'gc_pause_seconds', 0, (i) => 1 + gcGrowth * growth * (i / POINTS) ** 2, r.chance(0.6));
    const slower = r.between(0.2, 1);
    b.scale(s.name, 'latency_p99', onset - 20, (i) => 1 + slower * ramp(i, onset - 20, POINTS), false);
    if (r.chance(0.5)) b.log(s.name, POINTS - 20, POINTS, 0.25, 'ERROR', () => r.pick(['java.lang.OutOfMemoryError: Java heap space', 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory', 'container killed: OOMKilled (memory limit exceeded)']));
    b.alert(r.pick(['HighMemoryUsage', 'HighLatency']), s.name, onset);
    return { variant: 'positive', truth: { kind: 'memory_leak', service: s.name }, bundle: b.bundle() };
  }
  const variant = r.pick(['cache_warmup', 'traffic_growth', 'big_sawtooth']);
  const role: SeriesRole = jvm ? 'heap_bytes' : 'memory';
  if (variant === 'cache_warmup') {
    // Grows for the first 1-1.5 h, then flat: a cache filling up; the alert is a latency blip.
    const until = r.int(100, 180);
    b.scale(s.name, role, 0, (i) => 1 + growth * 0.6 * ramp(i, 0, until));
    b.scale(s.name, 'latency_p99', onset, (i) => (i < onset + 4 ? r.between(1.5, 2.5) : 1), false);
    b.alert('HighLatency', s.name, onset);
    return { variant, truth: { kind: 'unknown', service: null }, bundle: b.bundle() };
  }
  if (variant === 'traffic_growth') {
    // Memory follows a traffic surge that will cross capacity: the surge is the cause.
    const from = POINTS - r.int(90, 140);
    const rise = r.between(0.8, 1.6);
    b.scale(s.name, 'request_rate', from, (i) => 1 + rise * ramp(i, from, POINTS));
    const capacity = s.rate * (1 + rise) * r.between(0.95, 1.15);
    b.set(s.name, 'request_capacity', b.times.map(() => capacity));
    b.scale(s.name, role, from, (i) => 1 + 0.5 * rise * ramp(i, from, POINTS));
    b.scale(s.name, 'cpu', from, (i) => 1 + 0.9 * rise * ramp(i, from, POINTS), false);
    b.alert('HighRequestRate', s.name, onset);
    return { variant, truth: { kind: 'load_surge', service: s.name }, bundle: b.bundle() };
  }
  // A wide GC sawtooth with no trend and a false alarm.
  b.scale(s.name, role, 0, (i) => 1 + 0.3 * ((i % 20) / 20));
  b.alert('HighMemoryUsage', s.name, onset);
  return { variant, truth: { kind: 'unknown', service: null }, bundle: b.bundle() };
}

const BAD_DEPLOY_ERRORS = [
  (r: Random) => `NullPointerException at OrderService.place(OrderService.java:${r.int(100, 400)})`,
  (r: Random) => `failed to decode response from inventory: unknown field "sku_v${r.int(2, 9)}"`,
  (r: Random) => `handler panicked: index out of range [${r.int(1, 9)}] with length ${r.int(0, 1)}`,
  (r: Random) => `TypeError: Cannot read properties of undefined (reading 'price') at /app/dist/cart.js:${r.int(10, 900)}`,
];

function badDeploy(b: Builder, negative: boolean): Scenario {
  const r = b.random;
  const s = b.target();
  const onset = b.onsetIndex;
  b.innocentChanges();
  if (!negative) {
    const stepAt = onset - r.int(2, 8);
    const deployAt = stepAt - r.int(0, 12);
    const factor = r.pick([r.between(1.6, 3), r.between(3, 10), r.between(10, 60)]);
    const rampPoints = r.chance(0.3) ? r.int(4, 10) : 0;
    b.change(s.name, deployAt, 'deploy', `deploy ${s.name} v2.${r.int(0, 30)}.0 (${r.int(2, 30)} commits)`, `${s.name}-v2`);
    b.scale(s.name, 'error_rate', stepAt, (i) => 1 + (factor - 1) * (rampPoints === 0 ? 1 : ramp(i, stepAt, stepAt + rampPoints)), r.chance(0.85));
    const share = r.between(0.1, 0.4);
    b.scale('frontend', 'error_rate', stepAt, () => 1 + (factor - 1) * share, false);
    if (r.chance(0.8)) {
      const message = r.pick(BAD_DEPLOY_ERRORS);
      b.log(s.name, stepAt, POINTS, r.between(0.3, 0.9), 'ERROR', () => message(r));
    }
    b.alert('HighErrorRate', r.chance(0.7) ? s.name : 'frontend', onset);
    return { variant: 'positive', truth: { kind: 'bad_deploy', service: s.name }, bundle: b.bundle() };
  }
  const variant = r.pick(['innocent_deploy_pool', 'deploy_no_effect', 'errors_before_hotfix']);
  const deployAt = onset - r.int(1, 12);
  b.change(s.name, deployAt, r.pick(['deploy', 'config']), `deploy ${s.name} v3.${r.int(0, 30)}.1`, `${s.name}-v3`);
  if (variant === 'innocent_deploy_pool') {
    // The deploy of s is innocent; another service's pool is exhausted at the same time.
    const other = b.profiles.slice(1).find((p) => p.name !== s.name && p.db) ?? b.other(s.name);
    const truth = plantPoolExhaustion(b, other, onset - r.int(2, 8), 1);
    b.alert('HighLatency', other.name, onset);
    return { variant, truth, bundle: b.bundle() };
  }
  if (variant === 'deploy_no_effect') {
    b.set(s.name, 'error_rate', b.get(s.name, 'error_rate'));
    b.alert('HighErrorRate', s.name, onset);
    return { variant, truth: { kind: 'unknown', service: null }, bundle: b.bundle() };
  }
  // Errors began 10-25 min before the deploy, which was a hotfix attempt: an outside cause.
  const errorsAt = deployAt - r.int(20, 50);
  const errorFactor = r.between(4, 20);
  b.scale(s.name, 'error_rate', errorsAt, () => errorFactor);
  b.log(s.name, errorsAt, POINTS, 0.5, 'ERROR', () => `call to payment-gateway.example timed out after ${r.int(5, 30)} s`);
  b.alert('HighErrorRate', s.name, onset);
  return { variant, truth: { kind: 'unknown', service: null }, bundle: b.bundle() };
}

/** Plants a pool exhaustion in `p` from index `from`; `strength` 0..1 scales how complete it is. */
function plantPoolExhaustion(b: Builder, p: Profile, from: number, strength: number): ScenarioTruth {
  const r = b.random;
  if (!p.db) {
    b.set(p.name, 'pool_max', b.times.map(() => p.poolMax));
    b.set(p.name, 'pool_active', b.times.map(() => Math.round(p.poolUse * p.poolMax * (1 + 0.2 * r.normal()))));
    b.set(p.name, 'pool_wait_seconds', b.times.map(() => p.poolWait * (1 + 0.3 * Math.abs(r.normal()))));
    b.set(p.name, 'long_queries', b.times.map(() => (r.chance(0.15) ? 1 : 0)));
  }
  const peak = r.between(0.82, 1) * strength + (1 - strength) * 0.7;
  const active = b.get(p.name, 'pool_active').map((value, index) => (index < from || value === null ? value : Math.min(p.poolMax, Math.round(p.poolMax * Math.min(1, peak + 0.05 * r.normal())))));
  b.set(p.name, 'pool_active', active, r.chance(0.92));
  b.set(p.name, 'pool_max', b.get(p.name, 'pool_max'), r.chance(0.92));
  const waitFactor = r.between(5, 500) * strength + 1;
  b.scale(p.name, 'pool_wait_seconds', from, (i) => 1 + (waitFactor - 1) * ramp(i, from, from + 4), r.chance(0.8));
  const longs = r.int(2, 15);
  b.set(p.name, 'long_queries', b.get(p.name, 'long_queries').map((value, index) => (index < from || value === null ? value : longs + r.int(-1, 2))), r.chance(0.6));
  const slower = r.between(2, 8);
  const moreErrors = r.between(1.5, 5);
  b.scale(p.name, 'latency_p99', from, () => slower, false);
  b.scale(p.name, 'error_rate', from, () => moreErrors, false);
  if (r.chance(0.75)) b.log(p.name, from, POINTS, r.between(0.2, 0.8), 'ERROR', () => r.pick([`HikariPool-1 - Connection is not available, request timed out after ${r.int(5, 30)}000ms.`, 'sqlalchemy.exc.TimeoutError: QueuePool limit of size 20 overflow 0 reached, connection timed out', 'timeout acquiring connection from pool']));
  return { kind: 'pool_exhaustion', service: p.name };
}

function poolExhaustion(b: Builder, negative: boolean): Scenario {
  const r = b.random;
  const s = b.profiles.slice(1).find((p) => p.db) ?? b.target();
  const onset = b.onsetIndex;
  b.innocentChanges();
  if (!negative) {
    const truth = plantPoolExhaustion(b, s, onset - r.int(2, 10), r.between(0.6, 1));
    b.alert(r.pick(['HighLatency', 'HighErrorRate']), s.name, onset);
    return { variant: 'positive', truth, bundle: b.bundle() };
  }
  const variant = r.pick(['busy_not_waiting', 'slow_downstream']);
  if (!s.db) plantPoolExhaustion(b, s, POINTS, 1);
  if (variant === 'busy_not_waiting') {
    // A tightly sized pool, busy all along, no waits: the alert is about something else.
    b.set(s.name, 'pool_active', b.times.map(() => Math.min(s.poolMax, Math.round(s.poolMax * r.between(0.8, 0.92)))));
    b.scale(s.name, 'latency_p99', onset, (i) => (i < onset + 5 ? 2 : 1), false);
    b.alert('HighLatency', s.name, onset);
    return { variant, truth: { kind: 'unknown', service: null }, bundle: b.bundle() };
  }
  // Latency up because a downstream call is slow; the pool is fine.
  const slower = r.between(2, 6);
  b.scale(s.name, 'latency_p99', onset - 3, () => slower);
  b.log(s.name, onset - 3, POINTS, 0.4, 'WARN', () => `call to search-api took ${r.int(2000, 9000)} ms`);
  b.alert('HighLatency', s.name, onset);
  return { variant, truth: { kind: 'unknown', service: null }, bundle: b.bundle() };
}

function canaryRegression(b: Builder, negative: boolean): Scenario {
  const r = b.random;
  const s = b.target();
  const onset = b.onsetIndex;
  b.innocentChanges();
  const canaryAt = onset - r.int(10, 50);
  b.change(s.name, canaryAt, 'deploy', `canary ${s.name} v4.${r.int(0, 20)}.0 at ${r.pick([5, 10, 20])} %`, `${s.name}-v4-canary`);
  const median = s.p99 * 1000 * r.between(0.2, 0.4);
  const baselineCount = r.int(300, 2000);
  const canaryCount = r.int(120, 600);
  const baseline = latencies(r, baselineCount, median, 0.45);
  const evidence = (group: string) => ({ id: `latency:${s.name}:${group}`, source: 'prometheus', query: `http_request_duration_seconds{service="${s.name}",track="${group}"}` });
  if (!negative) {
    const shift = r.pick([r.between(1.06, 1.15), r.between(1.15, 1.6)]);
    const canary = latencies(r, canaryCount, median * shift, 0.45 * r.between(1, 1.3), r.between(0, 3));
    b.latency.push({ evidence: evidence('baseline'), service: s.name, group: 'baseline', values: baseline }, { evidence: evidence('canary'), service: s.name, group: 'canary', values: canary });
    b.scale(s.name, 'latency_p99', canaryAt, () => 1 + (shift - 1) * 0.3, false);
    b.alert(r.pick(['CanaryLatencyHigh', 'HighLatency']), s.name, onset);
    return { variant: 'positive', truth: { kind: 'canary_regression', service: s.name }, bundle: b.bundle() };
  }
  // canary_heavier_mix: the canary was routed the heavy endpoints (a sticky cohort), so it looks
  // slower though the version is not: a confounder the latencies alone cannot tell apart.
  const variant = r.pick(['canary_same', 'canary_faster', 'canary_heavier_mix']);
  const factor = variant === 'canary_same' ? 1 : variant === 'canary_faster' ? r.between(0.75, 0.92) : r.between(1.08, 1.3);
  const canary = latencies(r, canaryCount, median * factor, 0.45);
  b.latency.push({ evidence: evidence('baseline'), service: s.name, group: 'baseline', values: baseline }, { evidence: evidence('canary'), service: s.name, group: 'canary', values: canary });
  b.scale(s.name, 'latency_p99', onset, (i) => (i < onset + 4 ? r.between(1.5, 2.5) : 1), false);
  b.alert('HighLatency', s.name, onset);
  return { variant, truth: { kind: 'unknown', service: null }, bundle: b.bundle() };
}

function loadSurge(b: Builder, negative: boolean): Scenario {
  const r = b.random;
  const s = b.target();
  b.innocentChanges();
  const from = POINTS - r.int(80, 160);
  b.onsetIndex = Math.max(from + 20, POINTS - r.int(15, 50));
  const onset = b.onsetIndex;
  if (!negative) {
    // Rises linearly to the end; the capacity is crossed between now and ~90 min ahead.
    const rise = r.between(0.4, 2);
    const end = s.rate * (1 + rise);
    const slopePerPoint = (end - s.rate) / (POINTS - from);
    const capacity = end + slopePerPoint * r.int(-10, 180);
    b.scale(s.name, 'request_rate', from, (i) => 1 + rise * ramp(i, from, POINTS));
    b.set(s.name, 'request_capacity', b.times.map(() => capacity), r.chance(0.85));
    b.scale(s.name, 'cpu', from, (i) => 1 + 0.8 * rise * ramp(i, from, POINTS), false);
    b.scale(s.name, 'memory', from, (i) => 1 + 0.1 * rise * ramp(i, from, POINTS), false);
    const slower = r.between(0.2, 1.5);
    b.scale(s.name, 'latency_p99', onset - 10, (i) => 1 + slower * ramp(i, onset - 10, POINTS), false);
    b.alert(r.pick(['HighRequestRate', 'HighLatency']), s.name, onset);
    return { variant: 'positive', truth: { kind: 'load_surge', service: s.name }, bundle: b.bundle() };
  }
  // morning_ramp: the daily ramp-up, rising until the end of the window towards a capacity it will
  // not reach (it levels off later, outside the window): a straight line cannot know that.
  const variant = r.pick(['plateau', 'spike', 'far_from_capacity', 'morning_ramp']);
  if (variant === 'morning_ramp') {
    const rise = r.between(0.3, 1);
    b.scale(s.name, 'request_rate', from, (i) => 1 + rise * ramp(i, from, POINTS));
    const end = s.rate * (1 + rise);
    const capacity = end + ((end - s.rate) / (POINTS - from)) * r.int(60, 300);
    b.set(s.name, 'request_capacity', b.times.map(() => capacity));
  } else if (variant === 'plateau') {
    const until = from + r.int(20, 50);
    const rise = r.between(0.3, 0.6);
    const capacity = s.rate * r.between(2.5, 4);
    b.scale(s.name, 'request_rate', from, (i) => 1 + rise * ramp(i, from, until));
    b.set(s.name, 'request_capacity', b.times.map(() => capacity));
  } else if (variant === 'spike') {
    const factor = r.between(1.6, 2.5);
    const capacity = s.rate * r.between(2.5, 4);
    b.scale(s.name, 'request_rate', POINTS - 12, (i) => (i < POINTS - 6 ? factor : 1));
    b.set(s.name, 'request_capacity', b.times.map(() => capacity));
  } else {
    const rise = r.between(0.1, 0.3);
    const capacity = s.rate * r.between(5, 10);
    b.scale(s.name, 'request_rate', from, (i) => 1 + rise * ramp(i, from, POINTS));
    b.set(s.name, 'request_capacity', b.times.map(() => capacity));
  }
  b.alert('HighRequestRate', s.name, onset);
  return { variant, truth: { kind: 'unknown', service: null }, bundle: b.bundle() };
}

function resourceSaturation(b: Builder, negative: boolean): Scenario {
  const r = b.random;
  const s = b.target();
  const onset = b.onsetIndex;
  b.innocentChanges();
  if (!negative) {
    const at = onset - r.int(1, 6);
    const hog = r.between(1.4, 6);
    const memoryHog = r.between(0.3, 2);
    const rampPoints = r.int(1, 8);
    const slower = r.between(1.2, 3);
    const callerSlower = r.between(1.1, 2);
    if (r.chance(0.6)) b.scale(s.name, 'cpu', at, () => hog);
    else b.scale(s.name, 'memory', at, (i) => 1 + memoryHog * ramp(i, at, at + rampPoints));
    b.scale(s.name, 'latency_p99', at, () => slower, false);
    b.scale('frontend', 'latency_p99', at, () => callerSlower, false);
    b.alert(r.pick(['HighCPU', 'HighLatency']), r.chance(0.6) ? s.name : 'frontend', onset);
    return { variant: 'positive', truth: { kind: 'resource_saturation', service: s.name }, bundle: b.bundle() };
  }
  const variant = r.pick(['cpu_blip', 'caller_latency']);
  if (variant === 'cpu_blip') {
    // A short CPU burst (a batch job, a GC) and an alert that fired on it.
    b.scale(s.name, 'cpu', onset, (i) => (i < onset + 3 ? r.between(1.3, 2) : 1));
    b.alert('HighCPU', s.name, onset);
  } else {
    const slower = r.between(1.5, 3);
    b.scale('frontend', 'latency_p99', onset - 2, () => slower);
    b.alert('HighLatency', 'frontend', onset);
  }
  return { variant, truth: { kind: 'unknown', service: null }, bundle: b.bundle() };
}

function nothingWrong(b: Builder): Scenario {
  const r = b.random;
  b.innocentChanges();
  const s = r.pick(b.profiles);
  const variant = r.pick(['false_alarm', 'quiet', 'nearby_deploy']);
  if (variant === 'nearby_deploy') b.change(b.target().name, b.onsetIndex - r.int(2, 20), 'deploy', 'routine release', 'v9.9.9');
  if (variant !== 'quiet') b.scale(s.name, 'latency_p99', b.onsetIndex, (i) => (i < b.onsetIndex + 3 ? r.between(1.3, 2) : 1), false);
  b.alert(r.pick(['HighLatency', 'HighErrorRate', 'HighCPU']), s.name, b.onsetIndex);
  return { variant, truth: { kind: 'unknown', service: null }, bundle: b.bundle({ onsetGiven: r.chance(0.7) }) };
}

const PATTERNS = {
  memory_leak: memoryLeak,
  bad_deploy: badDeploy,
  pool_exhaustion: poolExhaustion,
  canary_regression: canaryRegression,
  load_surge: loadSurge,
  resource_saturation: resourceSaturation,
} as const;

/** A blind case: a fault (two in three) or nothing wrong, with all metrics or all evidence taken away. */
function blind(seed: number): Scenario {
  const r = new Random(seed);
  const family = r.pick(Object.keys(PATTERNS) as Array<keyof typeof PATTERNS>);
  const fault = r.chance(2 / 3);
  const scenario = fault ? PATTERNS[family](new Builder(seed + 1), false) : nothingWrong(new Builder(seed + 1));
  const everything = r.chance(0.5);
  const bundle: EvidenceBundle = everything
    ? { window: scenario.bundle.window, onsetMs: scenario.bundle.onsetMs, signals: [], series: [], changes: [], logs: [], latencySamples: [] }
    : { ...scenario.bundle, series: [], latencySamples: [] };
  return { variant: `${fault ? family : 'none'}_${everything ? 'no_evidence' : 'no_metrics'}`, truth: scenario.truth, bundle };
}

/**
 * The labelled scenarios for `seed`: for each pattern `positives` and `negatives` (negatives and
 * confounders, whose truth may be another pattern), `none` nothing-wrong cases and `blind` cases.
 * Deterministic: the same seed and counts give the same cases.
 */
export function generateScenarios(seed: number, counts: ScenarioCounts = DEFAULT_SCENARIO_COUNTS): LabelledScenario[] {
  const cases: LabelledScenario[] = [];
  for (const [family, make] of Object.entries(PATTERNS) as Array<[keyof typeof PATTERNS, (b: Builder, negative: boolean) => Scenario]>) {
    for (let index = 0; index < counts.positives + counts.negatives; index++) {
      const scenario = make(new Builder(caseSeed(seed, family, index)), index >= counts.positives);
      cases.push({ id: `${family}/${scenario.variant}/${index}`, family, ...scenario });
    }
  }
  for (let index = 0; index < counts.none; index++) {
    const scenario = nothingWrong(new Builder(caseSeed(seed, 'none', index)));
    cases.push({ id: `none/${scenario.variant}/${index}`, family: 'none', ...scenario });
  }
  for (let index = 0; index < counts.blind; index++) {
    const scenario = blind(caseSeed(seed, 'blind', index));
    cases.push({ id: `blind/${scenario.variant}/${index}`, family: 'blind', ...scenario });
  }
  return cases;
}

/** Minutes, for readers of the cases. */
export const SCENARIO_GEOMETRY = { stepMs: STEP_MS, points: POINTS, windowMinutes: (POINTS * STEP_MS) / MINUTE } as const;

// ---------------------------------------------------------------------------------------------
// Fitting the calibration on scenarios

/** The calibration samples of `cases`: every hypothesis the engine gives, by kind, right or wrong. */
export function calibrationSamples(cases: readonly LabelledScenario[]): Record<HypothesisKind, CalibrationSample[]> {
  const samples = Object.fromEntries(HYPOTHESIS_KINDS.map((kind) => [kind, [] as CalibrationSample[]])) as Record<HypothesisKind, CalibrationSample[]>;
  for (const one of cases) {
    for (const hypothesis of diagnose(one.bundle, { maxHypotheses: 1000 }).hypotheses) {
      samples[hypothesis.kind].push({ strength: hypothesis.strength, ...(hypothesis.kind === 'unknown' ? { coverage: hypothesis.components.coverage ?? 1 } : {}), correct: isCorrect(one.truth, hypothesis.kind, hypothesis.service) });
    }
  }
  return samples;
}

/** The calibration's name for a fit on `seed` with `cases` cases. */
export function calibrationVersion(seed: number, cases: number): string {
  return `platt/${SCENARIOS_VERSION}/seed ${seed}/${cases} cases`;
}

/** Fits the calibration on the scenarios of `seed` (the committed constants come from TRAINING_SEED with the default counts). */
export function fitScenarioCalibration(seed = TRAINING_SEED, counts: ScenarioCounts = DEFAULT_SCENARIO_COUNTS): DiagnosisCalibration {
  const cases = generateScenarios(seed, counts);
  return fitDiagnosisCalibration(calibrationSamples(cases), calibrationVersion(seed, cases.length));
}
