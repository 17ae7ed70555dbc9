/**
 * An alert storm, shared by the storm test (`test/signals/storm.e2e.test.ts`) and the ingest
 * benchmark (`bench/ingest.bench.ts`): distinct Alertmanager alerts in webhook v4 notifications,
 * sent at a fixed concurrency by a client that sends a 429 or a 5xx again after its `Retry-After`
 * (a sender that honours it; Alertmanager's webhook notifier retries 5xx and connection errors with
 * its own back-off, but not 429: prometheus/alertmanager#2121), the memory of the server sampled
 * meanwhile, and the check that every alert of a request answered 2xx was stored exactly once.
 */
import { Agent, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { labelsFingerprint } from '../../src/core/signals/fingerprint.js';
import { processMemory, type ProcessMemory } from './processes.js';

/** What {@link buildStorm} makes. */
export interface StormOptions {
  /** Alerts in all, each with a label set of its own (so a fingerprint of its own). */
  readonly alerts: number;
  /** Alerts per notification (Alertmanager's `max_alerts`); the last one may carry fewer. */
  readonly perRequest: number;
  /** Distinct `service` label values; with the alert names they make the incident groups. */
  readonly services: number;
  /** Alert names, e.g. `['TargetDown', 'HighErrorRate']`. */
  readonly alertnames: readonly string[];
}

/** One webhook notification of the storm: its body and the fingerprints of its alerts. */
export interface StormRequest {
  readonly body: Buffer;
  readonly fingerprints: readonly string[];
}

/** The notifications of a storm, in the order they are sent. */
export interface Storm {
  readonly requests: readonly StormRequest[];
  /** Alerts in all requests. */
  readonly alerts: number;
  /** (alert name, service) groups the alerts fall into: the incidents Interlock opens. */
  readonly groups: number;
}

/** Go's zero time: Alertmanager's `endsAt` of a firing alert with no end. */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * Builds the storm as Alertmanager would send it with `group_by: [alertname, service]`: each
 * notification carries up to `perRequest` firing alerts of one group, each alert a distinct instance
 * with Alertmanager's label-set fingerprint. Groups take turns (notification k is of group
 * k mod groups), so every incident opens early and grows through the storm. Deterministic.
 * @throws Error when two alerts share a fingerprint (64-bit FNV-1a collision; then change the sizes).
 */
export function buildStorm(options: StormOptions): Storm {
  const { alerts, perRequest, services, alertnames } = options;
  const groups = services * alertnames.length;
  const startsAt = new Date(Date.UTC(2026, 10, 21, 9, 0, 0)).toISOString();
  const requests: StormRequest[] = [];
  const seen = new Set<string>();
  let made = 0;
  for (let k = 0; made < alerts; k++) {
    const group = k % groups;
    const alertname = alertnames[group % alertnames.length]!;
    const service = `svc-${String(Math.floor(group / alertnames.length)).padStart(3, '0')}`;
    const count = Math.min(perRequest, alerts - made);
    const items = Array.from({ length: count }, () => {
      const n = made++;
      const labels = {
        alertname, service, severity: 'critical', namespace: 'prod',
        instance: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}:9100`, pod: `${service}-${n.toString(36).padStart(6, '0')}`,
      };
      const fingerprint = labelsFingerprint(labels);
      if (seen.has(fingerprint)) throw new Error(`alerts ${n} and an earlier one share fingerprint ${fingerprint}`);
      seen.add(fingerprint);
      return {
        status: 'firing', labels,
        annotations: { summary: `${alertname} on ${labels.instance}`, description: `${service} instance ${labels.instance} has fired ${alertname} since ${startsAt}.` },
        startsAt, endsAt: GO_ZERO_TIME, generatorURL: `http://prometheus.example:9090/graph?g0.expr=up%7Bservice%3D%22${service}%22%7D`, fingerprint,
      };
    });
    const groupLabels = { alertname, service };
    const body = {
      version: '4', groupKey: `{}:{alertname="${alertname}", service="${service}"}`, truncatedAlerts: 0, status: 'firing', receiver: 'interlock',
      groupLabels, commonLabels: { ...groupLabels, severity: 'critical', namespace: 'prod' }, commonAnnotations: {}, externalURL: 'http://alertmanager.example:9093', alerts: items,
    };
    requests.push({ body: Buffer.from(JSON.stringify(body)), fingerprints: items.map((item) => item.fingerprint) });
  }
  return { requests, alerts: made, groups: Math.min(groups, requests.length) };
}

