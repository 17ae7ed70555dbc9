// Real Prometheus and Alertmanager (Debian's `prometheus` and `prometheus-alertmanager`) for
// integration and end-to-end tests: each started on 127.0.0.1 on a free port, with a temporary data
// directory and a configuration file written here, and stopped by `stop()`. Each binary runs under a
// small shell watchdog that ends it when the test process goes away, however it goes (even SIGKILL):
// the watchdog holds the read end of a pipe whose write end only the test process has.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import getPort from 'get-port';
import { stringify } from 'yaml';

/** Debian's names of the two binaries. */
const BINARIES = { prometheus: 'prometheus', alertmanager: 'prometheus-alertmanager' } as const;

/** How to install the binaries, for skip and failure messages. */
export const INSTALL_HINT = 'apt-get install -y prometheus prometheus-alertmanager';

/** The absolute path of executable `name` on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The names of the binaries that are not installed (empty when both are). */
export function missingBinaries(): string[] {
  return Object.values(BINARIES).filter((name) => which(name) === undefined);
}

/**
 * A sentence for `describe.skipIf(...)` titles, or throws in CI (`CI=true`), where `.ci/run` installs
 * the binaries and a missing one is a broken set-up, not a reason to skip.
 */
export function skipReason(): string | undefined {
  const missing = missingBinaries();
  if (missing.length === 0) return undefined;
  const reason = `${missing.join(' and ')} not installed (${INSTALL_HINT})`;
  if (process.env.CI === 'true') throw new Error(`CI must run the Prometheus tests, but ${reason}.`);
  return reason;
}

