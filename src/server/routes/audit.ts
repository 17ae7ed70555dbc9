import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { encodeBase64 } from '../../core/audit/base64.js';
import { AUDIT_ENTRY_KINDS } from '../../core/audit/entry.js';
import { InputError } from '../../core/errors.js';
import { ALL_PROJECTS } from '../../core/identity/identity.js';
import type { AuditCheckpointRecord, AuditCheckpointResult, AuditConsistencyProof, AuditPage, AuditProof, AuditQuery } from '../../store/index.js';
import { requirePermission } from '../auth.js';
import { errorResponse, UNAUTHENTICATED } from '../schemas.js';

/** What the audit routes read and do (the `AuditService` of `src/server/audit.ts`). */
export interface AuditRoutesService {
  readonly origin: string;
  verifierKey(): Promise<string>;
  query(query: AuditQuery): Promise<AuditPage>;
  latestCheckpoint(): Promise<AuditCheckpointRecord | undefined>;
  checkpoint(): Promise<AuditCheckpointResult>;
  proof(index: number, size?: number): Promise<AuditProof>;
  consistencyProof(from: number, to?: number): Promise<AuditConsistencyProof>;
}

/** What the audit routes need. */
export interface AuditRoutesOptions {
  readonly audit: AuditRoutesService;
}

const TAGS = ['audit'];
const base64Hash = z.string().describe('32-byte SHA-256 hash, base64.');
const index = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** A time as ms since the epoch or an RFC 3339 date-time, e.g. `2026-11-21T10:00:00Z`. */
const Time = z
  .string()
  .transform((text, ctx) => {
    const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
    if (!Number.isSafeInteger(ms) || !/^\d+$|^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text)) {
      ctx.addIssue({ code: 'custom', message: 'is not a time: expected ms since the epoch or an RFC 3339 date-time', input: text });
      return z.NEVER;
    }
    return ms;
  })
  .describe('ms since the Unix epoch, or an RFC 3339 date-time such as 2026-11-21T10:00:00Z.');

const Kinds = z
  .string()
  .transform((text, ctx) => {
    const kinds = text.split(',').map((kind) => kind.trim()).filter((kind) => kind !== '');
    const unknown = kinds.filter((kind) => !(AUDIT_ENTRY_KINDS as readonly string[]).includes(kind));
    if (unknown.length > 0) {
      ctx.addIssue({ code: 'custom', message: `${unknown.join(', ')} ${unknown.length === 1 ? 'is not an audit entry kind' : 'are not audit entry kinds'}: expected ${AUDIT_ENTRY_KINDS.join(', ')}`, input: text });
      return z.NEVER;
    }
    return kinds as Array<(typeof AUDIT_ENTRY_KINDS)[number]>;
  })
  .describe(`Comma-separated kinds: ${AUDIT_ENTRY_KINDS.join(', ')}.`);