/** How {@link runStorm} sends. */
export interface StormClientOptions {
  /** `POST` target, e.g. `http://127.0.0.1:7411/v1/signals/alertmanager`. */
  readonly url: string;
  /** API token sent as `Authorization: Bearer`, or none. */
  readonly token?: string;
  /** Requests in flight at once (sockets of the keep-alive agent). */
  readonly concurrency: number;
  /** Attempts per request before giving up on a 429, a 5xx or a connection error (the last status is then final). */
  readonly maxAttempts: number;
  /** An attempt without an answer this long fails the request (no retry: it may have been stored), ms. */
  readonly timeoutMs: number;
}

/** What became of one request. Times in ms. */
export interface RequestResult {
  /** The final answer's status; 0 when there was none (connection error, timeout). */
  readonly status: number;
  readonly attempts: number;
  /** Duration of the final attempt: sent to answered. */
  readonly latencyMs: number;
  /** First attempt sent to final answer, the waits for `Retry-After` included. */
  readonly elapsedMs: number;
  /** `accepted` of a 2xx answer's JSON (signals stored), else null. */
  readonly accepted: number | null;
  /** The body of a final answer that is neither 2xx nor a retried status, for the error message. */
  readonly error?: string;
}

/** The storm as the client saw it. */
export interface StormRun {
  /** One per request, in the order of `storm.requests`. */
  readonly results: readonly RequestResult[];
  /** First request sent to last answer, ms. */
  readonly wallMs: number;
  /** Busy answers received (429 INTAKE_BUSY or 503 INTAKE_OVERLOADED; every attempt counted). */
  readonly busyAnswers: number;
  /** Busy answers without a `Retry-After` header. */
  readonly busyWithoutRetryAfter: number;
  /** `Retry-After` values seen on busy answers. */
  readonly retryAfterValues: readonly string[];
  /** 5xx answers received (every attempt counted). */
  readonly serverErrors: number;
  /** Attempts that ended without an answer (connection reset before a response) and were retried. */
  readonly connectionErrors: number;
}

interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly text: string;
}

function post(url: URL, agent: Agent, body: Buffer, token: string | undefined, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'STORM_TIMEOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

/** `Retry-After` in ms (delay-seconds form); 1 s when absent or not a number. */
function retryDelayMs(retryAfter: string | undefined): number {
  const seconds = Number(retryAfter);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 1000;
}

/**
 * Sends every request of `storm` with `options.concurrency` in flight, each to the end: a 429 or a
 * 5xx is sent again after its `Retry-After` (1 s when absent), a connection reset after 1 s, up to
 * `maxAttempts`. A timeout is final (the request may have been stored; sending it again could
 * store it twice). Never throws for an answer; the caller judges the results.
 */
export async function runStorm(storm: Storm, options: StormClientOptions): Promise<StormRun> {
  const url = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const results: RequestResult[] = new Array<RequestResult>(storm.requests.length);
  const retryAfterValues = new Set<string>();
  let busyAnswers = 0;
  let busyWithoutRetryAfter = 0;
  let serverErrors = 0;
  let connectionErrors = 0;
  let next = 0;
  const send = async (request: StormRequest): Promise<RequestResult> => {
    const first = performance.now();
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let answer: Answer;
      try {
        answer = await post(url, agent, request.body, options.token, options.timeoutMs);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const ended = performance.now();
        if (code === 'STORM_TIMEOUT' || attempt >= options.maxAttempts) {
          return { status: 0, attempts: attempt, latencyMs: ended - started, elapsedMs: ended - first, accepted: null, error: error instanceof Error ? error.message : String(error) };
        }
        connectionErrors += 1;
        await sleep(1000);
        continue;
      }
      const ended = performance.now();
      const retried = answer.status === 429 || answer.status >= 500;
      // Busy: 429 INTAKE_BUSY, or 503 INTAKE_OVERLOADED for an Alertmanager source (which retries only 5xx).
      const busy = answer.status === 429 || (answer.status === 503 && answer.text.includes('"INTAKE_OVERLOADED"'));
      if (busy) {
        busyAnswers += 1;
        if (answer.retryAfter === undefined) busyWithoutRetryAfter += 1;
        else retryAfterValues.add(answer.retryAfter);
      } else if (answer.status >= 500) serverErrors += 1;
      if (!retried || attempt >= options.maxAttempts) {
        const ok = answer.status >= 200 && answer.status < 300;
        const accepted = ok ? ((JSON.parse(answer.text) as { accepted?: unknown }).accepted ?? null) : null;
        return {
          status: answer.status, attempts: attempt, latencyMs: ended - started, elapsedMs: ended - first,
          accepted: typeof accepted === 'number' ? accepted : null, ...(ok ? {} : { error: answer.text.slice(0, 500) }),
        };
      }
      await sleep(retryDelayMs(answer.retryAfter));
    }
  };
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, storm.requests.length) }, async () => {
      while (next < storm.requests.length) {
        const i = next++;
        results[i] = await send(storm.requests[i]!);
      }
    }));
  } finally {
    agent.destroy();
  }
  return { results, wallMs: performance.now() - started, busyAnswers, busyWithoutRetryAfter, retryAfterValues: [...retryAfterValues], serverErrors, connectionErrors };
}

