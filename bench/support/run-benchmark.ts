// Child-process entry of `bench/run.ts`: runs one benchmark, writes bench/results/<name>.json and
// regenerates its section of docs/benchmarks.md. Usage: node --import tsx bench/support/run-benchmark.ts <name>
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createProgress, type Benchmark } from './benchmark.js';
import { requirePostgres } from './postgres.js';
import { DOCS_FILE, REPO_ROOT, describeMachine, machineInfo, updateDocs, writeResults } from './report.js';

function isBenchmark(value: unknown): value is Benchmark {
  return typeof value === 'object' && value !== null && typeof (value as Benchmark).name === 'string' && typeof (value as Benchmark).run === 'function';
}

async function loadBenchmark(name: string): Promise<Benchmark> {
  const module = (await import(pathToFileURL(join(REPO_ROOT, 'bench', `${name}.bench.ts`)).href)) as { benchmark?: unknown };
  if (!isBenchmark(module.benchmark) || module.benchmark.name !== name) {
    throw new Error(`bench/${name}.bench.ts must export \`benchmark\` with name "${name}" and a run() function`);
  }
  return module.benchmark;
}

async function main(name: string | undefined): Promise<void> {
  if (name === undefined) throw new Error('usage: run-benchmark.ts <name>');
  const postgres = await requirePostgres();
  const benchmark = await loadBenchmark(name);
  const progress = createProgress(name);
  const loadAtStart = loadavg();
  progress(`starting (load average ${loadAtStart.map((load) => load.toFixed(2)).join(' ')})`);
  const report = await benchmark.run(progress);
  const machine = machineInfo(postgres);
  const date = new Date().toISOString();
  const loadAverage = { start: loadAtStart.map((load) => Number(load.toFixed(2))), end: loadavg().map((load) => Number(load.toFixed(2))) };
  const path = await writeResults({ name, date, machine, loadAverage, parameters: report.parameters, figures: report.figures, ratios: report.ratios });
  const section = `${report.markdown.trim()}\n\nMeasured ${date.slice(0, 16).replace('T', ' ')} UTC on ${describeMachine(machine)}; load average ${loadAverage.start[0]} at the start (1 min; other work on the machine skews the figures). Raw figures and parameters: \`bench/results/${name}.json\` (generated, not committed).`;
  await updateDocs(name, section);
  progress(`wrote ${relative(REPO_ROOT, path)} and the "${name}" section of ${relative(REPO_ROOT, DOCS_FILE)}`);
  console.log(`\n${section}\n`);
}

main(process.argv[2]).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench ${process.argv[2] ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof Error && error.stack !== undefined && process.env.BENCH_DEBUG !== undefined) console.error(error.stack);
    process.exit(1);
  },
);