const QuerySchema = z
  .object({
    mission: z.uuid().optional().describe('Entries of this mission.'),
    actor: z.string().min(1).max(200).optional().describe('Entries whose actor is this principal or engine name.'),
    tool: z.string().min(1).max(200).optional().describe('Entries about this tool (calls, results, compensations, verifications).'),
    kind: Kinds.optional(),
    since: Time.optional().describe('Entries at or after this time.'),
    until: Time.optional().describe('Entries before this time.'),
    after: z.coerce.number().int().min(-1).max(Number.MAX_SAFE_INTEGER).optional().describe('Entries with an index above this: the `next` of the previous page.'),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

const EntrySchema = z.object({
  schemaVersion: z.literal(1),
  kind: z.enum(AUDIT_ENTRY_KINDS),
  actor: z.string(),
  missionId: z.string().nullable(),
  at: z.number().int().describe('ms since the Unix epoch'),
  data: z.record(z.string(), z.unknown()),
}).meta({ id: 'AuditEntry' });

const CheckpointSchema = z.object({
  size: z.number().int().describe('Tree size in entries.'),
  rootHash: base64Hash,
  note: z.string().describe('The C2SP signed note whose text is the checkpoint (c2sp.org/tlog-checkpoint).'),
  createdAt: z.number().int().describe('ms since the Unix epoch'),
}).meta({ id: 'AuditCheckpoint' });

const InclusionProofSchema = z.object({
  checkpoint: z.string().describe('The signed checkpoint note the proof is against.'),
  index: z.number().int(),
  size: z.number().int().describe("The checkpoint's tree size."),
  entry: z.string().describe("The entry's bytes (RFC 8785 JSON), base64."),
  leafHash: base64Hash,
  proof: z.array(base64Hash).describe('The audit path, from the leaf level upwards (RFC 9162 §2.1.3.1).'),
}).meta({ id: 'AuditInclusionProof' });

const ConsistencyProofSchema = z.object({
  from: z.string().describe('The older checkpoint note.'),
  to: z.string().describe('The newer checkpoint note.'),
  fromSize: z.number().int(),
  toSize: z.number().int(),
  proof: z.array(base64Hash).describe('PROOF(m, D[n]) of RFC 9162 §2.1.4.1; empty when the sizes are equal.'),
}).meta({ id: 'AuditConsistencyProof' });

const READ_FORBIDDEN = errorResponse('FORBIDDEN: the caller lacks audit:read for every project (*): the auditor or admin role.');

function checkpointView(checkpoint: AuditCheckpointRecord) {
  return { size: checkpoint.size, rootHash: encodeBase64(checkpoint.rootHash), note: checkpoint.note, createdAt: checkpoint.createdAt };
}

/**
 * The audit routes (docs/audit.md): `GET /audit/entries` (query), `GET /audit/key` (the verifier
 * key), `GET /audit/checkpoints/latest`, `POST /audit/checkpoints` (sign one now; admin),
 * `GET /audit/proofs/inclusion?index&size` and `GET /audit/proofs/consistency?from&to`. Reading needs
 * `audit:read` for `*` (the log spans projects). Proof bodies are what `interlock audit check`
 * reads: an auditor checks them with the verifier key obtained out of band, trusting nothing here.
 * Register under `/v1`.
 */
export const auditRoutes: FastifyPluginCallbackZod<AuditRoutesOptions> = (app, { audit }, done) => {
  app.get('/audit/entries', {
    schema: {
      tags: TAGS,
      summary: 'Query audit entries',
      description: 'Entries matching every given filter, in log order. When more may follow, `next` is the `after` of the next page.',
      querystring: QuerySchema,
      response: {
        200: z.object({
          entries: z.array(z.object({ index: z.number().int(), leafHash: base64Hash, entry: EntrySchema })),
          next: z.number().int().nullable(),
        }),
        400: errorResponse('INPUT_INVALID: a query parameter is invalid or unknown.'),
        401: UNAUTHENTICATED,
        403: READ_FORBIDDEN,
      },
    },
  }, async (request) => {
    requirePermission(request, 'audit:read', ALL_PROJECTS);
    const { mission, actor, tool, kind, since, until, after, limit } = request.query;
    const page = await audit.query({
      limit,
      ...(mission === undefined ? {} : { missionId: mission }),
      ...(actor === undefined ? {} : { actor }),
      ...(tool === undefined ? {} : { tool }),
      ...(kind === undefined ? {} : { kinds: kind }),
      ...(since === undefined ? {} : { since }),
      ...(until === undefined ? {} : { until }),
      ...(after === undefined ? {} : { after }),
    });
    return { entries: page.entries.map((record) => ({ index: record.index, leafHash: encodeBase64(record.leafHash), entry: record.entry })), next: page.next };
  });

  app.get('/audit/key', {
    schema: {
      tags: TAGS,
      summary: "The log's origin and verifier key",
      description: 'Convenient, not a trust anchor: an auditor compares it with the key obtained out of band.',
      response: { 200: z.object({ origin: z.string(), verifierKey: z.string().describe('<origin>+<key ID>+<base64 key> (c2sp.org/signed-note)') }), 401: UNAUTHENTICATED, 403: READ_FORBIDDEN },
    },
  }, async (request) => {
    requirePermission(request, 'audit:read', ALL_PROJECTS);
    return { origin: audit.origin, verifierKey: await audit.verifierKey() };
  });

  app.get('/audit/checkpoints/latest', {
    schema: {
      tags: TAGS,
      summary: 'The latest signed checkpoint',
      response: { 200: z.object({ checkpoint: CheckpointSchema }), 401: UNAUTHENTICATED, 403: READ_FORBIDDEN, 409: errorResponse('AUDIT_CHECKPOINT_MISSING: none has been made yet.') },
    },
  }, async (request) => {
    requirePermission(request, 'audit:read', ALL_PROJECTS);
    const latest = await audit.latestCheckpoint();
    if (latest === undefined) {
      throw new InputError('AUDIT_CHECKPOINT_MISSING', 'The audit log has no checkpoint yet: make one with POST /v1/audit/checkpoints or `interlock audit checkpoint`.', [], { details: {} });
    }
    return { checkpoint: checkpointView(latest) };
  });

  app.post('/audit/checkpoints', {
    schema: {
      tags: TAGS,
      summary: 'Sign a checkpoint now',
      description: 'Signs and stores a checkpoint of the current size; returns the existing one (created: false) when the size has not changed.',
      response: {
        200: z.object({ checkpoint: CheckpointSchema, created: z.boolean() }),
        401: UNAUTHENTICATED,
        403: errorResponse('FORBIDDEN: the admin role for every project (*) is required.'),
        500: errorResponse('AUDIT_TAMPERED or AUDIT_KEY_MISMATCH: the log was not checkpointed.'),
      },
    },
  }, async (request) => {
    const principal = requirePermission(request, 'admin', ALL_PROJECTS);
    const made = await audit.checkpoint();
    request.log.info({ by: principal.name, size: made.size, created: made.created }, 'audit checkpoint made through the API');
    return { checkpoint: checkpointView(made), created: made.created };
  });

  app.get('/audit/proofs/inclusion', {
    schema: {
      tags: TAGS,
      summary: 'Inclusion proof of an entry',
      description: 'Against the latest checkpoint, or the one of `size` entries. The body is what `interlock audit check --proof` reads.',
      querystring: z.object({ index, size: index.optional().describe('The tree size of a stored checkpoint; default the latest.') }).strict(),
      response: {
        200: InclusionProofSchema,
        400: errorResponse('INPUT_INVALID or AUDIT_PROOF_RANGE: no such entry, or no checkpoint of that size.'),
        401: UNAUTHENTICATED,
        403: READ_FORBIDDEN,
        409: errorResponse('AUDIT_CHECKPOINT_MISSING: no checkpoint covers the entry yet.'),
      },
    },
  }, async (request) => {
    requirePermission(request, 'audit:read', ALL_PROJECTS);
    const proof = await audit.proof(request.query.index, request.query.size);
    return { checkpoint: proof.checkpoint, index: proof.index, size: proof.size, entry: encodeBase64(proof.entry), leafHash: encodeBase64(proof.leafHash), proof: proof.proof.map(encodeBase64) };
  });

  app.get('/audit/proofs/consistency', {
    schema: {
      tags: TAGS,
      summary: 'Consistency proof between two checkpoints',
      description: 'Proves the checkpoint of `to` entries (default the latest) extends the one of `from` entries: nothing was removed or changed in between.',
      querystring: z.object({ from: index, to: index.optional() }).strict(),
      response: {
        200: ConsistencyProofSchema,
        400: errorResponse('INPUT_INVALID or AUDIT_PROOF_RANGE: a size is not a stored checkpoint, or from is 0 or above to.'),
        401: UNAUTHENTICATED,
        403: READ_FORBIDDEN,
        409: errorResponse('AUDIT_CHECKPOINT_MISSING: none has been made yet.'),
      },
    },
  }, async (request) => {
    requirePermission(request, 'audit:read', ALL_PROJECTS);
    const proof = await audit.consistencyProof(request.query.from, request.query.to);
    return { ...proof, proof: proof.proof.map(encodeBase64) };
  });

  done();
};
