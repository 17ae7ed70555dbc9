// `<dir>/estate.json`: every port, URL and path of a running estate, and the faults injected into it.
// `up` writes it; `status`, `inject`, `heal`, `down`, the demo and the MTTR benchmark read it.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { InputError } from '../core/errors.js';
import { ESTATE_FAULTS, estatePaths, type EstatePaths } from './estate-layout.js';

/** The TCP ports of the estate, all on 127.0.0.1. */
export interface EstatePorts {
  /** nginx: the estate's HTTP entry point (`/checkout/`, `/payments/`, `/catalog/`). */
  readonly http: number;
  readonly prometheus: number;
  readonly alertmanager: number;
  /** supervisord's `[inet_http_server]` (XML-RPC at `/RPC2`). */
  readonly supervisor: number;
  readonly postgres: number;
  /** The load generator's `/metrics`: the PostgreSQL exporter (`pg_long_running_queries`, `pg_connections`). */
  readonly exporter: number;
  /** Each service program's HTTP port (`/metrics`, `/healthz`), by program name. */
  readonly programs: Readonly<Record<string, number>>;
}

/** One fault injected by `interlock estate inject`. */
export interface EstateInjection {
  readonly fault: (typeof ESTATE_FAULTS)[number];
  /** When the fault took effect (the deploy, the file or the weights were in place), ms since the epoch. */
  readonly at: number;
  /** When the command started, ms since the epoch. */
  readonly requestedAt: number;
  /** What was done, one sentence per action. */
  readonly actions: readonly string[];
}

/** The contents of `estate.json`. Times are ms since the Unix epoch. */
export interface EstateState {
  /** Format version of this file. */
  readonly format: 1;
  /** The estate directory, absolute. */
  readonly dir: string;
  readonly createdAt: number;
  /** When the last `up` found everything ready; null while starting. */
  readonly startedAt: number | null;
  /** When the last `down` stopped it; null while running. */
  readonly stoppedAt: number | null;
  readonly ports: EstatePorts;
  readonly urls: {
    /** nginx, e.g. `http://127.0.0.1:40100`. */
    readonly http: string;
    readonly prometheus: string;
    readonly alertmanager: string;
    /** supervisord's XML-RPC endpoint, `http://127.0.0.1:<port>/RPC2`. */
    readonly supervisor: string;
    /** The exporter's metrics, `http://127.0.0.1:<port>/metrics`. */
    readonly exporter: string;
  };
  /** supervisord's basic-auth user; the password is in `paths.supervisorPasswordFile`. */
  readonly supervisorUsername: string;
  readonly postgres: {
    readonly port: number;
    readonly database: string;
    readonly user: string;
    /** The system user the server runs as (`postgres` when the estate runs as root). */
    readonly runAs: string | null;
  };
  /** The nginx binary the estate runs (and the nginx connector tests configurations with). */
  readonly nginxBinary: string;
  /** Where Alertmanager sends notifications: Interlock's signal intake. */
  readonly alertmanager: {
    /** `<interlockUrl>/v1/signals/<sourceName>`. */
    readonly webhookUrl: string;
    readonly sourceName: string;
    /** The file holding the bearer token Alertmanager sends, or null for none. */
    readonly tokenFile: string | null;
  };
  /** Interlock's base URL, e.g. `http://127.0.0.1:7411`. */
  readonly interlockUrl: string;
  /** The process whose death ends the estate (`--watch-pid`), or null. */
  readonly watchPid: number | null;
  readonly paths: EstatePaths;
  /** Faults injected since the last `up`, oldest first. */
  readonly injections: readonly EstateInjection[];
  /** When `heal` last ran, or null. */
  readonly healedAt: number | null;
}

const Port = z.int().min(1).max(65_535);

/** Checks what `estate.json` holds (the fields the commands use; paths are recomputed from `dir`). */
const EstateStateSchema = z.object({
  format: z.literal(1),
  dir: z.string().min(1),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  stoppedAt: z.number().nullable(),
  ports: z.object({ http: Port, prometheus: Port, alertmanager: Port, supervisor: Port, postgres: Port, exporter: Port, programs: z.record(z.string(), Port) }),
  urls: z.object({ http: z.string(), prometheus: z.string(), alertmanager: z.string(), supervisor: z.string(), exporter: z.string() }),
  supervisorUsername: z.string(),
  postgres: z.object({ port: Port, database: z.string(), user: z.string(), runAs: z.string().nullable() }),
  nginxBinary: z.string(),
  alertmanager: z.object({ webhookUrl: z.string(), sourceName: z.string(), tokenFile: z.string().nullable() }),
  interlockUrl: z.string(),
  watchPid: z.int().nullable(),
  injections: z.array(z.object({ fault: z.enum(ESTATE_FAULTS), at: z.number(), requestedAt: z.number(), actions: z.array(z.string()) })),
  healedAt: z.number().nullable(),
});

/**
 * Reads `<dir>/estate.json`.
 * @throws InputError `ESTATE_NOT_FOUND` when the directory holds no estate (no or an unreadable file).
 */
export async function readEstateState(dir: string): Promise<EstateState> {
  const paths = estatePaths(dir);
  let text: string;
  try {
    text = await readFile(paths.stateFile, 'utf8');
  } catch {
    throw new InputError('ESTATE_NOT_FOUND', `There is no reference estate in ${dir} (no estate.json); start one with \`interlock estate up --dir ${dir}\`.`, [], { details: { dir } });
  }
  let parsed: z.output<typeof EstateStateSchema>;
  try {
    parsed = EstateStateSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new InputError('ESTATE_NOT_FOUND', `${paths.stateFile} is not a reference estate's state file (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); remove the directory and run \`interlock estate up\` again.`, [], { details: { dir }, cause: error });
  }
  return { ...parsed, dir, paths };
}

/** Writes `<dir>/estate.json` atomically (a temporary file renamed over it). */
export async function writeEstateState(state: EstateState): Promise<void> {
  const temporary = `${state.paths.stateFile}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  await rename(temporary, state.paths.stateFile);
}
