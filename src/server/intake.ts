/**
 * Signal intake: an HTTP request on a configured source becomes signals (Alertmanager webhook,
 * CloudEvents, or a mapped JSON body), stored with the incidents they change and a `signal.received`
 * audit entry in one transaction before the answer; then each incident that opened (or reopened, and
 * is not flapping) starts a diagnosis mission. A crash between the answer and the mission start
 * loses nothing: the sweep starts missions for open incidents that have none.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncidentSettings } from '../core/incidents/incident.js';
import { AccessError, ConfigError, InputError, InterlockError, isInterlockError, type Issue } from '../core/errors.js';
import { AlertmanagerWebhookSchema, signalsFromAlertmanager } from '../core/signals/alertmanager.js';
import { signalFromCloudEvent } from '../core/signals/cloudevents.js';
import { compileGenericMapping, signalsFromGeneric, type CompiledMapping } from '../core/signals/generic.js';
import type { Signal } from '../core/signals/signal.js';
import { toIssues } from '../core/validation.js';
import type { SourceConfig } from '../config/intake-config.js';
import type { IncidentRecord, IntakeResult, PgAuditLog, PgSignalStore } from '../store/index.js';
import { parseCloudEventsRequest } from './cloudevents-intake.js';

/** The minimal logger intake writes to (pino's `Logger` fits). */
export interface IntakeLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** One source, ready: its configuration, its HMAC secret (from the environment), its compiled mapping. */
export interface IntakeSource {
  readonly config: SourceConfig;
  readonly secret: Buffer | null;
  readonly mapping: CompiledMapping | null;
}

/** What {@link SignalIntake} needs. */
export interface SignalIntakeOptions {
  readonly store: PgSignalStore;
  readonly audit: PgAuditLog;
  readonly sources: readonly IntakeSource[];
  readonly incidents: IncidentSettings & { readonly startMissions: boolean };
  /** Starts the diagnosis mission of an incident (idempotent on `idempotencyKey`); returns its ID. */
  readonly startMission: (incident: IncidentRecord, idempotencyKey: string, project: string) => Promise<string>;
  readonly logger: IntakeLogger;
  readonly now?: () => number;
}

/** The answer to an accepted request. */
export interface IntakeResponse {
  readonly intakeId: string;
  /** Signals stored. */
  readonly accepted: number;
  readonly incidents: ReadonlyArray<{ readonly id: string; readonly events: readonly string[]; readonly missionId: string | null }>;
  /** Alerts Alertmanager left out of this notification (they come in later ones). */
  readonly truncatedAlerts: number;
}

/**
 * Prepares the configured sources: reads each HMAC secret from the environment and compiles each
 * mapping.
 * @throws ConfigError `CONFIG_INVALID` naming the source and field (a missing secret variable, a
 *   mapping that does not compile): intake fails closed at start, never open.
 */
export function prepareSources(sources: readonly SourceConfig[], env: Readonly<Record<string, string | undefined>>): IntakeSource[] {
  const issues: Issue[] = [];
  const prepared = sources.map((config, i): IntakeSource => {
    let secret: Buffer | null = null;
    if (config.auth.type === 'hmac') {
      const value = env[config.auth.secretEnv];
      if (value === undefined || value.length < 16) issues.push({ path: `intake.sources.${i}.auth.secretEnv`, message: `names ${config.auth.secretEnv}, which is ${value === undefined ? 'not set' : 'shorter than 16 characters'}`, expected: 'an environment variable holding a secret of at least 16 characters' });
      else secret = Buffer.from(value, 'utf8');
    }
    let mapping: CompiledMapping | null = null;
    if (config.mapping !== undefined) {
      const compiled = compileGenericMapping(config.mapping, `intake.sources.${i}.mapping`);
      if (compiled.mapping === null) issues.push(...compiled.issues);
      mapping = compiled.mapping;
    }
    return { config, secret, mapping };
  });
  if (issues.length > 0) throw new ConfigError('CONFIG_INVALID', `The signal intake configuration is invalid: ${issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}.`, issues);
  return prepared;
}

/**
 * The intake. {@link receive} handles one request; {@link sweep} (call it periodically) starts the
 * missions a crash missed and resolves quiet flapping incidents.
 */
