import { tmpdir } from 'node:os';
import { createApiClient } from '../../src/cli/api-client.js';
import type { CliContext } from '../../src/cli/context.js';
import type { ApiClientOptions, CliDeps, InterlockApi } from '../../src/cli/deps.js';
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

/**
 * A CLI context for command tests with a fake API: output recorded in `stdout` / `stderr`, every API
 * client asked for recorded in `clients` and answered with `api`, and every server-module dependency
 * rejecting (the API commands must never load the server).
 */
export function fakeApiContext(api: InterlockApi, options: { readonly now: number; readonly env?: Record<string, string>; readonly apiToken?: string }): { ctx: CliContext; stdout: string[]; stderr: string[]; clients: ApiClientOptions[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const clients: ApiClientOptions[] = [];
  const notCalled = (): Promise<never> => Promise.reject(new Error('API commands must not call the server module'));
  const ctx: CliContext = {
    io: { out: (text) => stdout.push(text), err: (text) => stderr.push(text) },
    env: options.env ?? {},
    cwd: tmpdir(),
    deps: { serve: notCalled, migrate: notCalled, doctor: notCalled, demo: notCalled, estateDemo: notCalled, openIdentity: notCalled, createApiClient: (clientOptions) => { clients.push(clientOptions); return api; } },
    debug: false,
    now: () => options.now,
    ...(options.apiToken === undefined ? {} : { apiToken: options.apiToken }),
  };
  return { ctx, stdout, stderr, clients };
}
