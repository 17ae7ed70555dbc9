import { createApiClient } from '../../src/cli/api-client.js';
import type { CliContext } from '../../src/cli/context.js';
import type { CliDeps } from '../../src/cli/deps.js';
import { runCli } from '../../src/cli/program.js';

/** What {@link runCliInProcess} runs with; `deps` defaults to the real HTTP client and rejects everything else. */
export interface InProcessCliOptions {
  readonly cwd: string;
  readonly env?: Record<string, string>;
  /** INTERLOCK_TOKEN. */
  readonly token?: string;
  /** Dependencies beyond `createApiClient` (e.g. `openIdentity`, `openAudit`, `exportAudit`). */
  readonly deps?: Partial<CliDeps>;
  /** The terminal's answer to every question, as if a person typed it. */
  readonly confirm?: boolean;
}

/**
 * Runs `interlock ...args` in this process, as the CLI tests do: its exit code, its stdout lines
 * joined by newlines, its stderr lines, and the questions it asked.
 */
export async function runCliInProcess(args: readonly string[], options: InProcessCliOptions): Promise<{ code: number; stdout: string; stderr: string[]; asked: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const asked: string[] = [];
  const notUsed = (): Promise<never> => Promise.reject(new Error('not used here'));
  const ctx: CliContext = {
    io: { out: (text) => stdout.push(text), err: (text) => stderr.push(text) },
    env: options.env ?? {},
    cwd: options.cwd,
    deps: { serve: notUsed, migrate: notUsed, doctor: notUsed, demo: notUsed, estateDemo: notUsed, openIdentity: notUsed, createApiClient, ...options.deps },
    debug: false,
    now: () => Date.now(),
    ...(options.token === undefined ? {} : { apiToken: options.token }),
    ...(options.confirm === undefined ? {} : { confirm: (question: string) => (asked.push(question), Promise.resolve(options.confirm === true)) }),
  };
  const code = await runCli([...args], ctx);
  return { code, stdout: stdout.join('\n'), stderr, asked };
}
