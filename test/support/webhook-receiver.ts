// A real webhook receiver (node:http on 127.0.0.1, a free port) for the notification tests: it keeps
// every request's headers and raw body, checks the HMAC signature as a receiver would, and answers as
// scripted, one answer per request, then 200.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the receiver answers one request: a status with optional headers (default 200). */
export interface ScriptedAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** One request as received. */
export interface WebhookRequest {
  readonly headers: IncomingHttpHeaders;
  /** The raw body, as the signature covers it. */
  readonly body: string;
  /** The body parsed as JSON. */
  readonly json: any;
  /** How it was answered. */
  readonly status: number;
}

export interface WebhookReceiver {
  /** e.g. `http://127.0.0.1:40123/hook`. */
  readonly url: string;
  readonly requests: WebhookRequest[];
  /** Queues answers for the next requests (after them, 200). */
  script(...answers: ScriptedAnswer[]): void;
  /** Resolves once `count` requests have arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<WebhookRequest[]>;
  close(): Promise<void>;
}

/**
 * True when `signature` (the `X-Interlock-Signature` header) is `sha256=` and the hex HMAC-SHA256 of
 * `body` under `secret`, compared in constant time: how a receiver verifies a delivery.
 */
export function verifySignature(secret: string, body: string, signature: string | string[] | undefined): boolean {
  if (typeof signature !== 'string' || !signature.startsWith('sha256=')) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(body, 'utf8').digest('hex'), 'utf8');
  const given = Buffer.from(signature.slice('sha256='.length), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Starts a receiver that stops by itself after `lifetimeMs` (a watchdog, default 5 min). */
export async function startWebhookReceiver(options: { readonly lifetimeMs?: number } = {}): Promise<WebhookReceiver> {
  const queue: ScriptedAnswer[] = [];
  const requests: WebhookRequest[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = queue.shift() ?? { status: 200 };
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      requests.push({ headers: req.headers, body, json, status: answer.status });
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers }).end(answer.body ?? (answer.status < 300 ? 'ok' : 'not now'));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const watchdog = setTimeout(() => server.close(), options.lifetimeMs ?? 300_000);
  watchdog.unref();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    script: (...answers) => queue.push(...answers),
    async waitFor(count, timeoutMs = 30_000) {
      if (requests.length < count) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`the webhook received ${requests.length} request(s), not ${count}, within ${timeoutMs} ms`)), timeoutMs);
          waiters.push({ count, resolve: () => { clearTimeout(timer); resolve(); } });
        });
      }
      return requests.slice(0, count);
    },
    async close() {
      clearTimeout(watchdog);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
