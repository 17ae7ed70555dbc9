// MCP through Interlock's gate (issue #7): `tools/call` of a read tool of an external MCP server
// (@modelcontextprotocol/server-everything's `echo`, over stdio) through Interlock's /mcp (a one-step
// mission: validation, review, durable execution, audit, then the gateway's call) against calling the
// same server directly with the same SDK client, in the same run; and calls per second through the
// gate with several clients at once. A read tool inside Interlock (`builtin.noop`) separates the
// gate's own cost from the gateway's.
import { createRequire } from 'node:module';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { loadConfig } from '../src/config/index.js';
import { openDatabase, startInterlock } from '../src/server/main.js';
import { createTestDatabase } from '../test/support/postgres.js';
import type { Benchmark, BenchmarkReport, Progress } from './support/benchmark.js';
import { formatNumber, markdownTable } from './support/report.js';
import { round, summarize, type Summary } from './support/stats.js';

const require = createRequire(import.meta.url);
const EVERYTHING = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist/index.js');

/** What this benchmark runs; recorded in the results file. */
const PARAMETERS = {
  /** Calls made one after another, per path, after the warm-up; latency is per call. */
  sequentialCalls: 200,
  /** Calls before measuring, per path (connections, JIT, caches). */
  warmUpCalls: 20,
  /** Clients calling at once for the throughput figure. */
  concurrentClients: 8,
  /** Calls per client in the throughput run. */
  callsPerClient: 50,
  /** Missions a worker runs at once (engine.concurrency). */
  engineConcurrency: 20,
} as const;

/** Milliseconds of `calls` calls of `call`, one after another. */
async function sequential(calls: number, call: () => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
  }
  return times;
}

