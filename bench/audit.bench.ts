// The audit log (issue #4): appends per second with a durable commit against plain durable inserts of
// the same rows in the same run (one at a time, concurrent, and in batches); `verify` of 1,000,000
// entries against reading the same rows; inclusion and consistency proof latency at that size
// against a single-row read by primary key; and an incremental checkpoint.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { encodeEntry, generateSigner, leafHash, parseSignerKey, verifyInclusion, type AuditEntry } from '../src/core/audit/index.js';
import { createDatabase, migrateToLatest, PgAuditLog, type DatabaseHandle } from '../src/store/index.js';
import type { Database } from '../src/store/schema.js';
import { createTestDatabase } from '../test/support/postgres.js';
import type { Benchmark, BenchmarkReport, Progress } from './support/benchmark.js';
import { formatNumber, markdownTable } from './support/report.js';
import { round, summarize, type Summary } from './support/stats.js';

const PARAMETERS = {
  /** Appends (and plain inserts) of one entry each, one transaction each, one after the other. */
  sequentialAppends: 2000,
  /** The same with this many connections appending at once. */
  concurrency: 8,
  concurrentAppends: 4000,
  /** Entries per append for the batch figure, and how many batches. */
  batchSize: 100,
  batches: 100,
  /** Size of the log `verify` and the proofs run against. */
  verifyEntries: 1_000_000,
  /** Entries per append while building it. */
  fillBatch: 5000,
  proofs: 300,
} as const;

const ORIGIN = 'bench/audit';
const signer = parseSignerKey(generateSigner(ORIGIN).signerKey);
const MISSION = randomUUID();

/** A realistic entry: a tool call with arguments, about 330 bytes encoded. */
function entry(i: number): AuditEntry {
  return {
    schemaVersion: 1,
    kind: 'tool.called',
    actor: 'interlock-engine',
    missionId: MISSION,
    at: 1_795_000_000_000 + i,
    data: { stepId: `s${(i % 5) + 1}`, phase: 'plan', tool: 'pgbouncer.set_pool_size', risk: 'write-low', args: { pool: `checkout-${i % 17}`, size: 20 + (i % 40), reason: 'connection pool exhausted: active/max 0.98 for 5 min' }, idempotencyKey: `${MISSION}:s${(i % 5) + 1}`, attempt: 1 },
  };
}

/** The plain table of the baseline: the same columns as `audit_entries`, without the log's work. */
async function createPlainTable(db: Kysely<Database>): Promise<void> {
  await sql`create table bench_plain (idx bigserial primary key, kind text not null, mission_id uuid, actor text not null, at timestamptz not null, entry bytea not null, leaf_hash bytea not null, chain_hash bytea not null, tool text)`.execute(db);
}

/** The row the baseline inserts for `e`: what the log stores, hashed by the caller beforehand is not needed. */
function plainRow(e: AuditEntry) {
  const bytes = encodeEntry(e);
  const leaf = leafHash(bytes);
  return { kind: e.kind, mission_id: e.missionId, actor: e.actor, at: new Date(e.at), entry: Buffer.from(bytes), leaf_hash: Buffer.from(leaf), chain_hash: Buffer.from(leaf), tool: 'pgbouncer.set_pool_size' };
}

async function plainInsert(db: Kysely<Database>, entries: readonly AuditEntry[]): Promise<void> {
  await (db as unknown as Kysely<{ bench_plain: ReturnType<typeof plainRow> }>).insertInto('bench_plain').values(entries.map(plainRow)).execute();
}

interface Rate {
  readonly count: number;
  readonly perSecond: number;
  readonly latencyMs: Summary;
}

/** Runs `count` calls of `task` on `workers` parallel loops; each call times itself. */
async function rate(count: number, workers: number, task: (i: number) => Promise<unknown>): Promise<Rate> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => {
    for (let i = next++; i < count; i = next++) {
      const t = performance.now();
      await task(i);
      latencies.push(performance.now() - t);
    }
  }));
  const elapsed = performance.now() - started;
  return { count, perSecond: round(count / (elapsed / 1000), 1), latencyMs: summarize(latencies) };
}

async function timed<T>(task: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await task();
  return { ms: round(performance.now() - started, 1), value };
}

