// `npm run bench [-- <name>...]`: runs every bench/<name>.bench.ts in sequence, or the named ones,
// each in a process of its own (DBOS is process-global), and exits non-zero if any failed.
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { requirePostgres } from './support/postgres.js';
import { REPO_ROOT } from './support/report.js';

const SUFFIX = '.bench.ts';

/** Names of the benchmarks in bench/, in file-name order. */
async function listBenchmarks(): Promise<string[]> {
  const files = await readdir(join(REPO_ROOT, 'bench'));
  return files.filter((file) => file.endsWith(SUFFIX)).map((file) => file.slice(0, -SUFFIX.length)).sort();
}

/** Runs one benchmark in a child process with tsx; resolves with its exit code. */
function runInChild(name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join('bench', 'support', 'run-benchmark.ts'), name], { cwd: REPO_ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

async function main(args: readonly string[]): Promise<number> {
  const available = await listBenchmarks();
  const unknown = args.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
    return 2;
  }
  try {
    await requirePostgres();
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
  const names = args.length === 0 ? available : args;
  const failed: string[] = [];
  for (const name of names) {
    console.log(`== bench ${name}`);
    if ((await runInChild(name)) !== 0) failed.push(name);
  }
  if (failed.length > 0) console.error(`failed: ${failed.join(', ')}`);
  else console.log(`done: ${names.join(', ')}; results in bench/results/, tables in docs/benchmarks.md`);
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
