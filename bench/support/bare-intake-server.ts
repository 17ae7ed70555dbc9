// The ingest benchmark's baseline (bench/ingest.bench.ts): a bare Fastify endpoint that parses an
// Alertmanager webhook body with Fastify's JSON parser and stores each alert as a row of a plain
// table with the columns of `interlock.signals`, one transaction per request, and answers 202. No
// authentication, no validation, no request log, no grouping, no audit entry, no limit on requests
// in flight. Self-contained (fastify, pg and node: only): `bare-intake.ts` transpiles it to plain
// JavaScript and runs it with node, as `interlock serve` runs compiled JavaScript.
// Environment: DATABASE_URL, BARE_POOL_SIZE, BARE_BODY_LIMIT_BYTES. Prints {"url":...} once serving.
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';

interface Alert {
  readonly status?: string;
  readonly labels: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt?: string;
  readonly generatorURL?: string;
  readonly fingerprint: string;
}

/** Columns of each row, in order (those of `interlock.signals` but its `seq`, left to its default). */
const COLUMNS = ['id', 'intake_id', 'source', 'kind', 'fingerprint', 'status', 'name', 'labels', 'annotations', 'starts_at', 'ends_at', 'generator_url', 'received_at', 'incident_id', 'events'];

/** The table: the columns and types of `interlock.signals` (migration 0006), its primary key and `seq`, no other index or reference. */
const CREATE_TABLE = `create table if not exists bare_signals (
  id uuid primary key, seq bigserial not null unique, intake_id uuid not null, source text not null, kind text not null,
  fingerprint text not null, status text not null, name text not null, labels jsonb not null, annotations jsonb not null,
  starts_at timestamptz not null, ends_at timestamptz, generator_url text, received_at timestamptz not null,
  incident_id uuid, events text[] not null)`;

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.BARE_POOL_SIZE ?? 10) });
await pool.query(CREATE_TABLE);

const app = Fastify({ logger: false, bodyLimit: Number(process.env.BARE_BODY_LIMIT_BYTES ?? 1_048_576) });
app.post<{ Params: { source: string }; Body: { status: string; alerts: Alert[] } }>('/v1/signals/:source', async (request, reply) => {
  const { alerts, status } = request.body;
  const intakeId = randomUUID();
  const receivedAt = new Date();
  const values: unknown[] = [];
  const tuples = alerts.map((alert, i) => {
    values.push(
      randomUUID(), intakeId, request.params.source, 'alertmanager', alert.fingerprint, alert.status ?? status, alert.labels.alertname,
      JSON.stringify(alert.labels), JSON.stringify(alert.annotations ?? {}), new Date(alert.startsAt),
      alert.endsAt === undefined || alert.endsAt.startsWith('0001-') ? null : new Date(alert.endsAt), alert.generatorURL ?? null, receivedAt, null, [],
    );
    return `(${COLUMNS.map((_, c) => `$${i * COLUMNS.length + c + 1}`).join(', ')})`;
  });
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(`insert into bare_signals (${COLUMNS.join(', ')}) values ${tuples.join(', ')}`, values);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  return reply.code(202).send({ intakeId, accepted: alerts.length });
});

const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ url })}\n`);

const stop = async (): Promise<void> => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
