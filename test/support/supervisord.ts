// A real supervisord (Debian's `supervisor` package) for integration and end-to-end tests: started in
// the foreground (`nodaemon=true`) with a configuration written to a temporary directory (its unix
// socket, pid file, logs and program scripts live there too), its XML-RPC interface on 127.0.0.1 and a
// free port with HTTP basic auth, and stopped by `stop()`. It runs under the watchdog of
// ./prometheus.ts, so it (and, through it, its programs) ends when the test process goes away, however
// it goes; supervisord stops its programs when it gets SIGTERM.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { decodeMethodResponse } from '../../src/connectors/supervisor/xml-rpc.js';
import { supervise, which } from './prometheus.js';

/** How to install supervisord, for skip and failure messages. */
export const SUPERVISOR_INSTALL_HINT = 'apt-get install -y supervisor';

/**
 * A sentence for `describe.skipIf(...)` titles when supervisord is not installed, or throws in CI
 * (`CI=true`), where `.ci/run` installs it and a missing one is a broken set-up.
 */
export function supervisordSkipReason(): string | undefined {
  if (which('supervisord') !== undefined) return undefined;
  const reason = `supervisord not installed (${SUPERVISOR_INSTALL_HINT})`;
  if (process.env.CI === 'true') throw new Error(`CI must run the supervisord tests, but ${reason}.`);
  return reason;
}

/** One `[program:x]` section. */
export interface SupervisordProgram {
  readonly name: string;
  /** The command line; see {@link nodeProgram} for a small Node server. */
  readonly command: string;
  /** @default true */
  readonly autostart?: boolean;
  /** Seconds a process must stay up to count as started. @default 1 */
  readonly startsecs?: number;
  /** `true`, `false` or `unexpected`. @default 'unexpected' */
  readonly autorestart?: 'true' | 'false' | 'unexpected';
  /** Seconds to wait after SIGTERM before SIGKILL. @default 5 */
  readonly stopwaitsecs?: number;
}

/** What {@link startSupervisord} configures. */
export interface SupervisordOptions {
  readonly programs: readonly SupervisordProgram[];
  /** `[group:x]` sections: group name to program names. */
  readonly groups?: Readonly<Record<string, readonly string[]>>;
  /** How long to wait for the XML-RPC interface to answer, ms. @default 30000 */
  readonly readyTimeoutMs?: number;
}

