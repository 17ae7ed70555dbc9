// A real CloudEvents receiver over HTTP (node:http on 127.0.0.1, a free port) for the audit export
// tests: it parses every request with the CloudEvents SDK (structured and batched modes) and answers
// as scripted, one behaviour per request, then 200.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTP, type CloudEvent } from 'cloudevents';

/** How the receiver answers one request. */
export type ReceiverBehaviour =
  /** Answers 200 (the events are accepted). */
  | 'ok'
  /** Answers `status` with `body` and `headers` (the events are not accepted). */
  | { readonly status: number; readonly body?: string; readonly headers?: Readonly<Record<string, string>> }
  /** Destroys the connection without an answer. */
  | 'destroy'
  /** Never answers (the client times out); the connection is closed by `close()`. */
  | 'hang'
  /** Accepts the events (a SIEM that stored them) but answers only when `release()` is called. */
  | 'hold';

/** One request as the receiver saw it. */
export interface ReceivedRequest {
  readonly contentType: string;
  readonly authorization: string | undefined;
  readonly headers: IncomingMessage['headers'];
  readonly events: readonly CloudEvent<unknown>[];
  /** How it was answered. */
  readonly behaviour: ReceiverBehaviour;
}

export interface Receiver {
  /** Base URL, e.g. `http://127.0.0.1:40123/ingest`. */
  readonly url: string;
  /** Every request, in arrival order. */
  readonly requests: ReceivedRequest[];
  /** Events of accepted requests (`ok` and `hold`), in arrival order. */
  accepted(): CloudEvent<unknown>[];
  /** Queues behaviours for the next requests (after them, `ok`). */
  script(...behaviours: ReceiverBehaviour[]): void;
  /** Answers 200 to every held request. */
  release(): void;
  /** Resolves once `count` requests have arrived in all. */
  waitForRequests(count: number): Promise<void>;
  /** Most requests in progress at once (held or not yet answered). */
  readonly maxConcurrent: number;
  close(): Promise<void>;
}

/** Starts a receiver; `delayMs` delays every answer (to let exporters overlap). */
export async function startReceiver(options: { readonly delayMs?: number } = {}): Promise<Receiver> {
  const queue: ReceiverBehaviour[] = [];
  const requests: ReceivedRequest[] = [];
  const held: ServerResponse[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let inFlight = 0;
  let maxConcurrent = 0;
  const server = createServer((req, res) => {
    inFlight += 1;
    maxConcurrent = Math.max(maxConcurrent, inFlight);
    res.on('close', () => {
      inFlight -= 1;
    });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const behaviour = queue.shift() ?? 'ok';
      const body = Buffer.concat(chunks).toString('utf8');
      const parsed = HTTP.toEvent({ headers: req.headers, body });
      const events = (Array.isArray(parsed) ? parsed : [parsed]) as CloudEvent<unknown>[];
      requests.push({ contentType: String(req.headers['content-type']), authorization: req.headers.authorization, headers: req.headers, events, behaviour });
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      const answer = (): void => {
        if (behaviour === 'ok') res.writeHead(200).end('{"ok":true}');
        else if (behaviour === 'destroy') req.socket.destroy();
        else if (behaviour === 'hang') return;
        else if (behaviour === 'hold') held.push(res);
        else res.writeHead(behaviour.status, behaviour.headers).end(behaviour.body ?? '');
      };
      if (options.delayMs === undefined || behaviour === 'destroy') answer();
      else setTimeout(answer, options.delayMs);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/ingest`,
    requests,
    accepted: () => requests.filter((r) => r.behaviour === 'ok' || r.behaviour === 'hold').flatMap((r) => r.events),
    script: (...behaviours) => void queue.push(...behaviours),
    release: () => {
      for (const res of held.splice(0)) res.writeHead(200).end('{"ok":true}');
    },
    waitForRequests: (count) => (requests.length >= count ? Promise.resolve() : new Promise((resolve) => void waiters.push({ count, resolve }))),
    get maxConcurrent() {
      return maxConcurrent;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
