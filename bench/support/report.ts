import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchmarkReport } from './benchmark.js';

/** Root of the repository (bench/support/../..). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where `bench/<name>.bench.ts` writes `<name>.json` (generated, not committed). */
const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

/** The committed page whose per-benchmark sections the runs regenerate. */
export const DOCS_FILE = join(REPO_ROOT, 'docs', 'benchmarks.md');

/** The machine a benchmark ran on, as recorded with its results. */
export interface MachineInfo {
  /** `os.cpus()[0].model`. */
  readonly cpu: string;
  readonly cores: number;
  readonly memoryBytes: number;
  /** `process.version`, e.g. `v20.20.2`. */
  readonly node: string;
  /** `os.platform()` and `os.release()`, e.g. `linux 6.8.0`. */
  readonly platform: string;
  /** `select version()` of the PostgreSQL server the benchmarks used, when known. */
  readonly postgres?: string;
}

/** Describes this machine; `postgres` is the server version string when the caller has it. */
export function machineInfo(postgres?: string): MachineInfo {
  const all = cpus();
  return {
    cpu: all[0]?.model.trim() ?? 'unknown',
    cores: all.length,
    memoryBytes: totalmem(),
    node: process.version,
    platform: `${platform()} ${release()}`,
    ...(postgres === undefined ? {} : { postgres }),
  };
}

/** One line naming the machine, for the docs: `AMD EPYC …, 2 cores, 23.5 GiB, Node v20.20.2, linux …`. */
export function describeMachine(machine: MachineInfo): string {
  const gib = (machine.memoryBytes / 2 ** 30).toFixed(1);
  const postgres = machine.postgres === undefined ? '' : `, ${machine.postgres.split(' on ')[0] ?? machine.postgres}`;
  return `${machine.cpu}, ${machine.cores} cores, ${gib} GiB RAM, Node ${machine.node}, ${machine.platform}${postgres}`;
}

/** What `bench/results/<name>.json` holds. */
export interface ResultsFile {
  readonly name: string;
  /** ISO 8601 time the run finished. */
  readonly date: string;
  readonly machine: MachineInfo;
  /** `os.loadavg()` (1, 5 and 15 min) when the run started and ended: other work on the machine skews the figures. */
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly parameters: BenchmarkReport['parameters'];
  readonly figures: BenchmarkReport['figures'];
  readonly ratios: BenchmarkReport['ratios'];
}

/** Writes `bench/results/<name>.json` (through a temporary file, so a reader never sees half of it). Returns its path. */
export async function writeResults(results: ResultsFile): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${results.name}.json`);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(results, null, 2)}\n`);
  await rename(temporary, path);
  return path;
}

/**
 * Replaces the text between `<!-- bench:<name> -->` and `<!-- /bench:<name> -->` in `document` with
 * `body`, keeping everything else; appends the marked section when the markers are missing.
 */
function replaceSection(document: string, name: string, body: string): string {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const section = `${open}\n${body.trim()}\n${close}`;
  const start = document.indexOf(open);
  const end = document.indexOf(close);
  if (start === -1 || end === -1 || end < start) return `${document.trimEnd()}\n\n${section}\n`;
  return `${document.slice(0, start)}${section}${document.slice(end + close.length)}`;
}

/** Regenerates this benchmark's section of docs/benchmarks.md. */
export async function updateDocs(name: string, body: string): Promise<void> {
  const current = await readFile(DOCS_FILE, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '# Benchmarks\n';
    throw error;
  });
  const temporary = `${DOCS_FILE}.${process.pid}.tmp`;
  await writeFile(temporary, replaceSection(current, name, body));
  await rename(temporary, DOCS_FILE);
}

/** A Markdown table: a header row and body rows, cells as given (escape `|` yourself). */
export function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** `value` with a fixed number of decimals and thousands separators, for tables. */
export function formatNumber(value: number, digits = 1): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
