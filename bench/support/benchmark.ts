/**
 * What a benchmark is and what it hands back. Each `bench/<name>.bench.ts` exports a `benchmark`
 * of this shape; `bench/run.ts` runs it in a process of its own and records the report.
 */

/** Writes one progress line, prefixed with the benchmark's name and the elapsed seconds. */
export type Progress = (message: string) => void;

/** What a benchmark measured: its parameters, the raw figures, the ratios and a table for the docs. */
export interface BenchmarkReport {
  /** The knobs of this run (counts, concurrency, waits), as recorded in the results file. */
  readonly parameters: Readonly<Record<string, unknown>>;
  /** Raw figures: summaries and samples, in the units their keys name (`Ms`, `KiB`, `PerSecond`). */
  readonly figures: object;
  /** Ratios of Interlock to its baseline (dimensionless; > 1 means Interlock is slower or larger). */
  readonly ratios: Readonly<Record<string, number>>;
  /** The Markdown written between this benchmark's markers in docs/benchmarks.md. */
  readonly markdown: string;
}

/** A benchmark that `npm run bench -- <name>` runs. */
export interface Benchmark {
  /** The file's name without `.bench.ts`, e.g. `engine`; also the results file and the docs marker. */
  readonly name: string;
  /** Runs the measurements and cleans up after itself (databases, processes, temporary directories). */
  run(progress: Progress): Promise<BenchmarkReport>;
}

/** A progress writer for `name`: `[engine +3.2s] message` on stdout. */
export function createProgress(name: string): Progress {
  const started = performance.now();
  return (message) => {
    console.log(`[${name} +${((performance.now() - started) / 1000).toFixed(1)}s] ${message}`);
  };
}