/** The memory of a process over an interval, KiB. */
export interface MemoryTrace {
  /** Reads of /proc/<pid>/status taken. */
  readonly samples: number;
  /** Largest `VmRSS` sampled. */
  readonly peakSampledRssKiB: number;
  /** `VmRSS` at the end. */
  readonly endRssKiB: number;
  /** `VmHWM` at the end: the largest RSS the kernel saw since the process started. */
  readonly highWaterMarkKiB: number;
  /** Every `VmRSS` sampled, in order (one each interval). */
  readonly seriesKiB: readonly number[];
}

/**
 * Samples the RSS of process `pid` every `intervalMs` until the returned `stop` is called, which
 * takes a last sample with `VmHWM`. @throws Error from `stop` when /proc/<pid>/status cannot be read.
 */
export function traceMemory(pid: number, intervalMs: number): { stop(): Promise<MemoryTrace> } {
  const series: number[] = [];
  let failure: unknown;
  const sample = async (): Promise<ProcessMemory> => {
    const memory = await processMemory(pid);
    series.push(memory.rssKiB);
    return memory;
  };
  const timer = setInterval(() => {
    sample().catch((error: unknown) => {
      failure ??= error;
    });
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      if (failure !== undefined) throw new Error(`could not sample the memory of process ${pid}`, { cause: failure });
      const last = await sample();
      return { samples: series.length, peakSampledRssKiB: Math.max(...series), endRssKiB: last.rssKiB, highWaterMarkKiB: last.peakRssKiB, seriesKiB: series };
    },
  };
}

/** What the database holds of a storm's alerts. */
export interface StoredCheck {
  /** Alerts in the requests answered 2xx: what must be stored. */
  readonly expectedAlerts: number;
  /** Rows in the table. */
  readonly rows: number;
  /** Fingerprints stored more than once. */
  readonly duplicated: number;
  /** Fingerprints of 2xx requests not stored. */
  readonly missing: number;
  /** Fingerprints stored that no 2xx request carried (a request refused but stored anyway). */
  readonly unexpected: number;
}

/**
 * Compares the `fingerprint` column of `table` with the alerts of the requests of `storm` answered
 * 2xx in `run`: exactly once means `rows == expectedAlerts` and nothing duplicated, missing or
 * unexpected.
 */
export async function checkStored(pool: pg.Pool, table: string, storm: Storm, run: StormRun): Promise<StoredCheck> {
  const expected = new Set<string>();
  let expectedAlerts = 0;
  run.results.forEach((result, i) => {
    if (result.status < 200 || result.status >= 300) return;
    const { fingerprints } = storm.requests[i]!;
    expectedAlerts += fingerprints.length;
    for (const fingerprint of fingerprints) expected.add(fingerprint);
  });
  const { rows } = await pool.query<{ fingerprint: string; n: number }>(`select fingerprint, count(*)::int as n from ${table} group by fingerprint`);
  let stored = 0;
  let duplicated = 0;
  let unexpected = 0;
  for (const row of rows) {
    stored += row.n;
    if (row.n > 1) duplicated += 1;
    if (!expected.has(row.fingerprint)) unexpected += 1;
  }
  const present = new Set(rows.map((row) => row.fingerprint));
  const missing = [...expected].filter((fingerprint) => !present.has(fingerprint)).length;
  return { expectedAlerts, rows: stored, duplicated, missing, unexpected };
}

/** Requests of `run` answered 2xx. */
export function acceptedRequests(run: StormRun): number {
  return run.results.filter((result) => result.status >= 200 && result.status < 300).length;
}
