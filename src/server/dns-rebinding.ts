/**
 * DNS-rebinding protection for the MCP endpoint: a web page on `evil.example` whose name is made to
 * resolve to 127.0.0.1 can make a browser send requests to a local Interlock, but those carry
 * `Host: evil.example` and `Origin: http://evil.example`; this check refuses them (MCP
 * specification, Streamable HTTP transport, "Security Warning"; docs/security.md).
 */

/** The hosts and origins {@link checkHostAndOrigin} accepts (`mcp.server.allowedHosts`, `allowedOrigins`). */
export interface HostOriginPolicy {
  /**
   * `Host` values accepted, case-insensitive: `host:port` matches that port only, a bare host name
   * (`interlock.example.com`, `[::1]`) any port.
   */
  readonly allowedHosts: readonly string[];
  /**
   * `Origin` values accepted besides the request's own origin (scheme, host and port; a default
   * port may be left out), e.g. `http://localhost:6274` for the MCP Inspector.
   */
  readonly allowedOrigins: readonly string[];
}

/** The request headers the check reads (Node's `IncomingHttpHeaders` fits). */
export interface HostOriginHeaders {
  readonly host?: string | undefined;
  readonly origin?: string | readonly string[] | undefined;
}

/** `host` or `host:port`, with `host` a name, an IPv4 address or a bracketed IPv6 address. */
const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9._~-]+)(?::(\d{1,5}))?$/;

/**
 * Why a request must be refused, or undefined when its `Host` is one of `allowedHosts` and its
 * `Origin`, if any, is in `allowedOrigins` or the origin of the `Host` itself. Answer a refused
 * request 403 (as the MCP TypeScript SDK does; the MCP specification requires 403 for a bad
 * `Origin`), before authentication. A request without `Origin` (not from a browser) passes the
 * origin check; one with `Origin: null` (a sandboxed page, a file) does not.
 * @see MCP specification 2025-06-18, Basic › Transports › Streamable HTTP › Security Warning.
 */
export function checkHostAndOrigin(headers: HostOriginHeaders, policy: HostOriginPolicy): string | undefined {
  const hostHeader = headers.host;
  if (hostHeader === undefined || hostHeader === '') return 'the request has no Host header';
  const host = parseHost(hostHeader);
  if (host === undefined) return 'the Host header is not host[:port]';
  if (!policy.allowedHosts.some((entry) => hostMatches(entry, host))) {
    return `the Host ${host.name}${host.port === undefined ? '' : `:${host.port}`} is not one of mcp.server.allowedHosts`;
  }
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  if (typeof origin !== 'string') return 'the request has more than one Origin header';
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return 'the Origin header is not an origin (scheme://host[:port])';
  }
  if (origin === 'null' || (url.protocol !== 'http:' && url.protocol !== 'https:')) return 'the Origin is not an http(s) origin';
  if (policy.allowedOrigins.some((allowed) => normalizedOrigin(allowed) === url.origin)) return undefined;
  if (sameAuthority(url, hostHeader)) return undefined;
  return `the Origin ${url.origin} is neither the Host's own origin nor one of mcp.server.allowedOrigins`;
}

/**
 * The `Host` values accepted when `mcp.server.allowedHosts` is not set: `127.0.0.1`, `localhost` and
 * `[::1]` on `port` (the port the server listens on), `host:port` when the server listens on a
 * specific non-loopback address, and the host of `publicUrl` when set.
 */
export function defaultAllowedHosts(server: { readonly host: string; readonly port: number; readonly publicUrl?: string | undefined }): string[] {
  const hosts = [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `[::1]:${server.port}`];
  const bindHost = server.host.includes(':') && !server.host.startsWith('[') ? `[${server.host}]` : server.host;
  if (!['0.0.0.0', '[::]', '127.0.0.1', 'localhost', '[::1]'].includes(bindHost.toLowerCase())) hosts.push(`${bindHost.toLowerCase()}:${server.port}`);
  if (server.publicUrl !== undefined) hosts.push(new URL(server.publicUrl).host);
  return [...new Set(hosts)];
}

interface ParsedHost {
  readonly name: string;
  readonly port: string | undefined;
}

function parseHost(value: string): ParsedHost | undefined {
  const match = HOST.exec(value.trim().toLowerCase());
  if (match?.[1] === undefined) return undefined;
  return { name: match[1].replace(/\.$/, ''), port: match[2] };
}

function hostMatches(entry: string, host: ParsedHost): boolean {
  const allowed = parseHost(entry);
  if (allowed === undefined || allowed.name !== host.name) return false;
  return allowed.port === undefined || allowed.port === host.port;
}

/** `value` as `URL.origin` (lower case, default port left out), or itself when it does not parse. */
function normalizedOrigin(value: string): string {
  try {
    return new URL(value).origin;
  } catch {
    return value;
  }
}

/** Whether `origin` names the same host and port as the `Host` header, its default port taken from the origin's scheme. */
function sameAuthority(origin: URL, hostHeader: string): boolean {
  try {
    return new URL(`${origin.protocol}//${hostHeader.trim()}`).host === origin.host;
  } catch {
    return false;
  }
}
