/**
 * Interlock's error model: one base class with a stable `code`, a message that says what to do,
 * typed `details` and a `cause`. Subclasses say whose fault it is. Codes are registered once in
 * {@link ERROR_CODES} and documented in `docs/errors.md`; a test keeps the two in agreement.
 *
 * A policy denial, a pending approval or a failed verification is a value, never one of these.
 */

/** Whose fault an error is; decides the HTTP status family and whether retrying can help. */
export type ErrorKind = 'config' | 'input' | 'unauthenticated' | 'forbidden' | 'not_found' | 'conflict' | 'connector' | 'unavailable' | 'internal';

/** One registered error code: its kind, its HTTP status and a one-line summary for the docs. */
export interface ErrorCodeInfo {
  readonly kind: ErrorKind;
  /** HTTP status the edge answers with. */
  readonly status: number;
  readonly summary: string;
}

/**
 * The registry of every error code Interlock raises. Never reuse or rename a code: scripts match on it.
 * `docs/errors.md` lists the same codes (checked by `src/core/errors.test.ts`).
 */
export const ERROR_CODES = {
  CONFIG_INVALID: { kind: 'config', status: 500, summary: 'The configuration (file, environment or flags) failed validation.' },
  CONFIG_FILE_UNREADABLE: { kind: 'config', status: 500, summary: 'A configuration file could not be read or parsed as YAML.' },
  POLICY_INVALID: { kind: 'config', status: 500, summary: 'A policy set failed validation; every problem is listed with file, line and column. The previous set stays in force.' },
  POLICY_UNREADABLE: { kind: 'config', status: 500, summary: 'A policy directory or file could not be read.' },
  RUNBOOK_INVALID: { kind: 'config', status: 500, summary: 'A runbook set failed validation; every problem is listed with file, line and column.' },
  RUNBOOK_UNREADABLE: { kind: 'config', status: 500, summary: 'A runbook directory or file could not be read.' },
  AGENT_INVALID: { kind: 'config', status: 500, summary: 'The agent set (agents.dir) has problems; details.issues lists each with file:line:column.' },
  AGENT_UNREADABLE: { kind: 'config', status: 500, summary: 'An agent directory or file could not be read.' },
  AGENT_HANDOFF_REFUSED: { kind: 'connector', status: 502, summary: 'An agent hand-off was refused (not allowed by the agents\' definitions or RBAC, or a bound of its chain breached); the mission escalates.' },
  INPUT_INVALID: { kind: 'input', status: 400, summary: 'A request body, query or argument failed validation; details name each field.' },
  BODY_TOO_LARGE: { kind: 'input', status: 413, summary: 'The request body is larger than server.bodyLimitBytes.' },
  MEDIA_TYPE_UNSUPPORTED: { kind: 'input', status: 415, summary: 'The request body is not application/json.' },
  MISSION_NOT_FOUND: { kind: 'not_found', status: 404, summary: 'No mission has the given ID.' },
  SIGNAL_SOURCE_UNKNOWN: { kind: 'not_found', status: 404, summary: 'No signal source of that name is configured (intake.sources).' },
  INCIDENT_NOT_FOUND: { kind: 'not_found', status: 404, summary: 'No incident has the given ID.' },
  TICKET_NOT_FOUND: { kind: 'not_found', status: 404, summary: 'No ticket has the given ID, or the incident has no ticket yet.' },
  INTAKE_OVERLOADED: { kind: 'unavailable', status: 503, summary: 'As INTAKE_BUSY, answered 503 for a source whose sender retries only 5xx (Alertmanager); send again after Retry-After seconds.' },
  INTAKE_BUSY: { kind: 'unavailable', status: 429, summary: 'The worker is handling intake.maxInFlight intake requests already; send again after Retry-After seconds.' },
  RATE_LIMITED: { kind: 'unavailable', status: 429, summary: 'The client sent more requests than its rate limit allows (mcp.server.rateLimit); send again after Retry-After seconds.' },
  ROUTE_NOT_FOUND: { kind: 'not_found', status: 404, summary: 'No API route matches the method and path.' },
  MISSION_ALREADY_FINISHED: { kind: 'conflict', status: 409, summary: 'The mission has already finished; it cannot be cancelled or changed.' },
  IDEMPOTENCY_KEY_REUSED: { kind: 'conflict', status: 409, summary: 'The idempotency key was used before for a different mission request.' },
  TOOL_UNKNOWN: { kind: 'input', status: 400, summary: 'A step names a tool that is not in the catalog.' },
  TOOL_ARGS_INVALID: { kind: 'input', status: 400, summary: "A step's arguments violate its tool's input schema." },
  TOOL_UNAVAILABLE: { kind: 'conflict', status: 409, summary: 'A step names a tool that may not be called now (held for operator review, not offered in the mission\'s project, or outside its agent\'s tool set).' },
  TOOL_FAILED: { kind: 'connector', status: 502, summary: 'A tool call failed; `retryable` says whether trying again can help.' },
  TOOL_TIMEOUT: { kind: 'connector', status: 504, summary: 'A tool call did not finish within its timeout; its outcome is unknown.' },
  MCP_TOOL_HELD: { kind: 'connector', status: 409, summary: "An external MCP server's tool changed (or is new) and is held until an operator reviews it; calls are refused until it is accepted." },
  MCP_SERVER_UNAVAILABLE: { kind: 'connector', status: 503, summary: 'An external MCP server is not connected, or its circuit breaker is open after consecutive failed calls; try again after its cooldown.' },
  MCP_RESULT_TOO_LARGE: { kind: 'connector', status: 502, summary: "An external MCP server's tool result is larger than the server's maxResultBytes; it was discarded." },
  MCP_SERVER_NOT_FOUND: { kind: 'not_found', status: 404, summary: 'No external MCP server of that name is configured (mcp.servers).' },
  MCP_TOOL_NOT_FOUND: { kind: 'not_found', status: 404, summary: 'The external MCP server has never offered a tool of that name.' },
  MCP_TOOL_NOT_HELD: { kind: 'conflict', status: 409, summary: 'The tool is not held for review, so there is nothing to accept or reject.' },
  TOOL_OUTPUT_INVALID: { kind: 'connector', status: 502, summary: "A tool returned a result that violates its output schema." },
  DATABASE_UNREACHABLE: { kind: 'unavailable', status: 503, summary: 'PostgreSQL could not be reached; check DATABASE_URL or the embedded server.' },
  EMBEDDED_POSTGRES_FAILED: { kind: 'unavailable', status: 503, summary: 'The embedded PostgreSQL server could not be initialised or started.' },
  MIGRATION_FAILED: { kind: 'internal', status: 500, summary: 'A database migration failed; the schema was left at the last good version.' },
  AUDIT_UNAVAILABLE: { kind: 'unavailable', status: 503, summary: 'The audit log could not record the request, so it was not accepted; try again.' },
  ENGINE_NOT_READY: { kind: 'unavailable', status: 503, summary: 'The mission engine is starting or stopping and cannot take work yet.' },
  WORKER_FENCED: { kind: 'internal', status: 500, summary: 'This worker was declared dead by its peers and its missions were taken over; it stops.' },
  INTERNAL: { kind: 'internal', status: 500, summary: 'An unexpected error inside Interlock; the log has the details.' },
  API_UNREACHABLE: { kind: 'unavailable', status: 503, summary: 'The CLI could not connect to the HTTP API at its URL; is `interlock serve` running there?' },
  API_TIMEOUT: { kind: 'unavailable', status: 504, summary: "The HTTP API did not answer the CLI's request within --timeout ms." },
  API_RESPONSE_INVALID: { kind: 'connector', status: 502, summary: 'The HTTP API answered the CLI with something it cannot use: not JSON, an unexpected shape, or an error without an error body.' },
  AUTH_REQUIRED: { kind: 'unauthenticated', status: 401, summary: 'The request carries no API token; send Authorization: Bearer il_...' },
  AUTH_TOKEN_INVALID: { kind: 'unauthenticated', status: 401, summary: 'The API token is malformed or unknown.' },
  AUTH_TOKEN_REVOKED: { kind: 'unauthenticated', status: 401, summary: 'The API token was revoked; create a new one.' },
  AUTH_TOKEN_EXPIRED: { kind: 'unauthenticated', status: 401, summary: 'The API token has expired; create a new one.' },
  AUTH_SIGNATURE_INVALID: { kind: 'unauthenticated', status: 401, summary: "The request to an HMAC-authenticated signal source lacks its signature header, or the signature does not match the body and the source's secret." },
  FORBIDDEN: { kind: 'forbidden', status: 403, summary: 'The principal lacks the permission in the project; details name both.' },
  PRINCIPAL_NOT_FOUND: { kind: 'not_found', status: 404, summary: 'No principal has the given name or ID.' },
  PRINCIPAL_NAME_TAKEN: { kind: 'conflict', status: 409, summary: 'A principal with that name already exists; names are unique.' },
  TOKEN_NOT_FOUND: { kind: 'not_found', status: 404, summary: 'No API token has the given ID.' },
  APPROVAL_NOT_FOUND: { kind: 'not_found', status: 404, summary: 'No approval request has the given ID.' },
  APPROVAL_NOT_PENDING: { kind: 'conflict', status: 409, summary: 'The approval request is already granted, denied or consumed; it takes no more votes.' },
  APPROVAL_EXPIRED: { kind: 'conflict', status: 409, summary: 'The approval request expired before it was decided or used.' },
  APPROVAL_AGENT_VOTE: { kind: 'forbidden', status: 403, summary: 'Agents never vote on approvals, whatever their roles.' },
  APPROVAL_SELF_APPROVAL: { kind: 'forbidden', status: 403, summary: "The requester of a mission cannot vote on its own approval request." },
  APPROVAL_GROUP_REQUIRED: { kind: 'forbidden', status: 403, summary: 'Only members of the required approver groups may vote on this request.' },
  APPROVAL_ALREADY_VOTED: { kind: 'conflict', status: 409, summary: 'The principal has already voted on this approval request.' },
  APPROVAL_HASH_MISMATCH: { kind: 'conflict', status: 409, summary: "The action hash presented differs from the request's: the actions changed or the vote is for other actions." },
  APPROVAL_NOT_GRANTED: { kind: 'conflict', status: 409, summary: 'The engine tried to use an approval that is not granted (pending or denied).' },
  APPROVAL_ALREADY_CONSUMED: { kind: 'conflict', status: 409, summary: 'The approval was already used once; approvals are single use.' },
  AUDIT_PROOF_RANGE: { kind: 'input', status: 400, summary: 'A Merkle proof was asked for outside the tree: a leaf index >= the tree size, or an old size not in [1, new size].' },
  AUDIT_HASH_INVALID: { kind: 'input', status: 400, summary: 'A Merkle tree hash (leaf, node or root) is not 32 bytes of SHA-256.' },
  AUDIT_ENTRY_INVALID: { kind: 'input', status: 400, summary: 'An audit entry is not a valid envelope (schema version, kind, actor, mission, time or data) or holds a value JSON cannot represent.' },
  AUDIT_CHECKPOINT_INVALID: { kind: 'input', status: 400, summary: 'A checkpoint (C2SP tlog-checkpoint) is malformed; the message names the line.' },
  AUDIT_NOTE_INVALID: { kind: 'input', status: 400, summary: 'A note to sign (C2SP signed-note) is malformed: no trailing newline, a control character, or invalid UTF-8.' },
  AUDIT_CHECKPOINT_MISSING: { kind: 'conflict', status: 409, summary: 'No signed checkpoint covers the audit entry yet, so it has no inclusion proof; make a checkpoint first.' },
  AUDIT_TAMPERED: { kind: 'internal', status: 500, summary: 'The stored audit log fails its integrity checks (an entry changed, missing, inserted or moved); it is not checkpointed.' },
  AUDIT_KEY_MISMATCH: { kind: 'internal', status: 500, summary: "The audit log's latest checkpoint is not signed by this worker's key: the workers of one database must share audit.signingKeyFile." },
  AUDIT_KEY_INVALID: { kind: 'input', status: 400, summary: 'A note signer or verifier key is malformed, uses an unsupported algorithm, or its key ID does not match its name and key.' },
  ESTATE_PREREQUISITE_MISSING: { kind: 'config', status: 500, summary: 'A program the reference estate runs is not installed; the message names the Debian packages to install.' },
  ESTATE_NOT_FOUND: { kind: 'not_found', status: 404, summary: 'The directory holds no reference estate (no estate.json); run `interlock estate up` first.' },
  ESTATE_NOT_RUNNING: { kind: 'conflict', status: 409, summary: 'The reference estate is not running; inject and heal need it up.' },
  ESTATE_START_FAILED: { kind: 'unavailable', status: 503, summary: 'The reference estate did not become ready; the message names what was not ready and the end of its log.' },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A registered error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options shared by every Interlock error. */
export interface InterlockErrorOptions {
  /** Structured facts about the failure: field paths, IDs, limits. Never secrets. */
  readonly details?: Record<string, unknown>;
  readonly cause?: unknown;
}

/** Base class of every error Interlock raises on purpose. `code` is stable; `message` says what to do. */
export class InterlockError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: InterlockErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }

  /** The registered kind of this error's code. */
  get kind(): ErrorKind {
    return ERROR_CODES[this.code].kind;
  }

  /** The HTTP status the edge answers with. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** One problem in a configuration or an input: where it is, what was expected, what was found. */