export class SignalIntake {
  readonly #options: SignalIntakeOptions;
  readonly #sources: ReadonlyMap<string, IntakeSource>;
  readonly #now: () => number;

  constructor(options: SignalIntakeOptions) {
    this.#options = options;
    this.#sources = new Map(options.sources.map((source) => [source.config.name, source]));
    this.#now = options.now ?? Date.now;
  }

  /** The source named `name`. @throws InputError `SIGNAL_SOURCE_UNKNOWN` */
  source(name: string): IntakeSource {
    const source = this.#sources.get(name);
    if (source === undefined) {
      throw new InputError('SIGNAL_SOURCE_UNKNOWN', `There is no signal source "${name}": configured sources are ${[...this.#sources.keys()].join(', ') || 'none'} (intake.sources).`, [], { details: { source: name, sources: [...this.#sources.keys()] } });
    }
    return source;
  }

  /** The status a busy worker answers requests to source `name` with: its `busyStatus`, else 503 for Alertmanager (which never retries a 429), else 429. */
  busyStatus(name: string): 429 | 503 {
    const source = this.#sources.get(name);
    return source?.config.busyStatus ?? (source?.config.type === 'alertmanager' ? 503 : 429);
  }

  /**
   * Checks the HMAC signature of `body` for an `hmac` source (constant-time comparison).
   * @throws AccessError `AUTH_SIGNATURE_INVALID` when the header is missing or does not match.
   */
  verifySignature(source: IntakeSource, headers: Readonly<Record<string, string | string[] | undefined>>, body: Buffer): void {
    if (source.config.auth.type !== 'hmac' || source.secret === null) return;
    const { header, algorithm, prefix } = source.config.auth;
    const sent = headers[header];
    const expected = `${prefix}${createHmac(algorithm, source.secret).update(body).digest('hex')}`;
    if (typeof sent !== 'string' || sent.length !== expected.length || !timingSafeEqual(Buffer.from(sent), Buffer.from(expected))) {
      throw new AccessError('AUTH_SIGNATURE_INVALID', `The request to source ${source.config.name} is not signed with its secret: send ${header}: ${prefix}<hex HMAC-${algorithm.toUpperCase()} of the raw body>.`, { details: { source: source.config.name, header } });
    }
  }

  /**
   * Parses, stores and groups one request's signals, then starts the missions of the incidents that
   * need one. Resolves once stored (the missions are started before it resolves, but a failure to
   * start one is logged and left to the sweep, not answered).
   *
   * @param principal who sent it: the token's principal, or `hmac:<source>`.
   * @throws InputError `INPUT_INVALID` naming each bad field (nothing is stored).
   * @throws InterlockError `AUDIT_UNAVAILABLE` when the audit log cannot record it (nothing is stored).
   */
  async receive(source: IntakeSource, request: { readonly headers: Readonly<Record<string, string | string[] | undefined>>; readonly body: Buffer }, principal: string): Promise<IntakeResponse> {
    const receivedAt = this.#now();
    const { signals, truncatedAlerts } = this.#parse(source, request.headers, request.body, receivedAt);
    const contentType = typeof request.headers['content-type'] === 'string' ? request.headers['content-type'] : 'application/octet-stream';
    let result: IntakeResult;
    try {
      result = await this.#options.store.intake({ source: source.config.name, project: source.config.project, kind: source.config.type, contentType, body: request.body, principal, receivedAt, signals }, this.#options.incidents, async (trx, stored) => {
        await this.#options.audit.appendIn(trx, [{
          schemaVersion: 1, kind: 'signal.received', actor: principal, missionId: null, at: receivedAt,
          data: {
            source: source.config.name, type: source.config.type, intakeId: stored.intakeId, bodySha256: stored.bodySha256, truncatedAlerts,
            signals: stored.signals.map((s, i) => ({ fingerprint: s.fingerprint, name: signals[i]!.name, status: signals[i]!.status, incidentId: s.incidentId, events: s.events })),
          },
        }]);
      });
    } catch (error) {
      if (isInterlockError(error)) throw error;
      this.#options.logger.error({ err: error, source: source.config.name }, 'could not store signals; answered 503 so the sender retries');
      throw new InterlockError('AUDIT_UNAVAILABLE', 'The signals could not be stored and audited, so they were not accepted; send them again.', { cause: error });
    }
    const incidents = await Promise.all(result.incidents.map(async (incident) => {
      const starts = this.#options.incidents.startMissions && (incident.events.includes('opened') || (incident.events.includes('reopened') && !incident.flapping));
      const missionId = starts ? await this.#start(incident.id, incident.missionsStarted, source.config.project) : incident.missionId;
      return { id: incident.id, events: incident.events, missionId };
    }));
    if (truncatedAlerts > 0) this.#options.logger.warn({ source: source.config.name, truncatedAlerts }, 'Alertmanager truncated this notification; raise max_alerts on its webhook receiver');
    return { intakeId: result.intakeId, accepted: signals.length, incidents, truncatedAlerts };
  }

  #parse(source: IntakeSource, headers: Readonly<Record<string, string | string[] | undefined>>, body: Buffer, receivedAt: number): { signals: Signal[]; truncatedAlerts: number } {
    const name = source.config.name;
    if (source.config.type === 'cloudevents') {
      const parsed = parseCloudEventsRequest(headers, body);
      if (parsed.issues.length > 0) throw invalid(name, [...parsed.issues]);
      return { signals: parsed.events.map((event) => signalFromCloudEvent(event, name, receivedAt)), truncatedAlerts: 0 };
    }
    const contentType = typeof headers['content-type'] === 'string' ? headers['content-type'].split(';', 1)[0]!.trim().toLowerCase() : '';
    if (contentType !== 'application/json') {
      throw new InputError('MEDIA_TYPE_UNSUPPORTED', `Source ${name} takes application/json; got ${contentType === '' ? 'no Content-Type' : contentType}.`, [{ path: 'headers.content-type', message: 'is not application/json', expected: 'application/json', received: contentType }]);
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw invalid(name, [{ path: 'body', message: 'is not JSON', expected: 'a JSON object' }]);
    }
    if (source.config.type === 'alertmanager') {
      const parsed = AlertmanagerWebhookSchema.safeParse(json, { reportInput: true });
      if (!parsed.success) throw invalid(name, toIssues(parsed.error, 'body'));
      const notification = signalsFromAlertmanager(parsed.data, name);
      return { signals: [...notification.signals], truncatedAlerts: notification.truncatedAlerts };
    }
    const mapped = signalsFromGeneric(source.mapping!, json, name, receivedAt);
    if (mapped.issues.length > 0) throw invalid(name, [...mapped.issues]);
    return { signals: [...mapped.signals], truncatedAlerts: 0 };
  }

  /** Starts the mission of incident `id`; undefined (logged) when it could not, for the sweep to retry. */
  async #start(id: string, missionsStarted: number, project: string): Promise<string | null> {
    try {
      const incident = await this.#options.store.getIncident(id);
      if (incident === undefined) return null;
      const missionId = await this.#options.startMission(incident, `incident:${id}:${missionsStarted + 1}`, project);
      await this.#options.store.setMission(id, missionId);
      return missionId;
    } catch (error) {
      this.#options.logger.warn({ err: error, incidentId: id }, 'could not start the mission of an incident; the sweep retries');
      return null;
    }
  }

  /**
   * Starts the missions of open incidents that have none (a crash or an engine error after the
   * intake) and resolves flapping incidents that have been quiet long enough. Never throws.
   */
  async sweep(): Promise<void> {
    try {
      if (this.#options.incidents.startMissions) {
        for (const incident of await this.#options.store.openWithoutMission(100)) {
          await this.#start(incident.id, incident.missionsStarted, incident.project);
        }
      }
      const resolved = await this.#options.store.sweepFlapping(this.#now(), this.#options.incidents);
      if (resolved.length > 0) this.#options.logger.info({ incidents: resolved }, 'flapping incidents resolved after being quiet');
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'incident sweep failed; it runs again at the next interval');
    }
  }
}

function invalid(source: string, issues: Issue[]): InputError {
  return new InputError('INPUT_INVALID', `The request to source ${source} is invalid: ${issues.slice(0, 5).map((issue) => `${issue.path} ${issue.message}`).join('; ')}${issues.length > 5 ? `; and ${issues.length - 5} more` : ''}.`, issues);
}
