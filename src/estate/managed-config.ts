// The whole Interlock configuration for closing the loop on a reference estate: what
// `estateInterlockConfig` gives (connectors for reading and the first writes, intake, diagnosis
// queries) plus the write connectors of the five remediations (releases, postgres, scale), the
// canary latency evidence, the estate's runbooks with their site values, and its policies. Used by
// `npm run demo`, the end-to-end tests and the MTTR benchmark.
import { fileURLToPath } from 'node:url';
import { estateService } from './estate-layout.js';
import type { EstateState } from './estate-state.js';
import { DATABASE_URL_ENV, ESTATE_DIAGNOSIS_QUERIES, estateInterlockConfig, estateTargets } from './interlock-config.js';

/** The estate's runbooks and policies, shipped in `examples/estate/`. */
export const ESTATE_RUNBOOKS_DIR = fileURLToPath(new URL('../../examples/estate/runbooks', import.meta.url));
export const ESTATE_POLICIES_DIR = fileURLToPath(new URL('../../examples/estate/policies', import.meta.url));
/** The estate's agents (triage → resolution → governance → utility), shipped in `examples/estate/agents`. */
export const ESTATE_AGENTS_DIR = fileURLToPath(new URL('../../examples/estate/agents', import.meta.url));

/** How far before an incident's onset its diagnosis looks, ms (the least `diagnosis.windowBeforeMs` allows). */
export const DIAGNOSIS_WINDOW_MS = 60_000;

/**
 * How long a diagnosis waits after its incident opens, ms: the estate's alerts fire 5 to 10 s after
 * the change (their `for`), and the canary test needs some hundred requests of the canary.
 */
export const DIAGNOSIS_SETTLE_MS = 20_000;

/**
 * How long the estate must have run before a fault is injected, ms: the diagnosis window and the 15 s
 * rates must see steady traffic, not the ramp from zero at start (which reads as a load surge).
 */
export const ESTATE_WARM_UP_MS = DIAGNOSIS_WINDOW_MS + 20_000;

/** The services the scale connector scales out and in (it owns their nginx upstreams). */
const SCALED: readonly string[] = ['catalog'];

/** Options of {@link managedEstateConfig}. */
export interface ManagedEstateOptions {
  /** Interlock's base URL (its `server.host` and `server.port`): where Alertmanager notifies. */
  readonly url: string;
  /** Interlock's data directory. */
  readonly dataDir: string;
  /** The pool size the pool runbook raises to, per service (within each pool's hard limit). @default 12 */
  readonly poolSizeRaised?: number;
  /** Hard limit of the pool tools. @default 16 */
  readonly poolHardLimit?: number;
  /** The policy directory. @default the estate's policies */
  readonly policyDir?: string;
  /**
   * Whether incidents go through the estate's agents (a triage agent's diagnosis handed to a
   * resolution agent, checked by a governance agent) rather than straight to `runbooks.dispatch`.
   * @default true
   */
  readonly agents?: boolean;
  /** Another agents directory (e.g. with an LLM resolution agent). @default the estate's agents */
  readonly agentsDir?: string;
  /** `agents.llm` of the configuration (LLM providers). @default none */
  readonly llm?: Record<string, unknown>;
}

/**
 * The configuration object (the shape of `interlock.yaml`) that manages the estate in `state`. Secrets
 * stay in the environment: supervisord's password in `ESTATE_SUPERVISOR_PASSWORD` and the estate
 * database's URL in {@link DATABASE_URL_ENV} (`estateInterlockEnv` reads both).
 */