export interface Issue {
  /** Dotted path of the offending field, e.g. `steps.2.tool`; the file name prefixes it for config. */
  readonly path: string;
  readonly message: string;
  readonly expected?: string;
  readonly received?: string;
}

/** The configuration is wrong: the operator must fix a file, a variable or a flag. */
export class ConfigError extends InterlockError {
  readonly issues: readonly Issue[];
  constructor(code: 'CONFIG_INVALID' | 'CONFIG_FILE_UNREADABLE', message: string, issues: readonly Issue[] = [], options: InterlockErrorOptions = {}) {
    super(code, message, { ...options, details: { ...options.details, issues } });
    this.issues = issues;
  }
}

/** The caller sent something wrong: a field, an ID, a state that does not allow the request. */
export class InputError extends InterlockError {
  readonly issues: readonly Issue[];
  constructor(code: ErrorCode, message: string, issues: readonly Issue[] = [], options: InterlockErrorOptions = {}) {
    super(code, message, { ...options, details: issues.length > 0 ? { ...options.details, issues } : (options.details ?? {}) });
    this.issues = issues;
  }
}

/** Facts about a failure of an outside system, used for retry and unknown-outcome decisions. */
export interface ConnectorErrorOptions extends InterlockErrorOptions {
  /** Name of the outside system, e.g. `postgres`, `prometheus`, `supervisor`. */
  readonly system: string;
  /** The system's own status (HTTP status, SQLSTATE, exit code), when it gave one. */
  readonly status?: string | number;
  /** True when the same call may succeed if tried again. */
  readonly retryable: boolean;
  /**
   * True when the call may have taken effect (a timeout, a lost connection after the request left).
   * The engine never retries a non-idempotent write blindly in that case; it re-observes.
   * @default false
   */
  readonly outcomeUnknown?: boolean;
}