/** Calls per second of `clients` clients each making `perClient` calls at once. */
async function throughput(clients: readonly Client[], perClient: number, call: (client: Client, i: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  await Promise.all(clients.map(async (client) => {
    for (let i = 0; i < perClient; i++) await call(client, i);
  }));
  return (clients.length * perClient) / ((performance.now() - started) / 1000);
}

function check(result: unknown, expected: string): void {
  const text = JSON.stringify(result);
  if (!text.includes(expected) || (result as { isError?: boolean }).isError === true) throw new Error(`unexpected result: ${text.slice(0, 300)}`);
}

interface McpFigures {
  readonly directMs: Summary;
  readonly gateExternalMs: Summary;
  readonly gateInternalMs: Summary;
  readonly directCallsPerSecond: number;
  readonly gateExternalCallsPerSecond: number;
}

async function measure(progress: Progress): Promise<McpFigures> {
  const database = await createTestDatabase('bench_mcp');
  const dir = await mkdtemp(join(tmpdir(), 'interlock-bench-mcp-'));
  await chmod(dir, 0o755);
  const clients: Client[] = [];
  try {
    await writeFile(join(dir, 'interlock.yaml'), [
      `engine: { concurrency: ${PARAMETERS.engineConcurrency} }`,
      'mcp:',
      '  server:',
      '    rateLimit: { capacity: 100000, refillPerSecond: 100000 }',
      '  servers:',
      '    - name: everything',
      '      transport: stdio',
      `      command: ${JSON.stringify(process.execPath)}`,
      `      args: [${JSON.stringify(EVERYTHING)}, stdio]`,
      '      tools: { echo: { risk: read } }',
      '',
    ].join('\n'));
    const config = loadConfig({
      env: { DATABASE_URL: database.url, INTERLOCK_PORT: '0', INTERLOCK_WORKER_ID: 'bench-mcp-1', INTERLOCK_LOG_LEVEL: 'warn', INTERLOCK_CONFIG: join(dir, 'interlock.yaml') },
      cwd: dir,
    });
    // Errors only: dropping the database at the end ends idle pool connections, which pg reports.
    const logger = pino({ level: 'error' });
    const open = await openDatabase(config, logger);
    const running = await startInterlock({ config, database: open, logger });
    try {
      const principal = await running.identity.createPrincipal({ name: 'bench-agent', kind: 'agent', groups: [], roles: { default: ['operator'] } }, Date.now());
      const { secret } = await running.identity.createToken({ principal: principal.name, expiresAt: null }, Date.now());
      const gateClient = async (): Promise<Client> => {
        const client = new Client({ name: 'bench', version: '1' });
        await client.connect(new StreamableHTTPClientTransport(new URL(`${running.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${secret}` } } }));
        clients.push(client);
        return client;
      };
      const directClient = async (): Promise<Client> => {
        const client = new Client({ name: 'bench', version: '1' });
        await client.connect(new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, 'stdio'], stderr: 'ignore' }));
        clients.push(client);
        return client;
      };
      const direct = await directClient();
      const gate = await gateClient();
      const directCall = async (client: Client, i: number): Promise<void> => check(await client.callTool({ name: 'echo', arguments: { message: `m${i}` } }), `m${i}`);
      const gateCall = async (client: Client, i: number): Promise<void> => check(await client.callTool({ name: 'everything.echo', arguments: { message: `m${i}` } }), `m${i}`);
      const internalCall = async (client: Client): Promise<void> => check(await client.callTool({ name: 'builtin.noop', arguments: {} }), 'missionId');

      progress(`warm-up: ${PARAMETERS.warmUpCalls} calls per path`);
      await sequential(PARAMETERS.warmUpCalls, () => directCall(direct, 0));
      await sequential(PARAMETERS.warmUpCalls, () => gateCall(gate, 0));
      await sequential(PARAMETERS.warmUpCalls, () => internalCall(gate));
      progress(`${PARAMETERS.sequentialCalls} sequential calls: direct, through the gate (external), through the gate (builtin.noop)`);
      let n = 0;
      const directMs = await sequential(PARAMETERS.sequentialCalls, () => directCall(direct, n++));
      const gateExternalMs = await sequential(PARAMETERS.sequentialCalls, () => gateCall(gate, n++));
      const gateInternalMs = await sequential(PARAMETERS.sequentialCalls, () => internalCall(gate));

      progress(`throughput: ${PARAMETERS.concurrentClients} clients × ${PARAMETERS.callsPerClient} calls, direct then through the gate`);
      const directClients = await Promise.all(Array.from({ length: PARAMETERS.concurrentClients }, () => directClient()));
      const gateClients = await Promise.all(Array.from({ length: PARAMETERS.concurrentClients }, () => gateClient()));
      const directCallsPerSecond = await throughput(directClients, PARAMETERS.callsPerClient, directCall);
      const gateExternalCallsPerSecond = await throughput(gateClients, PARAMETERS.callsPerClient, gateCall);
      return {
        directMs: summarize(directMs), gateExternalMs: summarize(gateExternalMs), gateInternalMs: summarize(gateInternalMs),
        directCallsPerSecond: round(directCallsPerSecond, 1), gateExternalCallsPerSecond: round(gateExternalCallsPerSecond, 1),
      };
    } finally {
      for (const client of clients) await client.close().catch(() => undefined);
      await running.stop();
      await open.close();
    }
  } finally {
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

function markdownOf(figures: McpFigures, ratios: Record<string, number>): string {
  const ms = (value: number): string => formatNumber(value, 2);
  const table = markdownTable(['path', 'p50 (ms)', 'p99 (ms)', 'ratio of p50 to direct'], [
    ['direct: SDK client → server-everything `echo` (stdio)', ms(figures.directMs.p50), ms(figures.directMs.p99), '1×'],
    ['through the gate: SDK client → Interlock `/mcp` → one-step mission → gateway → the same `echo`', ms(figures.gateExternalMs.p50), ms(figures.gateExternalMs.p99), `${formatNumber(ratios.gateExternalOverDirectP50 ?? Number.NaN, 1)}×`],
    ['through the gate, a read tool inside Interlock (`builtin.noop`)', ms(figures.gateInternalMs.p50), ms(figures.gateInternalMs.p99), `${formatNumber(ratios.gateInternalOverDirectP50 ?? Number.NaN, 1)}×`],
  ]);
  const rate = markdownTable(['path', 'calls/s', 'ratio'], [
    [`direct, ${PARAMETERS.concurrentClients} clients (one server process each)`, formatNumber(figures.directCallsPerSecond, 0), '1×'],
    [`through the gate, ${PARAMETERS.concurrentClients} clients (one gateway connection)`, formatNumber(figures.gateExternalCallsPerSecond, 0), `${formatNumber(ratios.gateOverDirectCallsPerSecond ?? Number.NaN, 3)}×`],
  ]);
  return [
    `\`tools/call\` of a read tool, ${PARAMETERS.sequentialCalls} sequential calls per path after ${PARAMETERS.warmUpCalls} warm-up calls, one process (Interlock in-process on the machine's PostgreSQL, engine concurrency ${PARAMETERS.engineConcurrency}). Each call through the gate is a durable one-step mission: the request and every stage on the audit log, the review round, the step checkpointed by DBOS (whose queue is polled every 100 ms), the call, and the result read back by the waiting request.`,
    '',
    table,
    '',
    `Throughput: ${PARAMETERS.concurrentClients} clients × ${PARAMETERS.callsPerClient} calls at once.`,
    '',
    rate,
  ].join('\n');
}

/** `npm run bench -- mcp`. */
export const benchmark: Benchmark = {
  name: 'mcp',
  async run(progress): Promise<BenchmarkReport> {
    const figures = await measure(progress);
    const ratios = {
      gateExternalOverDirectP50: round(figures.gateExternalMs.p50 / figures.directMs.p50, 1),
      gateInternalOverDirectP50: round(figures.gateInternalMs.p50 / figures.directMs.p50, 1),
      gateOverDirectCallsPerSecond: round(figures.gateExternalCallsPerSecond / figures.directCallsPerSecond, 3),
    };
    return { parameters: { ...PARAMETERS }, figures, ratios, markdown: markdownOf(figures, ratios) };
  },
};
