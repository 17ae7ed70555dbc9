// One service of Interlock's reference estate (docs/estate.md). The same program runs as every
// service instance (checkout, checkout-canary, payments, catalog, catalog-2): supervisord starts
// `node <dir>/releases/<track>/current/service.mjs`, a copy of this file next to the release's
// `release.json`, with its settings in the environment:
//
//   ESTATE_SERVICE            the service it is an instance of (the `service` label): checkout
//   ESTATE_INSTANCE           its program name: checkout-canary
//   ESTATE_PORT               HTTP port on 127.0.0.1
//   ESTATE_DATABASE_URL_FILE  a file holding the PostgreSQL URL (a secret: never logged)
//   ESTATE_POOL_FILE          the pool settings file <dir>/pools/<service>.json, {"max": N}
//   ESTATE_FAULT_FILE         the fault file <dir>/faults/<service>.json (absent when healthy)
//   ESTATE_CONCURRENCY        requests handled at once; more wait in a queue
//   ESTATE_CAPACITY_RPS       requests per second it sustains (service_capacity_rps)
//
// Every request takes a connection from a pg.Pool, runs a real query, does some work (a wait of
// about concurrency / capacity seconds) and answers JSON. The release decides how the build behaves
// (`errorRate`, `extraLatencyMs`: a bug, not a toggle). The pool settings and fault files are re-read
// every 500 ms. Logs are JSON Lines on stdout (supervisord writes them to <dir>/logs/<program>.log).
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import promClient from 'prom-client';

/** How often the pool settings and fault files are re-read, ms. */
const POLL_MS = 500;
/** Longest wait for a database connection before the request fails with 503, ms. */
const ACQUIRE_TIMEOUT_MS = 2000;
/** Longest wait in the request queue before the request fails with 503, ms. */
const QUEUE_TIMEOUT_MS = 2000;
/** Requests that may wait in the queue; more are refused at once with 503. */
const MAX_QUEUE = 200;
/** Bounds of the pool size a pool settings file may set. */
const POOL_MIN = 1;
const POOL_MAX = 50;

const env = process.env;
const releaseDir = dirname(fileURLToPath(import.meta.url));
const release = readRelease(join(releaseDir, 'release.json'));
const SERVICE = required('ESTATE_SERVICE');
const INSTANCE = env.ESTATE_INSTANCE ?? SERVICE;
const VERSION = release.version;
const PORT = Number(required('ESTATE_PORT'));
const DATABASE_URL = readFileSync(required('ESTATE_DATABASE_URL_FILE'), 'utf8').trim();
const POOL_FILE = required('ESTATE_POOL_FILE');
const FAULT_FILE = required('ESTATE_FAULT_FILE');
const CONCURRENCY = positive('ESTATE_CONCURRENCY', 8);
const CAPACITY_RPS = positive('ESTATE_CAPACITY_RPS', 120);
/** Mean work time of a request, ms; each one takes 0.5 to 1.5 times this. */
const WORK_MS = (CONCURRENCY * 1000) / CAPACITY_RPS;
const STARTED_AT = Date.now();

function required(name) {
  const value = env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`service.mjs: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
}

function positive(name, fallback) {
  const value = Number(env[name] ?? fallback);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** The release's `release.json`: `{ service, version, errorRate: 0..1, extraLatencyMs: n }`. */
function readRelease(file) {
  const value = JSON.parse(readFileSync(file, 'utf8'));
  const errorRate = Number(value.errorRate ?? 0);
  const extraLatencyMs = Number(value.extraLatencyMs ?? 0);
  if (typeof value.version !== 'string' || !(errorRate >= 0 && errorRate <= 1) || !(extraLatencyMs >= 0)) {
    throw new Error(`${file}: expected { service, version, errorRate: 0..1, extraLatencyMs: >= 0 }`);
  }
  return { service: value.service, version: value.version, errorRate, extraLatencyMs };
}

/** Writes one JSON log line: time, level, msg, and who wrote it. */
function log(level, msg, fields = {}) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, service: SERVICE, instance: INSTANCE, version: VERSION, ...fields })}\n`);
}

// ---- Metrics -------------------------------------------------------------------------------------

