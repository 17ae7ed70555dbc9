import { createInterface } from 'node:readline/promises';
import { Console } from 'node:console';
import { createDefaultDeps } from './wiring.js';
import { runCli } from './program.js';

/**
 * How long a finished command may wait for timers or sockets a library left open before the
 * process exits anyway, ms (a failed `serve` can leave a half-started engine behind).
 */
const EXIT_GRACE_MS = 1000;

/**
 * The `interlock` command: runs the CLI on `argv` (as `process.argv`: node, script, arguments)
 * with the real process (stdout, stderr, environment, working directory) and dependencies, and
 * returns the exit code: 0 success, 1 failure, 2 usage error. Stack traces are printed only when
 * `INTERLOCK_DEBUG=1`; `INTERLOCK_TOKEN` is the API token of the `missions` and `approvals`
 * commands. This is the one place the CLI reads `process.env`.
 *
 * Stdout carries only results (tables, JSON, and the server's JSON log lines): whatever a library
 * writes through `console` (DBOS prints "Running DBOS system database migrations...") goes to stderr.
 * Once the command has finished, the process exits with that code within {@link EXIT_GRACE_MS}
 * even if something still holds the event loop. When the reader of stdout goes away
 * (`interlock missions list --json | head -1`), the process exits 0 without a word.
 */
export async function run(argv: string[]): Promise<number> {
  globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr });
  process.stdout.on('error', exitOnClosedPipe);
  const code = await runCli(argv.slice(2), {
    io: {
      out: (text) => void process.stdout.write(`${text}\n`),
      err: (text) => void process.stderr.write(`${text}\n`),
    },
    env: process.env,
    cwd: process.cwd(),
    deps: createDefaultDeps(),
    debug: process.env.INTERLOCK_DEBUG === '1',
    ...(process.env.INTERLOCK_TOKEN === undefined || process.env.INTERLOCK_TOKEN === '' ? {} : { apiToken: process.env.INTERLOCK_TOKEN }),
    now: () => Date.now(),
    ...(process.stdin.isTTY ? { confirm: askAtTerminal } : {}),
  });
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  return code;
}

/** Asks `question` on the terminal and resolves true for an answer starting with y or Y. */
async function askAtTerminal(question: string): Promise<boolean> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y/i.test((await terminal.question(question)).trim());
  } finally {
    terminal.close();
  }
}

/** Ends the process quietly when stdout's reader has gone away; any other stream error stays fatal. */
function exitOnClosedPipe(error: NodeJS.ErrnoException): void {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
}
