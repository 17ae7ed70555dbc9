import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import ts from 'typescript';
import { REPO_ROOT } from './report.js';
import { serveEnvironment } from './serve-process.js';

/** The baseline server's source. */
const SOURCE = join(REPO_ROOT, 'bench', 'support', 'bare-intake-server.ts');

/**
 * Where its JavaScript is written: under `node_modules/` so that node resolves `fastify` and `pg`
 * from the repository's dependencies.
 */
const COMPILED_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'interlock-bench');

/** A running baseline server (`bare-intake-server.ts`). */
export interface BareIntake {
  readonly pid: number;
  /** Base URL; it takes `POST <url>/v1/signals/<source>`. */
  readonly url: string;
  /** SIGTERM, then waits for the exit (SIGKILL after `timeoutMs`). */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * Transpiles `bare-intake-server.ts` to JavaScript (TypeScript's `transpileModule`, no type check:
 * `tsc` checks it with the rest) and runs it with plain node on `databaseUrl`, so its memory carries
 * no TypeScript loader, like `interlock serve` running `dist/`. Resolves once it serves.
 */
export async function startBareIntake(options: { readonly databaseUrl: string; readonly poolSize: number; readonly bodyLimitBytes: number; readonly readyTimeoutMs: number }): Promise<BareIntake> {
  const compiled = ts.transpileModule(await readFile(SOURCE, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
    fileName: SOURCE,
  });
  await mkdir(COMPILED_DIR, { recursive: true });
  const script = join(COMPILED_DIR, 'bare-intake-server.mjs');
  await writeFile(script, compiled.outputText);
  const env = serveEnvironment({ DATABASE_URL: options.databaseUrl, BARE_POOL_SIZE: String(options.poolSize), BARE_BODY_LIMIT_BYTES: String(options.bodyLimitBytes) });
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = once(child, 'exit');
  const stop = async (timeoutMs: number): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  };
  const url = await Promise.race([
    new Promise<string>((resolve) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        try {
          const parsed = JSON.parse(line) as { url?: unknown };
          if (typeof parsed.url === 'string') resolve(parsed.url);
        } catch {
          // not the ready line
        }
      });
    }),
    exited.then(() => null),
    sleep(options.readyTimeoutMs, null),
  ]);
  if (url === null || child.pid === undefined) {
    await stop(5000);
    throw new Error(`the baseline server did not start within ${options.readyTimeoutMs} ms; its stderr:\n${stderr}`);
  }
  return { pid: child.pid, url, stop };
}