const registry = new promClient.Registry();
registry.setDefaultLabels({ service: SERVICE, version: VERSION });
promClient.collectDefaultMetrics({ register: registry });
const requestsTotal = new promClient.Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by status code.', labelNames: ['code'], registers: [registry] });
const requestDuration = new promClient.Histogram({
  name: 'http_request_duration_seconds',
  help: 'Time from a request arriving to its answer, queue included, seconds.',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10],
  registers: [registry],
});
const acquireDuration = new promClient.Histogram({
  name: 'db_pool_acquire_seconds',
  help: 'Time a request waited for a database connection from the pool, seconds.',
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
  registers: [registry],
});
new promClient.Gauge({ name: 'db_pool_max', help: 'Size of the database connection pool (the pool settings file).', registers: [registry], collect() { this.set(pools.max); } });
new promClient.Gauge({ name: 'db_pool_active', help: 'Database connections in use.', registers: [registry], collect() { this.set(pools.active()); } });
new promClient.Gauge({ name: 'db_pool_idle', help: 'Open database connections not in use.', registers: [registry], collect() { this.set(pools.idle()); } });
new promClient.Gauge({ name: 'db_pool_waiting', help: 'Requests waiting for a database connection.', registers: [registry], collect() { this.set(pools.waiting()); } });
new promClient.Gauge({ name: 'service_capacity_rps', help: 'Requests per second this instance is configured to sustain.', registers: [registry], collect() { this.set(CAPACITY_RPS); } });
new promClient.Gauge({ name: 'service_requests_in_flight', help: 'Requests being handled (at most the concurrency).', registers: [registry], collect() { this.set(limiter.active); } });
new promClient.Gauge({ name: 'service_queue_length', help: 'Requests waiting in the queue.', registers: [registry], collect() { this.set(limiter.queue.length); } });

// ---- Database pool, replaced when the pool settings file changes ----------------------------------

/** The current pool and the replaced ones still serving requests that were waiting on them. */
const pools = {
  current: undefined,
  max: 0,
  retiring: new Set(),
  all() { return [this.current, ...this.retiring]; },
  active() { return this.all().reduce((sum, pool) => sum + pool.totalCount - pool.idleCount, 0); },
  idle() { return this.all().reduce((sum, pool) => sum + pool.idleCount, 0); },
  waiting() { return this.all().reduce((sum, pool) => sum + pool.waitingCount, 0); },
};

function createPool(max) {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max, application_name: SERVICE, connectionTimeoutMillis: ACQUIRE_TIMEOUT_MS, idleTimeoutMillis: 30_000 });
  // A connection that fails while idle (its backend was terminated) leaves the pool; nothing else to do.
  pool.on('error', (error) => log('warn', `idle database connection failed: ${error.message}`));
  return pool;
}

/** Puts a pool of `max` connections in place; the old one ends once no request waits on it. */
function setPoolSize(max, why) {
  const old = pools.current;
  pools.current = createPool(max);
  const previous = pools.max;
  pools.max = max;
  if (old !== undefined) {
    log('info', `database pool resized from ${previous} to ${max} connections (${why})`, { poolMax: max, previous });
    pools.retiring.add(old);
    const retire = setInterval(() => {
      if (old.waitingCount > 0) return;
      clearInterval(retire);
      old.end().catch(() => undefined).finally(() => pools.retiring.delete(old));
    }, 100);
  }
}

let poolText = '';
/** Re-reads `{"max": N}`; an invalid file is logged once and ignored. */
async function readPoolFile() {
  let text;
  try {
    text = await readFile(POOL_FILE, 'utf8');
  } catch {
    return;
  }
  if (text === poolText) return;
  poolText = text;
  let max;
  try {
    max = JSON.parse(text).max;
  } catch {
    max = undefined;
  }
  if (!Number.isInteger(max) || max < POOL_MIN || max > POOL_MAX) {
    log('warn', `ignoring ${POOL_FILE}: expected {"max": ${POOL_MIN}..${POOL_MAX}}`);
    return;
  }
  if (max !== pools.max) setPoolSize(max, `${POOL_FILE} changed`);
}

// ---- Faults ----------------------------------------------------------------------------------------

/**
 * The fault file, `{ at, fault, ... }`, re-read every 500 ms:
 * - `memory-leak` ({ leakBytesPerSecond }): in-process state, so it applies only when written after
 *   this process started (`at` >= start): a restart clears it.
 * - `slow-queries` ({ slowQueryRatio, slowQueryMs }): that share of the queries waits `slowQueryMs`
 *   in the database (pg_sleep): the database side, which a restart does not change.
 */