/** A process started under the watchdog. */
export interface Supervised {
  readonly child: ChildProcess;
  /** The last 16 KiB of its output (stdout and stderr). */
  logs(): string;
  /** Resolves once the wrapper (and so the binary) has exited. */
  readonly exited: Promise<void>;
  /** Asks the binary to stop (SIGTERM) and waits; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

// The watchdog: runs "$@" in the background with fd 3 = the stdin pipe from the test process. A
// subshell blocks reading it and sends SIGTERM to the binary at end of file, which comes when the
// test process closes it (`stop()`) or dies. SIGTERM to the wrapper is passed on too. Once the binary
// has exited, the wrapper removes `removeDir` (its temporary data directory), so none is left behind.
const WATCHDOG = [
  'exec 3<&0 0</dev/null',
  '"$@" &',
  'child=$!',
  'trap \'kill -TERM "$child" 2>/dev/null\' TERM INT HUP',
  '( cat <&3 >/dev/null; kill -TERM "$child" 2>/dev/null ) >/dev/null 2>&1 &',
  'exec 3<&-',
  'while :; do wait "$child"; status=$?; kill -0 "$child" 2>/dev/null || break; done',
  'if [ -n "$WATCHDOG_REMOVE_DIR" ]; then rm -rf "$WATCHDOG_REMOVE_DIR"; fi',
  'exit "$status"',
].join('\n');

export function supervise(binary: string, args: readonly string[], removeDir: string): Supervised {
  const child = spawn('/bin/sh', ['-c', WATCHDOG, 'watchdog', binary, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: false,
    env: { ...process.env, WATCHDOG_REMOVE_DIR: removeDir },
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-16_384);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.stdin.on('error', () => undefined);
  const exited = once(child, 'exit').then(() => undefined);
  return {
    child,
    logs: () => output,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      child.stdout.destroy();
      child.stderr.destroy();
    },
  };
}

/** Polls `url` until it answers 200, the process exits, or `timeoutMs` passes. */
async function waitReady(name: string, url: string, supervised: Supervised, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void supervised.exited.then(() => {
    exited = true;
  });
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${name} exited before it was ready:\n${supervised.logs()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name} was not ready at ${url} within ${timeoutMs} ms (${last}):\n${supervised.logs()}`);
}

/** A running server started by this module. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** `127.0.0.1:<port>`, for another server's configuration. */
  readonly address: string;
  /** Its temporary data directory (removed by `stop()`). */
  readonly dataDir: string;
  /** The last 16 KiB of its log. */
  logs(): string;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its data directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** One Prometheus rule group (https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/). */
export interface RuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly rules: ReadonlyArray<Record<string, unknown>>;
}

/** What {@link startPrometheus} configures. */
export interface PrometheusOptions {
  /** `host:port` targets scraped at `/metrics` (job `test`). */
  readonly scrapeTargets?: readonly string[];
  /** Scrape and rule evaluation interval, seconds. @default 1 */
  readonly intervalSeconds?: number;
  /** Rule groups (recording and alerting rules), written to a rule file. */
  readonly ruleGroups?: readonly RuleGroup[];
  /** `host:port` of Alertmanagers that alerts are sent to. */
  readonly alertmanagers?: readonly string[];
  /** How long to wait for `/-/ready`, ms. @default 30000 */
  readonly readyTimeoutMs?: number;
}

/**
 * Starts Prometheus on 127.0.0.1 and a free port with a fresh TSDB, scraping `scrapeTargets` and
 * evaluating `ruleGroups` every `intervalSeconds`, and resolves once `/-/ready` answers 200.
 * Throws with Prometheus' log when it exits or is not ready in time.
 */
export async function startPrometheus(options: PrometheusOptions = {}): Promise<RunningServer> {
  const interval = `${options.intervalSeconds ?? 1}s`;
  const dataDir = await mkdtemp(join(tmpdir(), 'interlock-prometheus-'));
  const config: Record<string, unknown> = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    scrape_configs: options.scrapeTargets === undefined || options.scrapeTargets.length === 0 ? [] : [{ job_name: 'test', static_configs: [{ targets: options.scrapeTargets }] }],
  };
  if (options.ruleGroups !== undefined) {
    await writeFile(join(dataDir, 'rules.yml'), stringify({ groups: options.ruleGroups }));
    config.rule_files = [join(dataDir, 'rules.yml')];
  }
  if (options.alertmanagers !== undefined) {
    config.alerting = { alertmanagers: [{ static_configs: [{ targets: options.alertmanagers }] }] };
  }
  await writeFile(join(dataDir, 'prometheus.yml'), stringify(config));
  return startServer('prometheus', BINARIES.prometheus, dataDir, options.readyTimeoutMs, (address) => [
    `--config.file=${join(dataDir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dataDir, 'tsdb')}`,
    `--web.listen-address=${address}`,
    '--log.level=warn',
  ]);
}

/** What {@link startAlertmanager} configures. */
export interface AlertmanagerOptions {
  /** Webhook receiver URL that notifications are POSTed to (with resolved ones). */
  readonly webhookUrl?: string;
  /** How long to wait for `/-/ready`, ms. @default 30000 */
  readonly readyTimeoutMs?: number;
}

/**
 * Starts Alertmanager on 127.0.0.1 and a free port, clustering off, with one route (`group_wait: 0s`,
 * `group_interval: 1s`) to a receiver that notifies `webhookUrl` if given, and resolves once `/-/ready`
 * answers 200. Throws with Alertmanager's log when it exits or is not ready in time.
 */
export async function startAlertmanager(options: AlertmanagerOptions = {}): Promise<RunningServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'interlock-alertmanager-'));
  const receiver = options.webhookUrl === undefined ? { name: 'default' } : { name: 'default', webhook_configs: [{ url: options.webhookUrl, send_resolved: true }] };
  const config = {
    route: { receiver: 'default', group_by: ['alertname'], group_wait: '0s', group_interval: '1s', repeat_interval: '1h' },
    receivers: [receiver],
  };
  await writeFile(join(dataDir, 'alertmanager.yml'), stringify(config));
  return startServer('alertmanager', BINARIES.alertmanager, dataDir, options.readyTimeoutMs, (address) => [
    `--config.file=${join(dataDir, 'alertmanager.yml')}`,
    `--storage.path=${join(dataDir, 'data')}`,
    `--web.listen-address=${address}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ]);
}

async function startServer(name: string, binary: string, dataDir: string, readyTimeoutMs: number | undefined, args: (address: string) => string[]): Promise<RunningServer> {
  const path = which(binary);
  if (path === undefined) {
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(`${binary} is not installed (${INSTALL_HINT}).`);
  }
  const port = await getPort({ host: '127.0.0.1' });
  const address = `127.0.0.1:${port}`;
  const url = `http://${address}`;
  const supervised = supervise(path, args(address), dataDir);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= supervised.stop().then(() => rm(dataDir, { recursive: true, force: true }));
    return stopping;
  };
  try {
    await waitReady(name, `${url}/-/ready`, supervised, readyTimeoutMs ?? 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, address, dataDir, logs: () => supervised.logs(), stop };
}
