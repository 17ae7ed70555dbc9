// Policy decision latency (issue #3): a realistic set of 50 generated rules (tool, target, args,
// calendar and confidence conditions) compiled from YAML and decided by the CEL evaluator, against a
// plain TypeScript function that decides the same thing, in the same process and run.
import { stringify } from 'yaml';
import { compilePolicySet, type PolicyFile } from '../src/core/policy/compile.js';
import type { PolicyInput } from '../src/core/policy/policy.js';
import { SHIPPED_DEFAULT_EFFECTS, type Effect } from '../src/core/review/decision.js';
import { RISK_CLASSES, type RiskClass } from '../src/core/tools/tool.js';
import type { Benchmark, BenchmarkReport, Progress } from './support/benchmark.js';
import { formatNumber, markdownTable } from './support/report.js';
import { round, summarize, type Summary } from './support/stats.js';
import { seededRandom } from '../test/support/random.js';

/** What this benchmark runs; recorded in the results file. */
const PARAMETERS = {
  rules: 50,
  /** Documents the rules are spread over (one calendar document besides). */
  documents: 5,
  /** Distinct inputs, cycled through; `time` advances 7 minutes per input (about 4 days over the set, so freeze windows open and close). */
  inputs: 1000,
  warmupDecisions: 20_000,
  measuredDecisions: 100_000,
  compileRuns: 20,
  seed: 20_260_327,
} as const;

// ---------------------------------------------------------------------------------------------
// The rule set: each rule is written once as data and rendered both as CEL and as TypeScript.

export interface RuleSpec {
  readonly name: string;
  readonly effect: Effect;
  readonly cel: string;
  readonly test: (input: PolicyInput, freeze: boolean) => boolean;
  readonly approval?: { readonly quorum: number; readonly groups: readonly string[] };
}

const SERVICES = ['checkout', 'orders', 'payments', 'search', 'catalog', 'accounts', 'inventory', 'shipping', 'reviews', 'pricing'] as const;
const TEAMS = ['web', 'data', 'core', 'growth', 'platform'] as const;

/** 50 rules in five families of ten: tool and tier, argument caps, freeze calendar, confidence, blast radius and labels. */
export function ruleSpecs(): RuleSpec[] {
  const specs: RuleSpec[] = [];
  SERVICES.forEach((service, index) => {
    specs.push({
      name: `restart-critical-${service}`,
      effect: 'require_approval',
      approval: { quorum: 1 + (index % 2), groups: [`${service}-oncall`, 'sre'] },
      cel: `tool.name == "service.restart" && target.service == "${service}" && target.tier == "critical"`,
      test: (input) => input.tool.name === 'service.restart' && input.target.service === service && input.target.tier === 'critical',
    });
    const cap = 50 + index * 25;
    specs.push({
      name: `pool-cap-${service}`,
      effect: 'deny',
      cel: `tool.name == "pgbouncer.set_pool_size" && args.pool == "${service}" && args.size > ${cap}`,
      test: (input) => input.tool.name === 'pgbouncer.set_pool_size' && input.args.pool === service && (input.args.size as number) > cap,
    });
    specs.push({
      name: `freeze-${service}`,
      effect: 'require_approval',
      approval: { quorum: 2, groups: ['change-board', 'sre'] },
      cel: `calendar.freeze && risk == "write-prod" && target.service == "${service}" && target.environment == "production"`,
      test: (input, freeze) => freeze && input.risk === 'write-prod' && input.target.service === service && input.target.environment === 'production',
    });
    const threshold = 0.5 + (index % 4) * 0.1;
    specs.push({
      name: `confidence-${service}`,
      effect: 'escalate',
      cel: `mission.confidence != null && mission.confidence < ${threshold.toFixed(1)} && target.service == "${service}" && risk != "read"`,
      test: (input) => input.mission.confidence !== null && input.mission.confidence < Number(threshold.toFixed(1)) && input.target.service === service && input.risk !== 'read',
    });
    const team = TEAMS[index % TEAMS.length] as string;
    const radius = 2 + (index % 3);
    specs.push({
      name: `blast-${service}`,
      effect: 'deny',
      cel: `mission.blastRadius > ${radius} && target.labels.?team.orValue("") == "${team}" && target.service == "${service}"`,
      test: (input) => input.mission.blastRadius > radius && input.target.labels.team === team && input.target.service === service,
    });
  });
  return specs;
}