let fault = null;
let faultText = '';
let ignoredLeakAt = 0;
async function readFaultFile() {
  let text;
  try {
    text = await readFile(FAULT_FILE, 'utf8');
  } catch {
    text = '';
  }
  if (text === faultText) return;
  faultText = text;
  if (text === '') {
    if (fault !== null) log('info', 'fault cleared');
    fault = null;
    return;
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    log('warn', `ignoring ${FAULT_FILE}: not JSON`);
    return;
  }
  if (value.fault === 'memory-leak' && !(Number(value.at) >= STARTED_AT)) {
    if (ignoredLeakAt !== value.at) log('info', 'fault file predates this process; ignoring it');
    ignoredLeakAt = value.at;
    fault = null;
    return;
  }
  fault = value;
}

/** The leaked memory: strings of the page cache that is never evicted (the bug a memory-leak fault models). */
const pageCache = [];
let leakedBytes = 0;
setInterval(() => {
  if (fault?.fault !== 'memory-leak') return;
  const bytes = Math.max(0, Math.floor(Number(fault.leakBytesPerSecond ?? 0) / 10));
  if (bytes === 0) return;
  // A fresh one-byte string of `bytes` characters on the V8 heap, kept forever.
  pageCache.push(Buffer.alloc(bytes, String.fromCharCode(97 + (pageCache.length % 26))).toString('latin1'));
  leakedBytes += bytes;
}, 100).unref();
setInterval(() => {
  if (pageCache.length > 0) log('warn', `page cache holds ${pageCache.length} entries (${Math.round(leakedBytes / 1_048_576)} MiB); nothing is evicted`, { cacheEntries: pageCache.length, cacheBytes: leakedBytes });
}, 5000).unref();

// ---- Request handling -----------------------------------------------------------------------------

/** An error answered with `status`. */
class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** At most `limit` requests at once; the rest wait in a queue, up to QUEUE_TIMEOUT_MS and MAX_QUEUE. */
const limiter = {
  limit: CONCURRENCY,
  active: 0,
  queue: [],
  async run(work) {
    if (this.active < this.limit) this.active += 1;
    else {
      if (this.queue.length >= MAX_QUEUE) throw new HttpError(503, `overloaded: ${this.queue.length} requests queued, refusing more`);
      // The slot of a finishing request is handed over with `active` unchanged.
      await new Promise((resolve, reject) => {
        const item = { resolve, timer: setTimeout(() => {
          this.queue.splice(this.queue.indexOf(item), 1);
          reject(new HttpError(503, `overloaded: waited ${QUEUE_TIMEOUT_MS} ms in the queue (${this.queue.length} queued, ${this.limit} in flight)`));
        }, QUEUE_TIMEOUT_MS) };
        this.queue.push(item);
      });
    }
    try {
      return await work();
    } finally {
      const next = this.queue.shift();
      if (next === undefined) this.active -= 1;
      else {
        clearTimeout(next.timer);
        next.resolve();
      }
    }
  },
};

const QUERY = 'select count(*)::int as items, coalesce(sum(price), 0)::int as total from items where id between $1 and $1 + 20';

/** One request's work: a database query through the pool, then the service's own work. */
async function work() {
  const pool = pools.current;
  const waitStart = performance.now();
  let client;
  try {
    client = await pool.connect();
  } catch (error) {
    const timedOut = /timeout/i.test(error.message);
    throw new HttpError(503, timedOut
      ? `timeout acquiring a database connection after ${ACQUIRE_TIMEOUT_MS} ms (pool max ${pools.max}, ${pools.waiting()} waiting)`
      : `database unavailable: ${error.message}`);
  } finally {
    acquireDuration.observe((performance.now() - waitStart) / 1000);
  }
  let row;
  try {
    const current = fault;
    if (current?.fault === 'slow-queries' && Math.random() < Number(current.slowQueryRatio ?? 0)) {
      await client.query('select pg_sleep($1)', [Number(current.slowQueryMs ?? 0) / 1000]);
    }
    row = (await client.query(QUERY, [1 + Math.floor(Math.random() * 980)])).rows[0];
    client.release();
  } catch (error) {
    client.release(error);
    throw new HttpError(500, `query failed: ${error.message}`);
  }
  await sleep(WORK_MS * (0.5 + Math.random()) + release.extraLatencyMs);
  if (release.errorRate > 0 && Math.random() < release.errorRate) {
    // The bug of a bad build: what its stack trace would say.
    throw new HttpError(500, `TypeError: Cannot read properties of undefined (reading 'currency') at priceCart (${SERVICE} ${VERSION})`);
  }
  return { service: SERVICE, instance: INSTANCE, version: VERSION, items: row.items, total: row.total };
}

