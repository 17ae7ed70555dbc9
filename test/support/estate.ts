// For the reference estate's tests: a fixture state for the renderers and the configuration, the
// skip rule of the integration test, and a plain node:http receiver of Alertmanager's webhook (the
// Interlock server need not run for the estate's own test).
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ESTATE_SERVICE_PROGRAMS, estatePaths } from '../../src/estate/estate-layout.js';
import type { EstateState } from '../../src/estate/estate-state.js';
import { findEstateBinaries } from '../../src/estate/estate.js';

/** A state as `up` writes it, for an estate in `dir`, with ports from 41000. */
export function fixtureState(dir = '/srv/estate', overrides: Partial<EstateState> = {}): EstateState {
  const programs = Object.fromEntries(ESTATE_SERVICE_PROGRAMS.map((p, index) => [p.name, 41_006 + index]));
  return {
    format: 1,
    dir,
    createdAt: 1_700_000_000_000,
    startedAt: 1_700_000_010_000,
    stoppedAt: null,
    ports: { http: 41_000, prometheus: 41_001, alertmanager: 41_002, supervisor: 41_003, postgres: 41_004, exporter: 41_005, programs },
    urls: {
      http: 'http://127.0.0.1:41000',
      prometheus: 'http://127.0.0.1:41001',
      alertmanager: 'http://127.0.0.1:41002',
      supervisor: 'http://127.0.0.1:41003/RPC2',
      exporter: 'http://127.0.0.1:41005/metrics',
    },
    supervisorUsername: 'interlock',
    postgres: { port: 41_004, database: 'estate', user: 'postgres', runAs: 'postgres' },
    nginxBinary: '/usr/sbin/nginx',
    alertmanager: { webhookUrl: 'http://127.0.0.1:7411/v1/signals/alertmanager', sourceName: 'alertmanager', tokenFile: '/srv/token' },
    interlockUrl: 'http://127.0.0.1:7411',
    watchPid: 4242,
    paths: estatePaths(dir),
    injections: [],
    healedAt: null,
    ...overrides,
  };
}

/**
 * A sentence for `describe.skipIf(...)` titles when a binary of the estate is missing, or throws in CI
 * (`CI=true`), where `.ci/run` installs them and a missing one is a broken set-up.
 */
export function estateSkipReason(): string | undefined {
  try {
    findEstateBinaries(process.env.PATH);
    return undefined;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (process.env.CI === 'true') throw new Error(`CI must run the estate test, but: ${reason}`);
    return reason;
  }
}

/** One alert of an Alertmanager webhook notification (version 4). */
export interface NotifiedAlert {
  readonly status: 'firing' | 'resolved';
  readonly labels: Readonly<Record<string, string>>;
}

/** One notification as the receiver got it. */
export interface Notification {
  /** When it arrived, ms since the epoch. */
  readonly at: number;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly status: string;
  readonly alerts: readonly NotifiedAlert[];
}

/** A webhook receiver on 127.0.0.1 recording every POST it gets (answered 200). */
export interface WebhookReceiver {
  /** Its base URL, e.g. `http://127.0.0.1:40123`: the `--interlock-url` of the estate. */
  readonly url: string;
  readonly notifications: Notification[];
  close(): Promise<void>;
}

/** Starts a {@link WebhookReceiver} on a free port. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const notifications: Notification[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status?: string; alerts?: NotifiedAlert[] };
        notifications.push({ at: Date.now(), path: request.url ?? '', authorization: request.headers.authorization, status: body.status ?? '', alerts: body.alerts ?? [] });
      } catch {
        notifications.push({ at: Date.now(), path: request.url ?? '', authorization: request.headers.authorization, status: 'unparsable', alerts: [] });
      }
      response.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    notifications,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