export function managedEstateConfig(state: EstateState, options: ManagedEstateOptions): Record<string, unknown> {
  const base = estateInterlockConfig(state, { url: options.url }) as { connectors: Record<string, unknown>; diagnosis: Record<string, unknown> } & Record<string, unknown>;
  const targets = estateTargets(state);
  const supervisor = base.connectors.supervisor as { url: string; basicAuth: unknown };
  const nginx = base.connectors.nginx as { binary: string; mainConfig: string; confDir: string; pidFile: string };
  const access = { url: supervisor.url, basicAuth: supervisor.basicAuth };
  const risk = (service: string): 'write-prod' | 'write-low' => (estateService(service).tier === 'critical' ? 'write-prod' : 'write-low');
  const raised = options.poolSizeRaised ?? 12;
  const hardLimit = options.poolHardLimit ?? 16;
  const instance = (program: string) => targets.flatMap((t) => t.instances).find((i) => i.program === program);
  return {
    ...base,
    dataDir: options.dataDir,
    log: { level: 'warn' },
    policy: { dir: options.policyDir ?? ESTATE_POLICIES_DIR },
    // Faults follow each other within minutes, each healed before the next: an alert that fires again
    // more than a minute after its incident resolved is a new incident (not a reopened one), and
    // flapping is judged over two minutes, so a heal's status changes never mark a later fault's
    // incident flapping (a flapping incident starts no mission).
    incidents: { reopenWindowMs: 60_000, flapping: { maxTransitions: 4, windowMs: 120_000 } },
    ...(options.agents === false ? {} : { agents: { dir: options.agentsDir ?? ESTATE_AGENTS_DIR, ...(options.llm === undefined ? {} : { llm: options.llm }) } }),
    runbooks: {
      dir: ESTATE_RUNBOOKS_DIR,
      vars: Object.fromEntries(targets.map((t) => [t.service, {
        poolSizeRaised: raised,
        // The canary shift: the stable instance and the canary of the service's upstream.
        ...(t.service === 'checkout' ? { stableAddress: instance('checkout')?.address ?? '', canaryAddress: instance('checkout-canary')?.address ?? '' } : {}),
      }])),
    },
    diagnosis: {
      ...base.diagnosis,
      // A short window at a fine step: the estate scrapes every second and is young (evidence from
      // before it started is noise, see ESTATE_WARM_UP_MS); rates over 15 s follow a fault quickly.
      windowBeforeMs: DIAGNOSIS_WINDOW_MS,
      stepSeconds: 2,
      settleMs: DIAGNOSIS_SETTLE_MS,
      queries: ESTATE_DIAGNOSIS_QUERIES.map((q) => ({ role: q.role, query: q.query.replaceAll('[1m]', '[15s]') })),
      latency: { query: 'sum by (le, version) (increase(http_request_duration_seconds_bucket{service="$service"}[$range]))', groupLabel: 'version', canaryMatch: 'canary', unitSeconds: true },
    },
    connectors: {
      ...base.connectors,
      // The scale connector owns the upstream of the services it scales (one writer per upstream file).
      nginx: { ...nginx, upstreams: (nginx as { upstreams?: Array<{ name: string }> }).upstreams?.filter((upstream) => !SCALED.includes(upstream.name)) ?? [] },
      releases: {
        enabled: true,
        root: state.paths.releasesDir,
        deployLog: state.paths.deployLog,
        gitDir: state.paths.deploymentsRepo,
        supervisor: access,
        verifyWindowMs: 3000,
        services: targets.flatMap((t) => t.instances.filter((i) => i.program === i.track).map((i) => ({
          name: i.track, processes: [i.program], tier: t.tier, risk: risk(t.service), healthUrl: i.healthUrl,
        }))),
      },
      postgres: {
        enabled: true,
        urlEnv: DATABASE_URL_ENV,
        services: targets.map((t) => ({
          name: t.service,
          applicationName: t.applicationName,
          tier: t.tier,
          risk: risk(t.service),
          pool: { file: t.poolFile, metricsUrl: t.instances.find((i) => i.autostart)?.metricsUrl ?? t.instances[0]!.metricsUrl, baseline: t.poolBaseline, min: 1, max: Math.max(hardLimit, t.poolBaseline) },
        })),
      },
      scale: {
        enabled: true,
        supervisor: access,
        nginx: { binary: nginx.binary, mainConfig: nginx.mainConfig, confDir: nginx.confDir, pidFile: nginx.pidFile },
        verifyWindowMs: 3000,
        services: targets.filter((t) => SCALED.includes(t.service)).map((t) => ({
          name: t.service, tier: t.tier, risk: risk(t.service), upstream: t.upstream,
          instances: t.instances.map((i) => ({ process: i.program, address: i.address, weight: 100 })),
          minInstances: 1,
        })),
      },
    },
  };
}