export function policyFiles(specs: readonly RuleSpec[]): PolicyFile[] {
  const calendar: PolicyFile = {
    path: 'calendars.yaml',
    text: stringify({
      apiVersion: 'interlock.dev/v1',
      kind: 'Policy',
      metadata: { name: 'calendars' },
      spec: { calendars: { freeze: { timezone: 'Europe/Berlin', windows: [{ rrule: 'FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0', duration: 'P2DT16H' }] } } },
    }),
  };
  const documents = Array.from({ length: PARAMETERS.documents }, (_, index): PolicyFile => ({
    path: `policy-${index}.yaml`,
    text: stringify({
      apiVersion: 'interlock.dev/v1',
      kind: 'Policy',
      metadata: { name: `policy-${index}` },
      spec: {
        rules: specs
          .filter((_, ruleIndex) => ruleIndex % PARAMETERS.documents === index)
          .map((spec) => ({ name: spec.name, match: spec.cel, effect: spec.effect, ...(spec.approval === undefined ? {} : { approval: { ...spec.approval, expiresIn: 'PT4H' } }) })),
      },
    }),
  }));
  return [calendar, ...documents];
}

// ---------------------------------------------------------------------------------------------
// The baseline: the same decision as a plain TypeScript function.

const RANK: Readonly<Record<Effect, number>> = { allow: 0, require_approval: 1, escalate: 2, deny: 3 };
const berlin = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Berlin', weekday: 'short', hour: 'numeric', hourCycle: 'h23' });

/** Friday 16:00 to Monday 08:00 in Berlin, written by hand. */
function inFreeze(time: number): boolean {
  const parts = berlin.formatToParts(time);
  const weekday = parts.find((part) => part.type === 'weekday')?.value;
  const hour = Number(parts.find((part) => part.type === 'hour')?.value);
  return (weekday === 'Fri' && hour >= 16) || weekday === 'Sat' || weekday === 'Sun' || (weekday === 'Mon' && hour < 8);
}

/** Most restrictive effect of the matching rules (ids sorted), else the default of the risk class. */
function plainDecide(specs: readonly RuleSpec[], ids: readonly string[], input: PolicyInput): { effect: Effect; rules: string[] } {
  const freeze = inFreeze(input.time);
  let effect: Effect | null = null;
  let rules: string[] = [];
  specs.forEach((spec, index) => {
    if (!spec.test(input, freeze)) return;
    if (effect === null || RANK[spec.effect] > RANK[effect]) {
      effect = spec.effect;
      rules = [ids[index] as string];
    } else if (spec.effect === effect) rules.push(ids[index] as string);
  });
  if (effect === null) return { effect: SHIPPED_DEFAULT_EFFECTS[input.risk], rules: [`default/${input.risk}`] };
  return { effect, rules: rules.sort() };
}

// ---------------------------------------------------------------------------------------------
// Inputs

