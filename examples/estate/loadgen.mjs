// The reference estate's load generator and PostgreSQL exporter (docs/estate.md).
//
// Load: steady, open-loop traffic through nginx to every service, GET <ESTATE_HTTP_URL>/<service>/<path>,
// at the rates in ESTATE_LOAD_FILE (`{ "<service>": requests per second, ... }`, re-read every
// 500 ms, so faults and fixes can change them). Requests go out on schedule whatever the answers
// (an overloaded service sees its queue grow, as with real users).
//
// Exporter: /metrics on 127.0.0.1:ESTATE_EXPORTER_PORT with, per service (the `application_name`
// its connections carry), `pg_long_running_queries` (active queries running for more than 1 s) and
// `pg_connections` (connections to the estate's database), read from pg_stat_activity at each
// scrape; and the load generator's own `loadgen_*` metrics.
//
// Environment: ESTATE_HTTP_URL, ESTATE_LOAD_FILE, ESTATE_EXPORTER_PORT, ESTATE_DATABASE_URL_FILE,
// ESTATE_SERVICES (comma-separated `service:path` pairs).
import { Agent, createServer, get } from 'node:http';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import promClient from 'prom-client';

/** How often the load file is re-read, ms. */
const POLL_MS = 500;
/** Scheduler tick, ms. */
const TICK_MS = 20;
/** Longest a request may take before it counts as failed, ms. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Highest rate accepted per service, requests per second. */
const MAX_RPS = 1000;

const env = process.env;
const BASE_URL = required('ESTATE_HTTP_URL').replace(/\/$/, '');
const LOAD_FILE = required('ESTATE_LOAD_FILE');
const EXPORTER_PORT = Number(required('ESTATE_EXPORTER_PORT'));
const DATABASE_URL = readFileSync(required('ESTATE_DATABASE_URL_FILE'), 'utf8').trim();
/** Service name → request path under `/<service>/`. */
const SERVICES = new Map(required('ESTATE_SERVICES').split(',').map((pair) => pair.split(':')).map(([name, path]) => [name, path ?? '']));

function required(name) {
  const value = env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`loadgen.mjs: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
}

function log(level, msg, fields = {}) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, service: 'loadgen', ...fields })}\n`);
}

// ---- Metrics ---------------------------------------------------------------------------------------

const registry = new promClient.Registry();
promClient.collectDefaultMetrics({ register: registry, prefix: 'loadgen_' });
const sent = new promClient.Counter({ name: 'loadgen_requests_total', help: 'Requests sent through nginx and their outcome (status code, or "error").', labelNames: ['service', 'code'], registers: [registry] });
const latency = new promClient.Histogram({ name: 'loadgen_request_duration_seconds', help: 'Latency seen by the load generator through nginx, seconds.', labelNames: ['service'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
new promClient.Gauge({ name: 'loadgen_target_rps', help: 'Requests per second the load file asks for.', labelNames: ['service'], registers: [registry], collect() {
  for (const service of SERVICES.keys()) this.set({ service }, rates.get(service) ?? 0);
} });

const database = new pg.Pool({ connectionString: DATABASE_URL, max: 2, application_name: 'estate-exporter', connectionTimeoutMillis: 900 });
database.on('error', () => undefined);
const STAT_QUERY = `select application_name as service, count(*)::int as connections,
  count(*) filter (where state = 'active' and now() - query_start > interval '1 second')::int as long_running
  from pg_stat_activity where datname = current_database() and application_name = any($1) group by application_name`;
let stats = null;
/** Reads pg_stat_activity once per scrape, shared by the gauges below. */
async function readStats() {
  try {
    const { rows } = await database.query(STAT_QUERY, [[...SERVICES.keys()]]);
    stats = new Map(rows.map((row) => [row.service, row]));
  } catch {
    stats = null;
  }
}
new promClient.Gauge({ name: 'pg_up', help: 'Whether the exporter could read pg_stat_activity (1) or not (0).', registers: [registry], collect() { this.set(stats === null ? 0 : 1); } });
new promClient.Gauge({ name: 'pg_long_running_queries', help: 'Active queries running for more than 1 s, by service (application_name).', labelNames: ['service'], registers: [registry], collect() {
  if (stats === null) return;
  for (const service of SERVICES.keys()) this.set({ service }, stats.get(service)?.long_running ?? 0);
} });
new promClient.Gauge({ name: 'pg_connections', help: 'Connections to the estate database, by service (application_name).', labelNames: ['service'], registers: [registry], collect() {
  if (stats === null) return;
  for (const service of SERVICES.keys()) this.set({ service }, stats.get(service)?.connections ?? 0);
} });

const exporter = createServer((request, response) => {
  if ((request.url ?? '/').split('?')[0] !== '/metrics') {
    response.writeHead(404).end();
    return;
  }
  readStats()
    .then(() => registry.metrics())
    .then((text) => {
      response.writeHead(200, { 'content-type': registry.contentType });
      response.end(text);
    })
    .catch((error) => {
      response.writeHead(500).end(String(error));
    });
});
exporter.listen(EXPORTER_PORT, '127.0.0.1', () => log('info', `exporter on 127.0.0.1:${EXPORTER_PORT}/metrics`));

// ---- Load ------------------------------------------------------------------------------------------

/** Service → requests per second now. */
const rates = new Map([...SERVICES.keys()].map((service) => [service, 0]));
let loadText = '';
async function readLoadFile() {
  let text;
  try {
    text = await readFile(LOAD_FILE, 'utf8');
  } catch {
    return;
  }
  if (text === loadText) return;
  loadText = text;
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    log('warn', `ignoring ${LOAD_FILE}: not JSON`);
    return;
  }
  for (const service of SERVICES.keys()) {
    const rate = Number(value[service] ?? 0);
    rates.set(service, Number.isFinite(rate) && rate >= 0 ? Math.min(rate, MAX_RPS) : 0);
  }
  log('info', `load: ${[...rates].map(([service, rate]) => `${service} ${rate}/s`).join(', ')}`, { rates: Object.fromEntries(rates) });
}

const agent = new Agent({ keepAlive: true, maxSockets: 512 });

function fire(service) {
  const started = performance.now();
  const done = (code) => {
    sent.inc({ service, code });
    latency.observe({ service }, (performance.now() - started) / 1000);
  };
  const request = get(`${BASE_URL}/${service}/${SERVICES.get(service)}`, { agent, timeout: REQUEST_TIMEOUT_MS }, (response) => {
    response.resume();
    response.on('end', () => done(String(response.statusCode)));
    response.on('error', () => done('error'));
  });
  request.on('timeout', () => request.destroy(new Error('timeout')));
  request.on('error', () => done('error'));
}

/** Requests owed per service (fractions carry over between ticks). */
const owed = new Map([...SERVICES.keys()].map((service) => [service, Math.random()]));
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  const seconds = Math.min(1, (now - last) / 1000);
  last = now;
  for (const [service, rate] of rates) {
    let credit = (owed.get(service) ?? 0) + rate * seconds;
    while (credit >= 1) {
      fire(service);
      credit -= 1;
    }
    owed.set(service, credit);
  }
}, TICK_MS);

await readLoadFile();
setInterval(() => void readLoadFile(), POLL_MS).unref();

function shutdown() {
  exporter.close();
  agent.destroy();
  void database.end().catch(() => undefined);
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown();
}, 1000).unref();
