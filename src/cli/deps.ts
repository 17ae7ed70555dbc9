import type { InterlockConfig } from '../config/index.js';
import type { DemoOptions, DemoReport } from '../server/demo.js';
import type { MissionFilter } from '../core/ports.js';
import type { Mission, MissionDetail } from '../core/missions/mission.js';

/**
 * What the CLI needs from the rest of Interlock, passed in so commands run in tests without a
 * server, a database or a network. `createDefaultDeps()` in `wiring.ts` builds the real ones.
 */
export interface CliDeps extends ServerMain {
  /** A client of a running server's HTTP API, for the `missions` commands. */
  createApiClient(options: ApiClientOptions): MissionsApi;
}

/**
 * The functions `src/server/main.ts` exports (loaded lazily by `wiring.ts`, so `interlock --help`
 * and the `missions` commands never load the server, the engine or PostgreSQL).
 */
export interface ServerMain {
  /**
   * Starts the HTTP API and the mission engine with `config` (migrating the schema first) and
   * resolves once they have shut down cleanly after SIGINT or SIGTERM. Rejects when start-up fails,
   * e.g. `DATABASE_UNREACHABLE`, `EMBEDDED_POSTGRES_FAILED`, `MIGRATION_FAILED`.
   */
  serve(config: InterlockConfig): Promise<void>;
  /**
   * Brings the database schema to the latest version and stops. Rejects with `MIGRATION_FAILED`
   * (the schema stays at the last good version) or `DATABASE_UNREACHABLE`.
   */
  migrate(config: InterlockConfig): Promise<MigrateResult>;
  /**
   * Checks the installation (configuration, database reachable, schema current, data directory
   * writable, ...) and reports each check; resolves with failing checks rather than rejecting.
   */
  doctor(config: InterlockConfig): Promise<DoctorReport>;
  /**
   * Runs the demo (the governed loop on a local estate of files), writing progress through `out`
   * and asking `confirm` for approvals when given; resolves with the closing table.
   */
  demo(options: DemoOptions): Promise<DemoReport>;
}

/** What `migrate` did. */
export interface MigrateResult {
  /** Names of the migrations applied by this run, in order; empty when the schema was current. */
  readonly applied: readonly string[];
  /** Name of the latest migration now applied, or null for an empty schema. */
  readonly current: string | null;
}

/** One check `interlock doctor` ran. */
export interface DoctorCheck {
  /** What was checked, e.g. `database reachable`. */
  readonly name: string;
  /** `fail` makes the report fail; `warn` is worth a look but does not. */
  readonly status: 'ok' | 'warn' | 'fail';
  /** What was found, and for `warn` or `fail` what to do about it. */
  readonly detail: string;
}

/** The result of `interlock doctor`. */
export interface DoctorReport {
  /** False when any check failed; the command then exits 1. */
  readonly ok: boolean;
  readonly checks: readonly DoctorCheck[];
}

/** Where and how to reach the HTTP API. */
export interface ApiClientOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:7411` (a path prefix is kept). */
  readonly baseUrl: string;
  /** Time allowed for each request, response body included, ms. */
  readonly timeoutMs: number;
}

/**
 * The mission endpoints of the HTTP API (`/v1/missions`). Every method rejects with an `ApiError`
 * (see `api-client.ts`): the server's own `code` and `message` for an error response,
 * `API_UNREACHABLE`, `API_TIMEOUT` or `API_RESPONSE_INVALID` otherwise.
 */
export interface MissionsApi {
  /** `GET /v1/missions?project&stage&outcome&running&limit&before`: one page, newest first. */
  list(filter: MissionFilter): Promise<MissionPage>;
  /** `GET /v1/missions/:id`. The server answers `MISSION_NOT_FOUND` for an unknown ID. */
  get(id: string): Promise<MissionDetail>;
  /** `POST /v1/missions/:id/cancel`. The server answers `MISSION_NOT_FOUND` or `MISSION_ALREADY_FINISHED`. */
  cancel(id: string): Promise<MissionDetail>;
}

/** One page of missions as `GET /v1/missions` answers it: `{ missions, next }`. */
export interface MissionPage {
  /** Newest first. */
  readonly missions: readonly Mission[];
  /** The ID to pass as `before` for the next page; null on the last page. */
  readonly next: string | null;
}