export function inputs(count: number): PolicyInput[] {
  const next = seededRandom(PARAMETERS.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const start = Date.parse('2026-03-25T08:00:00Z'); // a Wednesday: the run crosses a weekend freeze
  return Array.from({ length: count }, (_, index): PolicyInput => {
    const risk = pick<RiskClass>(RISK_CLASSES);
    return {
      tool: { name: pick(['service.restart', 'pgbouncer.set_pool_size', 'deploy.rollback', 'files.write', 'prometheus.query']), risk, idempotent: next() < 0.5, permission: 'bench' },
      args: { pool: pick(SERVICES), size: Math.floor(next() * 400) },
      risk,
      target: { service: pick(SERVICES), environment: pick(['production', 'staging']), tier: pick([null, 'critical', 'standard']), labels: next() < 0.7 ? { team: pick(TEAMS) } : {} },
      mission: { id: `m-${index}`, project: 'bench', requester: 'bench', agent: next() < 0.5 ? 'triage-agent' : null, confidence: next() < 0.3 ? null : round(next(), 2), hypothesis: null, labels: {}, blastRadius: Math.floor(next() * 6) },
      time: start + index * 7 * 60_000,
      state: {},
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The run

/** Per-decision latencies, µs, over `count` decisions cycling through `pool`. */
function timeDecisions(pool: readonly PolicyInput[], count: number, decide: (input: PolicyInput) => unknown): number[] {
  const samples = new Array<number>(count);
  let sink = 0;
  for (let index = 0; index < count; index++) {
    const input = pool[index % pool.length] as PolicyInput;
    const started = performance.now();
    const decision = decide(input);
    samples[index] = (performance.now() - started) * 1000;
    if (decision !== undefined) sink++;
  }
  if (sink !== count) throw new Error('a decision was undefined');
  return samples;
}

/** Decisions per second over one untimed-per-call pass of `count` decisions. */
function throughput(pool: readonly PolicyInput[], count: number, decide: (input: PolicyInput) => unknown): number {
  const started = performance.now();
  for (let index = 0; index < count; index++) decide(pool[index % pool.length] as PolicyInput);
  return round(count / ((performance.now() - started) / 1000), 0);
}

interface Figures {
  readonly compileMs: Summary;
  readonly celDecisionUs: Summary;
  readonly plainDecisionUs: Summary;
  readonly celDecisionsPerSecond: number;
  readonly plainDecisionsPerSecond: number;
  /** Share of inputs by effect, so the mix is known. */
  readonly effects: Record<string, number>;
  readonly freezeShare: number;
}

function measure(progress: Progress): BenchmarkReport {
  const specs = ruleSpecs();
  if (specs.length !== PARAMETERS.rules) throw new Error(`generated ${specs.length} rules, expected ${PARAMETERS.rules}`);
  const files = policyFiles(specs);
  const compileMs: number[] = [];
  let set = compilePolicySet(files, { defaults: SHIPPED_DEFAULT_EFFECTS });
  for (let index = 0; index < PARAMETERS.compileRuns; index++) {
    const started = performance.now();
    set = compilePolicySet(files, { defaults: SHIPPED_DEFAULT_EFFECTS });
    compileMs.push(performance.now() - started);
  }
  const ids = specs.map((spec, index) => `policy-${index % PARAMETERS.documents}/${spec.name}`);
  const pool = inputs(PARAMETERS.inputs);

  // Both must decide the same thing, or the comparison means nothing.
  const effects: Record<string, number> = {};
  for (const input of pool) {
    const cel = set.decide(input);
    const plain = plainDecide(specs, ids, input);
    const celRules = cel.reasons.map((reason) => reason.rule);
    if (cel.effect !== plain.effect || celRules.join() !== plain.rules.join()) {
      throw new Error(`the baseline disagrees for ${input.mission.id}: CEL ${cel.effect} [${celRules.join()}], TypeScript ${plain.effect} [${plain.rules.join()}]`);
    }
    effects[cel.effect] = (effects[cel.effect] ?? 0) + 1;
  }
  const freezeShare = round(pool.filter((input) => inFreeze(input.time)).length / pool.length, 2);
  progress(`${set.rules.length} rules compiled in ${round(compileMs[0] ?? 0, 1)} ms; both decide alike on ${pool.length} inputs (${JSON.stringify(effects)}, ${freezeShare * 100} % in the freeze)`);

  const decideCel = (input: PolicyInput) => set.decide(input);
  const decidePlain = (input: PolicyInput) => plainDecide(specs, ids, input);
  timeDecisions(pool, PARAMETERS.warmupDecisions, decideCel);
  timeDecisions(pool, PARAMETERS.warmupDecisions, decidePlain);
  const celSamples = timeDecisions(pool, PARAMETERS.measuredDecisions, decideCel);
  const plainSamples = timeDecisions(pool, PARAMETERS.measuredDecisions, decidePlain);
  const figures: Figures = {
    compileMs: summarize(compileMs),
    celDecisionUs: summarize(celSamples),
    plainDecisionUs: summarize(plainSamples),
    celDecisionsPerSecond: throughput(pool, PARAMETERS.measuredDecisions, decideCel),
    plainDecisionsPerSecond: throughput(pool, PARAMETERS.measuredDecisions, decidePlain),
    effects,
    freezeShare,
  };
  progress(`CEL p50 ${figures.celDecisionUs.p50} µs, p99 ${figures.celDecisionUs.p99} µs; plain p50 ${figures.plainDecisionUs.p50} µs, p99 ${figures.plainDecisionUs.p99} µs`);

  const ratios = {
    p50: round(figures.celDecisionUs.p50 / figures.plainDecisionUs.p50),
    p99: round(figures.celDecisionUs.p99 / figures.plainDecisionUs.p99),
    throughput: round(figures.plainDecisionsPerSecond / figures.celDecisionsPerSecond),
  };
  const us = (value: number) => formatNumber(value, 1);
  const markdown = [
    `${PARAMETERS.rules} generated rules in ${PARAMETERS.documents} documents plus a calendar document (a weekend freeze in Europe/Berlin): per service, a restart of a critical tier needs approval, a pool size above a cap (from \`args\`) is denied, a production write in the freeze needs approval, a diagnosis below a confidence threshold escalates, and a blast radius above a limit for a team label is denied. The baseline is a plain TypeScript function with the same 50 conditions and the freeze written by hand (\`Intl\` weekday and hour); both decided all ${PARAMETERS.inputs} inputs identically (effect and rules) before timing. Inputs are random but seeded, \`time\` advancing 7 minutes per input (${Math.round(freezeShare * 100)} % in the freeze); ${formatNumber(PARAMETERS.warmupDecisions, 0)} warm-up decisions each, then ${formatNumber(PARAMETERS.measuredDecisions, 0)} timed one by one with \`performance.now()\` (its own cost, about 0.05 µs, is in every sample). Ratios are the CEL policy set over the plain function.`,
    '',
    markdownTable(
      ['measure', 'policy set (CEL, `decide`)', 'plain TypeScript function', 'ratio'],
      [
        ['decision latency, p50 / p99 (µs)', `${us(figures.celDecisionUs.p50)} / ${us(figures.celDecisionUs.p99)}`, `${us(figures.plainDecisionUs.p50)} / ${us(figures.plainDecisionUs.p99)}`, `${formatNumber(ratios.p50, 1)}× / ${formatNumber(ratios.p99, 1)}×`],
        ['decisions per second, one thread', formatNumber(figures.celDecisionsPerSecond, 0), formatNumber(figures.plainDecisionsPerSecond, 0), `${formatNumber(ratios.throughput, 1)}×`],
        ['compile the set from YAML, p50 / p99 (ms)', `${formatNumber(figures.compileMs.p50, 1)} / ${formatNumber(figures.compileMs.p99, 1)}`, '', ''],
      ],
    ),
    '',
    `Decisions by effect over the inputs: ${Object.entries(effects).sort(([a], [b]) => a.localeCompare(b)).map(([effect, count]) => `${effect} ${count}`).join(', ')}.`,
  ].join('\n');
  return { parameters: PARAMETERS, figures: { ...figures, samples: { celDecisionUs: celSamples.filter((_, index) => index % 100 === 0), plainDecisionUs: plainSamples.filter((_, index) => index % 100 === 0) } }, ratios, markdown };
}

/** `npm run bench -- policy`: CPU only, in this process (the runner still checks PostgreSQL first). */
export const benchmark: Benchmark = { name: 'policy', run: (progress) => Promise.resolve(measure(progress)) };