async function measure(progress: Progress): Promise<BenchmarkReport> {
  const database = await createTestDatabase('bench_audit');
  let handle: DatabaseHandle | undefined;
  try {
    handle = createDatabase({ url: database.url, poolSize: PARAMETERS.concurrency + 2 });
    const db = handle.db;
    await migrateToLatest(db);
    await createPlainTable(db);
    const log = new PgAuditLog(db);
    let offset = 0;
    const take = (count: number) => {
      const from = offset;
      offset += count;
      return Array.from({ length: count }, (_, k) => entry(from + k));
    };

    // Warm both paths (connections, plans).
    for (let i = 0; i < 50; i++) {
      await log.append(take(1));
      await plainInsert(db, take(1));
    }

    progress(`appends: ${PARAMETERS.sequentialAppends} one at a time, each a committed transaction`);
    const seqPlain = await rate(PARAMETERS.sequentialAppends, 1, () => plainInsert(db, take(1)));
    const seqLog = await rate(PARAMETERS.sequentialAppends, 1, () => log.append(take(1)));
    progress(`sequential: log ${seqLog.perSecond}/s, plain ${seqPlain.perSecond}/s`);
    const conPlain = await rate(PARAMETERS.concurrentAppends, PARAMETERS.concurrency, () => plainInsert(db, take(1)));
    const conLog = await rate(PARAMETERS.concurrentAppends, PARAMETERS.concurrency, () => log.append(take(1)));
    progress(`${PARAMETERS.concurrency} at once: log ${conLog.perSecond}/s, plain ${conPlain.perSecond}/s`);
    const batchPlain = await rate(PARAMETERS.batches, 1, () => plainInsert(db, take(PARAMETERS.batchSize)));
    const batchLog = await rate(PARAMETERS.batches, 1, () => log.append(take(PARAMETERS.batchSize)));
    const batchPlainEntries = round(batchPlain.perSecond * PARAMETERS.batchSize, 0);
    const batchLogEntries = round(batchLog.perSecond * PARAMETERS.batchSize, 0);
    progress(`batches of ${PARAMETERS.batchSize}: log ${batchLogEntries} entries/s, plain ${batchPlainEntries} entries/s`);

    progress(`filling the log to ${formatNumber(PARAMETERS.verifyEntries, 0)} entries`);
    const firstCheckpoint = await timed(() => log.checkpoint(signer, ORIGIN));
    for (let size = await log.size(); size < PARAMETERS.verifyEntries; size = await log.size()) {
      await log.append(take(Math.min(PARAMETERS.fillBatch, PARAMETERS.verifyEntries - size)));
      if (size % 100_000 < PARAMETERS.fillBatch) progress(`  ${formatNumber(size, 0)} entries`);
    }
    await sql`vacuum analyze interlock.audit_entries`.execute(db);
    const bigCheckpoint = await timed(() => log.checkpoint(signer, ORIGIN));
    progress(`incremental checkpoint over ${formatNumber(bigCheckpoint.value.size - firstCheckpoint.value.size, 0)} new entries: ${bigCheckpoint.ms} ms`);

    // verify vs reading the same rows in the same batches.
    const read = await timed(async () => {
      let after = -1;
      let rows = 0;
      for (;;) {
        const batch = await db.selectFrom('interlock.audit_entries').select(['idx', 'kind', 'actor', 'mission_id', 'at', 'entry', 'leaf_hash', 'chain_hash', 'tool']).where('idx', '>', after).orderBy('idx').limit(10_000).execute();
        if (batch.length === 0) return rows;
        rows += batch.length;
        after = batch[batch.length - 1]!.idx;
      }
    });
    progress(`read ${formatNumber(read.value, 0)} rows: ${read.ms} ms`);
    const verified = await timed(() => log.verify(signer.verifierKey));
    if (!verified.value.ok) throw new Error(`verify failed: ${JSON.stringify(verified.value)}`);
    progress(`verify ${formatNumber(verified.value.size, 0)} entries: ${verified.ms} ms`);

    // A small incremental checkpoint on the big log.
    await log.append(take(1000));
    const smallCheckpoint = await timed(() => log.checkpoint(signer, ORIGIN));
    progress(`incremental checkpoint of 1,000 new entries on ${formatNumber(smallCheckpoint.value.size, 0)}: ${smallCheckpoint.ms} ms`);

    // Proof latency vs a primary-key read of one row, at random indices.
    const size = smallCheckpoint.value.size;
    const indices = Array.from({ length: PARAMETERS.proofs }, (_, k) => Math.floor(((k * 7919) % PARAMETERS.proofs) / PARAMETERS.proofs * size));
    const pkRead = await rate(PARAMETERS.proofs, 1, (k) => db.selectFrom('interlock.audit_entries').select(['entry', 'leaf_hash']).where('idx', '=', indices[k]!).executeTakeFirstOrThrow());
    const inclusion = await rate(PARAMETERS.proofs, 1, async (k) => {
      const proof = await log.proof(indices[k]!);
      if (!verifyInclusion(proof.index, proof.size, proof.leafHash, proof.proof, smallCheckpoint.value.rootHash).ok) throw new Error('a proof did not verify');
    });
    const consistency = await rate(50, 1, () => log.consistencyProof(bigCheckpoint.value.size));
    progress(`inclusion proof p50 ${inclusion.latencyMs.p50} ms, consistency p50 ${consistency.latencyMs.p50} ms, pk read p50 ${pkRead.latencyMs.p50} ms`);
    const nodes = await db.selectFrom('interlock.audit_tree_nodes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const tableBytes = await sql<{ entries: number; nodes: number }>`select pg_total_relation_size('interlock.audit_entries')::bigint as entries, pg_total_relation_size('interlock.audit_tree_nodes')::bigint as nodes`.execute(db);

    const ratios = {
      sequentialAppend: round(seqPlain.perSecond / seqLog.perSecond),
      concurrentAppend: round(conPlain.perSecond / conLog.perSecond),
      batchAppend: round(batchPlainEntries / batchLogEntries),
      verifyOverRead: round(verified.ms / read.ms),
      inclusionProofOverRead: round(inclusion.latencyMs.p50 / pkRead.latencyMs.p50),
    };
    const figures = {
      sequential: { log: seqLog, plain: seqPlain },
      concurrent: { log: conLog, plain: conPlain },
      batch: { log: batchLog, plain: batchPlain, logEntriesPerSecond: batchLogEntries, plainEntriesPerSecond: batchPlainEntries },
      verifyMs: verified.ms,
      readMs: read.ms,
      verifiedEntries: verified.value.size,
      checkpointMs: { firstEmpty: firstCheckpoint.ms, incrementalFill: bigCheckpoint.ms, incremental1000: smallCheckpoint.ms },
      inclusionProof: inclusion,
      consistencyProof: consistency,
      primaryKeyRead: pkRead,
      treeNodes: Number(nodes.n),
      tableBytes: { entries: Number(tableBytes.rows[0]!.entries), nodes: Number(tableBytes.rows[0]!.nodes) },
    };
    const n = (value: number, digits = 0) => formatNumber(value, digits);
    const ms = (s: Summary) => `${formatNumber(s.p50, 2)} / ${formatNumber(s.p99, 2)}`;
    const markdown = [
      `Audit entries of a realistic size (a \`tool.called\` entry with arguments, ${encodeEntry(entry(0)).length} bytes of RFC 8785 JSON) appended to the log, against plain inserts of the same rows (same columns, bytes and hashes precomputed) into a table without the log's work, in the same run on the same database; every append and insert is its own committed transaction (\`synchronous_commit\` on). The log's extra work per append: an advisory lock that serialises appenders (one gap-free sequence across workers), reading the previous chain hash, the chain and leaf hashes, and the subtree nodes a batch completes. Ratios are plain over log (how many times faster the plain insert is).`,
      '',
      markdownTable(
        ['measure', 'audit log', 'plain insert', 'ratio'],
        [
          ['one at a time: appends/s (latency p50 / p99, ms)', `${n(seqLog.perSecond)} (${ms(seqLog.latencyMs)})`, `${n(seqPlain.perSecond)} (${ms(seqPlain.latencyMs)})`, `${formatNumber(ratios.sequentialAppend, 2)}×`],
          [`${PARAMETERS.concurrency} connections at once: appends/s`, `${n(conLog.perSecond)} (${ms(conLog.latencyMs)})`, `${n(conPlain.perSecond)} (${ms(conPlain.latencyMs)})`, `${formatNumber(ratios.concurrentAppend, 2)}×`],
          [`batches of ${PARAMETERS.batchSize}: entries/s`, n(batchLogEntries), n(batchPlainEntries), `${formatNumber(ratios.batchAppend, 2)}×`],
        ],
      ),
      '',
      `With the log at ${n(verified.value.size)} entries (${n(figures.tableBytes.entries / 1048576, 0)} MiB with indexes; ${n(figures.treeNodes)} stored subtree nodes, ${n(figures.tableBytes.nodes / 1048576, 1)} MiB):`,
      '',
      markdownTable(
        ['measure', 'audit log', 'baseline', 'ratio'],
        [
          [`\`verify\` of ${n(verified.value.size)} entries (s) vs reading the same rows`, formatNumber(verified.ms / 1000, 1), formatNumber(read.ms / 1000, 1), `${formatNumber(ratios.verifyOverRead, 2)}×`],
          ['inclusion proof, p50 / p99 (ms) vs one row by primary key', ms(inclusion.latencyMs), ms(pkRead.latencyMs), `${formatNumber(ratios.inclusionProofOverRead, 1)}×`],
          ['consistency proof, p50 / p99 (ms)', ms(consistency.latencyMs), '', ''],
          ['checkpoint of 1,000 new entries (ms)', formatNumber(smallCheckpoint.ms, 1), '', ''],
          [`checkpoint of ${n(bigCheckpoint.value.size - firstCheckpoint.value.size)} new entries (ms)`, formatNumber(bigCheckpoint.ms, 1), '', ''],
        ],
      ),
      '',
      `\`verify\` checks every row (leaf hash from the bytes, query columns against the bytes, the chain) and every checkpoint's signature and root; the baseline only reads the same columns in the same batches of 10,000. A proof reads O(log² n) stored hashes (${PARAMETERS.proofs} proofs at spread indices, each checked against the checkpoint before it is returned); a checkpoint reads the entries added since the previous one and O(log n) stored hashes.`,
    ].join('\n');
    return { parameters: PARAMETERS, figures, ratios, markdown };
  } finally {
    await handle?.close();
    await database.drop();
  }
}

/** `npm run bench -- audit`: PostgreSQL on this machine, about two minutes. */
export const benchmark: Benchmark = { name: 'audit', run: (progress) => measure(progress) };