/** An outside system failed or answered something unusable. */
export class ConnectorError extends InterlockError {
  readonly system: string;
  readonly systemStatus: string | number | undefined;
  readonly retryable: boolean;
  readonly outcomeUnknown: boolean;
  constructor(code: 'TOOL_FAILED' | 'TOOL_TIMEOUT' | 'TOOL_OUTPUT_INVALID' | 'DATABASE_UNREACHABLE' | 'EMBEDDED_POSTGRES_FAILED' | 'MCP_TOOL_HELD' | 'MCP_SERVER_UNAVAILABLE' | 'MCP_RESULT_TOO_LARGE' | 'AGENT_HANDOFF_REFUSED', message: string, options: ConnectorErrorOptions) {
    super(code, message, {
      cause: options.cause,
      details: { ...options.details, system: options.system, status: options.status, retryable: options.retryable, outcomeUnknown: options.outcomeUnknown ?? false },
    });
    this.system = options.system;
    this.systemStatus = options.status;
    this.retryable = options.retryable;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
  }
}

/** The 401 and 403 codes: who the caller is could not be established, or it may not do this. */
export type AccessErrorCode = 'AUTH_REQUIRED' | 'AUTH_TOKEN_INVALID' | 'AUTH_TOKEN_REVOKED' | 'AUTH_TOKEN_EXPIRED' | 'AUTH_SIGNATURE_INVALID' | 'FORBIDDEN' | 'APPROVAL_AGENT_VOTE' | 'APPROVAL_SELF_APPROVAL' | 'APPROVAL_GROUP_REQUIRED';

/**
 * The caller is not authenticated (401: no token, a malformed, unknown, revoked or expired token) or
 * not allowed (403: a permission it lacks in a project, or an approval rule). `details` name the
 * permission, the project and the principal, never a token.
 */
export class AccessError extends InterlockError {
  constructor(code: AccessErrorCode, message: string, options: InterlockErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A fault of Interlock's own; the log has the stack. */
export class InternalError extends InterlockError {
  constructor(message: string, options: InterlockErrorOptions & { readonly code?: 'INTERNAL' | 'MIGRATION_FAILED' | 'ENGINE_NOT_READY' | 'WORKER_FENCED' | 'AUDIT_TAMPERED' | 'AUDIT_KEY_MISMATCH' } = {}) {
    super(options.code ?? 'INTERNAL', message, options);
  }
}

/** True when `error` is an {@link InterlockError} (also across module copies, by shape). */
export function isInterlockError(error: unknown): error is InterlockError {
  return error instanceof InterlockError;
}