let served = 0;
let failed = 0;

async function handle(request, response) {
  const path = (request.url ?? '/').split('?')[0];
  if (path === '/metrics') {
    const text = await registry.metrics();
    response.writeHead(200, { 'content-type': registry.contentType });
    response.end(text);
    return;
  }
  if (path === '/healthz') {
    send(response, 200, { status: 'ok', service: SERVICE, instance: INSTANCE, version: VERSION, poolMax: pools.max });
    return;
  }
  const started = performance.now();
  let status = 200;
  let body;
  try {
    body = await limiter.run(work);
  } catch (error) {
    status = error instanceof HttpError ? error.status : 500;
    body = { error: error.message, service: SERVICE, version: VERSION };
    if (!(error instanceof HttpError)) log('error', `unexpected failure: ${error.stack ?? error.message}`);
  }
  const seconds = (performance.now() - started) / 1000;
  requestsTotal.inc({ code: String(status) });
  requestDuration.observe(seconds);
  served += 1;
  if (status >= 500) {
    failed += 1;
    log('error', `${request.method} ${path} failed with ${status}: ${body.error}`, { status, durationMs: Math.round(seconds * 1000) });
  } else if (seconds > 1) {
    log('warn', `${request.method} ${path} took ${Math.round(seconds * 1000)} ms`, { status, durationMs: Math.round(seconds * 1000) });
  }
  send(response, status, body);
}

function send(response, status, body) {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

setInterval(() => {
  if (served > 0) log('info', `served ${served} requests in the last 10 s, ${failed} failed`, { served, failed });
  served = 0;
  failed = 0;
}, 10_000).unref();

// ---- Start-up and shut-down -----------------------------------------------------------------------

/** Waits until the database answers and holds the estate's table (the estate creates it at start-up). */
async function waitForDatabase() {
  let lastLog = 0;
  for (;;) {
    const client = new pg.Client({ connectionString: DATABASE_URL, application_name: SERVICE, connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('select 1 from items limit 1');
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() - lastLog > 5000) {
        log('info', `waiting for the database: ${error.message}`);
        lastLog = Date.now();
      }
    }
    await sleep(250);
  }
}

const server = createServer((request, response) => {
  handle(request, response).catch((error) => {
    log('error', `handler failed: ${error.stack ?? error.message}`);
    if (!response.headersSent) send(response, 500, { error: 'internal error' });
  });
});

let stopping = false;
function shutdown(why) {
  if (stopping) return;
  stopping = true;
  log('info', `stopping (${why})`);
  server.close();
  server.closeIdleConnections();
  setTimeout(() => server.closeAllConnections(), 500).unref();
  Promise.allSettled(pools.all().filter((pool) => pool !== undefined).map((pool) => pool.end()))
    .finally(() => process.exit(0));
  // Requests still waiting for a slow query are cut off: a restart must not wait for them.
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
// Orphaned (supervisord went away without stopping it): end rather than hold the port.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown('supervisord is gone');
}, 1000).unref();

log('info', `starting ${INSTANCE} (${SERVICE} ${VERSION}) on 127.0.0.1:${PORT}: concurrency ${CONCURRENCY}, capacity ${CAPACITY_RPS} requests/s`, { errorRate: release.errorRate, extraLatencyMs: release.extraLatencyMs });
await readPoolFile();
if (pools.current === undefined) setPoolSize(4, 'no pool settings file');
await readFaultFile();
setInterval(() => void readPoolFile(), POLL_MS).unref();
setInterval(() => void readFaultFile(), POLL_MS).unref();
await waitForDatabase();
server.listen(PORT, '127.0.0.1', () => log('info', `ready on 127.0.0.1:${PORT}, database pool of ${pools.max}`, { poolMax: pools.max }));
