// Full gate overhead per tool call (issue #3): contract validation of the arguments, the decision of a
// realistic 50-rule policy set, and the approval binding check (SHA-256 of the RFC 8785 canonical
// JSON of the exact action), against calling the same tool directly, in one run and one process.
import { z } from 'zod';
import { bindingHash } from '../src/core/approvals/binding-hash.js';
import { compilePolicySet } from '../src/core/policy/compile.js';
import type { PolicyInput } from '../src/core/policy/policy.js';
import { SHIPPED_DEFAULT_EFFECTS } from '../src/core/review/decision.js';
import { ToolCatalog } from '../src/core/tools/catalog.js';
import type { ToolContract, ToolContext } from '../src/core/tools/tool.js';
import { inputs, policyFiles, ruleSpecs } from './policy.bench.js';
import type { Benchmark, BenchmarkReport, Progress } from './support/benchmark.js';
import { formatNumber, markdownTable } from './support/report.js';
import { round, summarize } from './support/stats.js';

const PARAMETERS = { inputs: 1000, warmupCalls: 20_000, measuredCalls: 100_000 } as const;

const Args = z.object({
  pool: z.string().min(1).max(100),
  size: z.number().int().min(0).max(10_000),
  reason: z.string().max(500).optional(),
}).strict();

/** A write tool whose work is an in-memory update: the baseline measures the call, not I/O. */
function poolTool(state: Map<string, number>): ToolContract<z.output<typeof Args>, { previous: number | null }> {
  return {
    name: 'pgbouncer.set_pool_size',
    description: 'Sets a connection pool size (in memory, for the benchmark).',
    input: Args,
    output: z.object({ previous: z.number().nullable() }),
    risk: 'write-low',
    idempotent: true,
    timeoutMs: 1000,
    permission: 'bench',
    execute(args) {
      const previous = state.get(args.pool) ?? null;
      state.set(args.pool, args.size);
      return Promise.resolve({ previous });
    },
  };
}

const context: ToolContext = { idempotencyKey: 'bench:s1', missionId: 'bench', stepId: 's1', attempt: 1, signal: new AbortController().signal };

async function time(count: number, pool: readonly PolicyInput[], call: (input: PolicyInput) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    await call(pool[index % pool.length]!);
    samples.push((performance.now() - started) * 1000);
  }
  return samples;
}

async function measure(progress: Progress): Promise<BenchmarkReport> {
  const policy = compilePolicySet(policyFiles(ruleSpecs()), { defaults: SHIPPED_DEFAULT_EFFECTS });
  const state = new Map<string, number>();
  const tool = poolTool(state);
  const catalog = new ToolCatalog([tool]);
  const pool = inputs(PARAMETERS.inputs).map((input) => ({ ...input, tool: { ...input.tool, name: tool.name } }));

  const direct = (input: PolicyInput) => tool.execute(input.args as z.output<typeof Args>, context);
  const gated = async (input: PolicyInput) => {
    const checked = catalog.validateArgs(tool.name, input.args, 'steps.0');
    if (!checked.ok) throw new Error(`the benchmark's arguments are invalid: ${JSON.stringify(checked.issues)}`);
    const decision = policy.decide(input);
    const hash = bindingHash({ missionId: input.mission.id, project: input.mission.project, actions: [{ stepId: 's1', tool: tool.name, args: input.args, target: input.target }], policyDigest: decision.policyDigest });
    if (hash.length !== 64) throw new Error('binding hash');
    return tool.execute(checked.args as z.output<typeof Args>, context);
  };
  await time(PARAMETERS.warmupCalls, pool, direct);
  await time(PARAMETERS.warmupCalls, pool, gated);
  progress(`warm; timing ${PARAMETERS.measuredCalls} calls each`);
  const directUs = summarize(await time(PARAMETERS.measuredCalls, pool, direct));
  const gatedUs = summarize(await time(PARAMETERS.measuredCalls, pool, gated));
  progress(`direct p50 ${directUs.p50} µs, gated p50 ${gatedUs.p50} µs`);
  const ratios = { p50: round(gatedUs.p50 / directUs.p50), p99: round(gatedUs.p99 / directUs.p99) };
  const us = (value: number) => formatNumber(value, 1);
  const markdown = [
    `One write tool (\`pgbouncer.set_pool_size\`, an in-memory update so the baseline measures the call itself) called ${formatNumber(PARAMETERS.measuredCalls, 0)} times directly, and ${formatNumber(PARAMETERS.measuredCalls, 0)} times through the gate: the arguments validated against the tool's Zod input schema, a decision of the 50-rule policy set of the \`policy\` benchmark (same seeded inputs), and the approval binding hash of the exact action (SHA-256 of its RFC 8785 canonical JSON, what a grant is checked against). The gate's database work (recording the decision, consuming a grant: one committed statement each) is not in these figures; see the committed-insert time in the \`engine\` section.`,
    '',
    markdownTable(
      ['measure', 'through the gate', 'tool called directly', 'ratio'],
      [
        ['per call, p50 / p99 (µs)', `${us(gatedUs.p50)} / ${us(gatedUs.p99)}`, `${us(directUs.p50)} / ${us(directUs.p99)}`, `${formatNumber(ratios.p50, 1)}× / ${formatNumber(ratios.p99, 1)}×`],
        ['gate overhead per call, p50 (µs)', us(gatedUs.p50 - directUs.p50), '', ''],
      ],
    ),
  ].join('\n');
  return { parameters: PARAMETERS, figures: { gatedUs, directUs }, ratios, markdown };
}

/** `npm run bench -- gate`: CPU only, in this process. */
export const benchmark: Benchmark = { name: 'gate', run: (progress) => measure(progress) };