/** A running supervisord started by {@link startSupervisord}. */
export interface RunningSupervisord {
  /** The XML-RPC endpoint, `http://127.0.0.1:<port>/RPC2`. */
  readonly url: string;
  readonly username: string;
  /** The generated password of `[inet_http_server]`. */
  readonly password: string;
  /** The temporary directory (configuration, socket, logs; removed by `stop()`). */
  readonly dir: string;
  /** What supervisord printed (start-up errors) and the last 16 KiB of its log file. */
  logs(): string;
  /** Stops supervisord (SIGTERM; it stops its programs), SIGKILL after 20 s, and removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

/** A program line running `script` (a CommonJS Node.js script written to `dir`) with Node.js. */
export async function nodeProgram(dir: string, name: string, script: string): Promise<string> {
  const file = join(dir, `${name}.cjs`);
  await writeFile(file, script);
  return `${process.execPath} ${file}`;
}

/** A Node.js HTTP server on 127.0.0.1:`port` answering `ok <pid>`; exits 0 on SIGTERM. */
export function httpServerScript(port: number): string {
  return [
    "const http = require('node:http');",
    `const server = http.createServer((req, res) => res.end('ok ' + process.pid)).listen(${port}, '127.0.0.1');`,
    "process.on('SIGTERM', () => server.close(() => process.exit(0)));",
  ].join('\n');
}

/**
 * Starts supervisord in a new temporary directory with `programs`, and resolves once its XML-RPC
 * interface answers `supervisor.getState` with RUNNING. `dirFor` gives the directory before the
 * configuration is written, so programs can put their scripts there (see {@link nodeProgram}).
 */
export async function startSupervisord(build: (dir: string) => Promise<SupervisordOptions> | SupervisordOptions): Promise<RunningSupervisord> {
  const binary = which('supervisord');
  if (binary === undefined) throw new Error(`supervisord is not installed (${SUPERVISOR_INSTALL_HINT}).`);
  const dir = await mkdtemp(join(tmpdir(), 'interlock-supervisord-'));
  const options = await build(dir);
  const port = await getPort({ host: '127.0.0.1' });
  const username = 'interlock';
  const password = randomBytes(12).toString('hex');
  const sections = [
    '[supervisord]',
    'nodaemon=true',
    // Its log goes to the file only: a write to the pipe of a test process that was killed would end
    // supervisord before it could stop its programs.
    'silent=true',
    `logfile=${join(dir, 'supervisord.log')}`,
    `pidfile=${join(dir, 'supervisord.pid')}`,
    `childlogdir=${dir}`,
    'loglevel=info',
    '',
    '[unix_http_server]',
    `file=${join(dir, 'supervisor.sock')}`,
    'chmod=0700',
    '',
    '[inet_http_server]',
    `port=127.0.0.1:${port}`,
    `username=${username}`,
    `password=${password}`,
    '',
    '[rpcinterface:supervisor]',
    'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
    '',
    '[supervisorctl]',
    `serverurl=unix://${join(dir, 'supervisor.sock')}`,
    '',
  ];
  for (const program of options.programs) {
    sections.push(
      `[program:${program.name}]`,
      `command=${program.command}`,
      `autostart=${String(program.autostart ?? true)}`,
      `startsecs=${program.startsecs ?? 1}`,
      `autorestart=${program.autorestart ?? 'unexpected'}`,
      `stopwaitsecs=${program.stopwaitsecs ?? 5}`,
      'stopsignal=TERM',
      `stdout_logfile=${join(dir, `${program.name}.log`)}`,
      'redirect_stderr=true',
      '',
    );
  }
  for (const [group, programs] of Object.entries(options.groups ?? {})) sections.push(`[group:${group}]`, `programs=${programs.join(',')}`, '');
  const config = join(dir, 'supervisord.conf');
  await writeFile(config, sections.join('\n'));

  const supervised = supervise(binary, ['-c', config], dir);
  const logs = (): string => logsOf(dir, supervised.logs());
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= supervised.stop(20_000).then(() => rm(dir, { recursive: true, force: true }));
    return stopping;
  };
  const url = `http://127.0.0.1:${port}/RPC2`;
  const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  let exited = false;
  void supervised.exited.then(() => {
    exited = true;
  });
  let last = 'no answer yet';
  try {
    for (;;) {
      if (exited) throw new Error(`supervisord exited before it was ready:\n${logs()}`);
      if (Date.now() > deadline) throw new Error(`supervisord was not ready at ${url} (${last}):\n${logs()}`);
      try {
        const response = await fetch(url, {
          method: 'POST', headers: { 'content-type': 'text/xml', authorization }, signal: AbortSignal.timeout(2000),
          body: '<?xml version="1.0"?><methodCall><methodName>supervisor.getState</methodName><params></params></methodCall>',
        });
        const text = await response.text();
        const answer = response.status === 200 ? decodeMethodResponse(text) : undefined;
        if (answer?.kind === 'result' && (answer.value as { statename?: unknown }).statename === 'RUNNING') break;
        last = answer === undefined ? `HTTP ${response.status}` : JSON.stringify(answer);
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, username, password, dir, logs, stop };
}

/** supervisord's own output followed by the end of its log file (gone once `dir` is removed). */
function logsOf(dir: string, output: string): string {
  let file = '';
  try {
    file = readFileSync(join(dir, 'supervisord.log'), 'utf8').slice(-16_384);
  } catch {
    // not written yet, or removed
  }
  return `${output}${file}`;
}
