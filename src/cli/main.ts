import { createDefaultDeps } from './wiring.js';
import { runCli } from './program.js';

/**
 * The `interlock` command: runs the CLI on `argv` (as `process.argv`: node, script, arguments)
 * with the real process (stdout, stderr, environment, working directory) and dependencies, and
 * returns the exit code: 0 success, 1 failure, 2 usage error. Stack traces are printed only when
 * `INTERLOCK_DEBUG=1`. This is the one place the CLI reads `process.env`.
 */
export async function run(argv: string[]): Promise<number> {
  return runCli(argv.slice(2), {
    io: {
      out: (text) => void process.stdout.write(`${text}\n`),
      err: (text) => void process.stderr.write(`${text}\n`),
    },
    env: process.env,
    cwd: process.cwd(),
    deps: createDefaultDeps(),
    debug: process.env.INTERLOCK_DEBUG === '1',
    now: () => Date.now(),
  });
}
