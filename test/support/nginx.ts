// Real nginx (Debian's `nginx-light` or `nginx`) for integration and end-to-end tests: started on
// 127.0.0.1 on a free port in the foreground (`daemon off`), with its main configuration, pid file,
// error log and temporary paths in a temporary directory written here, and stopped by `stop()`. It
// runs under the watchdog of `prometheus.ts`, so it ends with the test process however that goes.
// Also: tiny node:http backends that answer their name, to see where nginx sends each request.
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { renderUpstream } from '../../src/connectors/nginx/upstream-file.js';
import { supervise, which } from './prometheus.js';

/** How to install nginx, for skip and failure messages. */
export const NGINX_INSTALL_HINT = 'apt-get install -y nginx-light';

/** The absolute path of the nginx binary (on PATH, or Debian's /usr/sbin/nginx), or undefined. */
export function nginxBinary(): string | undefined {
  const onPath = which('nginx');
  if (onPath !== undefined) return onPath;
  try {
    accessSync('/usr/sbin/nginx', constants.X_OK);
    return '/usr/sbin/nginx';
  } catch {
    return undefined;
  }
}

/**
 * A sentence for `describe.skipIf(...)` titles, or throws in CI (`CI=true`), where `.ci/run` installs
 * nginx and a missing one is a broken set-up, not a reason to skip.
 */
export function nginxSkipReason(): string | undefined {
  if (nginxBinary() !== undefined) return undefined;
  const reason = `nginx not installed (${NGINX_INSTALL_HINT})`;
  if (process.env.CI === 'true') throw new Error(`CI must run the nginx tests, but ${reason}.`);
  return reason;
}

/** One upstream of the test nginx: its name and `host:port` servers, each written at weight 1. */
export interface TestUpstream {
  readonly name: string;
  readonly servers: readonly string[];
}

/** What {@link startNginx} configures. */
export interface NginxOptions {
  /** Upstreams whose include files (Interlock's format, every server at weight 1) are written in `confDir`. */
  readonly upstreams: readonly TestUpstream[];
  /** Location prefix → upstream name proxied there. @default `/` to the first upstream */
  readonly locations?: Readonly<Record<string, string>>;
  /** How long to wait for the first answer, ms. @default 30000 */
  readonly readyTimeoutMs?: number;
}

/** A running nginx started by {@link startNginx}. */
export interface RunningNginx {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly binary: string;
  /** Its main configuration file. */
  readonly mainConfig: string;
  /** Directory included as `<confDir>/*.conf` in the `http` block: the connector's `confDir`. */
  readonly confDir: string;
  readonly pidFile: string;
  /** Its temporary directory (removed by `stop()`). */
  readonly dir: string;
  /** The last 16 KiB of its output (its error log goes to stderr). */
  logs(): string;
  /** Stops nginx (SIGTERM, then SIGKILL after 10 s) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts nginx in the foreground on 127.0.0.1 and a free port with one worker, proxying each location
 * to its upstream, and resolves once it answers HTTP and has written its pid file. Throws with nginx's
 * output when it exits or is not ready in time.
 */
export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  const binary = nginxBinary();
  if (binary === undefined) throw new Error(`nginx is not installed (${NGINX_INSTALL_HINT}).`);
  const dir = await mkdtemp(join(tmpdir(), 'interlock-nginx-'));
  // Workers run as nginx's default user when the master is root: let them into the directory.
  await chmod(dir, 0o755);
  const confDir = join(dir, 'conf.d');
  await mkdir(confDir);
  await mkdir(join(dir, 'temp'));
  for (const upstream of options.upstreams) {
    await writeFile(join(confDir, `upstream-${upstream.name}.conf`), renderUpstream(upstream.name, upstream.servers.map((address) => ({ address, weight: 1 }))));
  }
  const port = await getPort({ host: '127.0.0.1' });
  const locations = options.locations ?? (options.upstreams[0] === undefined ? {} : { '/': options.upstreams[0].name });
  const temp = (name: string): string => `${name}_temp_path ${join(dir, 'temp', name)};`;
  const mainConfig = join(dir, 'nginx.conf');
  const pidFile = join(dir, 'nginx.pid');
  await writeFile(mainConfig, [
    'daemon off;',
    'worker_processes 1;',
    `pid ${pidFile};`,
    'error_log stderr warn;',
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    `  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}`,
    `  include ${confDir}/*.conf;`,
    '  server {',
    `    listen 127.0.0.1:${port};`,
    ...Object.entries(locations).map(([path, upstream]) => `    location ${path} { proxy_pass http://${upstream}; proxy_next_upstream off; }`),
    '  }',
    '}',
    '',
  ].join('\n'));

  const supervised = supervise(binary, ['-c', mainConfig, '-e', 'stderr'], dir);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= supervised.stop().then(() => rm(dir, { recursive: true, force: true }));
    return stopping;
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  let exited = false;
  void supervised.exited.then(() => {
    exited = true;
  });
  let last = 'no answer yet';
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`nginx exited before it was ready:\n${supervised.logs()}`);
    }
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      if ((await readFile(pidFile, 'utf8')).trim() !== '') break;
      last = 'no pid file yet';
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      const logs = supervised.logs();
      await stop();
      throw new Error(`nginx was not ready at ${url} (${last}):\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, binary, mainConfig, confDir, pidFile, dir, logs: () => supervised.logs(), stop };
}

/** A node:http server on 127.0.0.1 that answers every request 200 with its name. */
export interface NamedBackend {
  readonly name: string;
  /** `127.0.0.1:<port>`, for an upstream's servers. */
  readonly address: string;
  close(): Promise<void>;
}

/** Starts a {@link NamedBackend} on a free port. */
export async function startNamedBackend(name: string): Promise<NamedBackend> {
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end(name);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    name,
    address: `127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The body of one GET of `url` on a connection of its own (`error:<status>` when not 200). */
function getOnce(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // A new connection per request: a kept-alive one may be to a worker a reload is shutting down.
    const request = get(url, { agent: false, headers: { connection: 'close' }, timeout: 5000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve(response.statusCode === 200 ? body : `error:${response.statusCode}`));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

/** The bodies of `count` sequential GETs of `url`, each on a new connection (`error:<status>` when not 200). */
export async function servedBy(url: string, count: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) bodies.push(await getOnce(url));
  return bodies;
}

/**
 * Polls `url` until `count` sequential requests are all answered by backend `name`, or throws after
 * `timeoutMs` with the last answers (a reload takes effect when the new workers take over).
 */
export async function waitUntilServedOnlyBy(url: string, name: string, options: { count?: number; timeoutMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let last: string[] = [];
  while (Date.now() < deadline) {
    last = await servedBy(url, options.count ?? 20);
    if (last.every((body) => body === name)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`requests to ${url} did not all reach ${name} in time; last answers: ${last.join(', ')}`);
}
