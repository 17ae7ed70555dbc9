/**
 * The HTTP edge of Interlock's error model: the one place where errors become responses
 * (STYLE.md, "Translate errors only at the edges"). Every error answers
 * `{ error: { code, message, details } }`; a 4xx names each wrong field in `details.issues`.
 */
import type { FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { ERROR_CODES, InputError, isInterlockError, type ErrorCode, type Issue } from '../core/errors.js';
import { describeValue, toIssues } from '../core/validation.js';

/** The body of every error response. */
interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly details: Record<string, unknown> };
}

/** What Fastify calls each part of a request, and what the issue paths call it. */
const PART_PREFIX: Readonly<Record<string, string>> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/**
 * Turns a Zod error into {@link Issue}s whose paths start with `prefix` (`body`, `query`, `params`,
 * `headers`), with `expected` filled in for enums, bounds and formats. An unknown field of a strict
 * object becomes one issue per field, named by its own path (`body.colour`), not the object's.
 * Parse with `{ reportInput: true }` to get `received`.
 */
export function issuesFromZod(error: z.ZodError, prefix: string): Issue[] {
  const base = toIssues(error, prefix);
  return error.issues.flatMap((issue, index): Issue[] => {
    const mapped = base[index] ?? { path: prefix, message: issue.message };
    switch (issue.code) {
      case 'unrecognized_keys': {
        const input: unknown = issue.input;
        return issue.keys.map((key) => {
          const value = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[key] : undefined;
          return {
            path: mapped.path === '(root)' ? key : `${mapped.path}.${key}`,
            message: `unknown field "${key}"; remove it or check its spelling`,
            expected: 'no such field',
            ...(value === undefined ? {} : { received: describeValue(value) }),
          };
        });
      }
      case 'invalid_value':
        return [{ ...mapped, expected: `one of ${issue.values.map((value) => JSON.stringify(value)).join(' | ')}` }];
      case 'too_small':
        return [{ ...mapped, expected: `${bound(issue.origin)} ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}` }];
      case 'too_big':
        return [{ ...mapped, expected: `${bound(issue.origin)} ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}` }];
      case 'invalid_format':
        return [{ ...mapped, expected: issue.format === 'regex' ? `a string matching ${issue.pattern ?? 'the pattern'}` : issue.format }];
      default:
        return [mapped];
    }
  });
}

/** How a bound is worded in `expected`: a string's length, an array's item count, a number itself. */
function bound(origin: string): string {
  if (origin === 'string') return 'length';
  if (origin === 'array' || origin === 'set') return 'item count';
  if (origin === 'object') return 'field count';
  return origin;
}

/**
 * Fastify validator compiler for Zod schemas: parses the request part and, when it fails, returns an
 * `INPUT_INVALID` {@link InputError} whose issue paths are prefixed with the part (`body.steps.0.tool`,
 * `query.limit`, `params.id`). On success the parsed value (defaults applied, query strings coerced)
 * replaces the raw one. Used instead of fastify-type-provider-zod's `validatorCompiler`, whose
 * errors carry neither the request part in their paths nor the received value.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
  const prefix = PART_PREFIX[httpPart ?? ''] ?? httpPart ?? 'request';
  return (data: unknown) => {
    const result = schema.safeParse(data, { reportInput: true });
    if (result.success) return { value: result.data };
    const issues = issuesFromZod(result.error, prefix);
    return { error: new InputError('INPUT_INVALID', invalidMessage(prefix, issues), issues) };
  };
};

/** The message of an `INPUT_INVALID` error: which part was wrong and which fields to fix. */
function invalidMessage(part: string, issues: readonly Issue[]): string {
  const paths = [...new Set(issues.map((issue) => issue.path))];
  const listed = paths.length > 5 ? `${paths.slice(0, 5).join(', ')} and ${paths.length - 5} more` : paths.join(', ');
  const what = { body: 'request body', query: 'query string', params: 'path parameters', headers: 'request headers' }[part] ?? `request ${part}`;
  return `The ${what} ${what.endsWith('s') ? 'are' : 'is'} invalid; fix ${listed} (details.issues says what each expects).`;
}

/**
 * Rewrites the issue paths of an {@link InputError} raised below the HTTP layer (which knows
 * nothing of requests: `steps.0.tool`) to name the request part (`body.steps.0.tool`). Any other
 * error is returned unchanged.
 */
export function prefixIssuePaths(error: unknown, prefix: string): unknown {
  if (!(error instanceof InputError) || error.issues.length === 0) return error;
  const issues = error.issues.map((issue) => ({
    ...issue,
    path: issue.path === '(root)' ? prefix : `${prefix}.${issue.path}`,
  }));
  const { issues: _old, ...details } = error.details;
  return new InputError(error.code, error.message, issues, { details, cause: error });
}

/** An error thrown by Fastify itself: a stable `FST_*` code and an HTTP status. */
interface FastifyLikeError {
  readonly code: string;
  readonly statusCode: number;
  readonly message: string;
  readonly validation?: ReadonlyArray<{ readonly instancePath?: string; readonly message?: string }>;
  readonly validationContext?: string;
}

function isFastifyError(error: unknown): error is FastifyLikeError {
  return (
    error instanceof Error &&
    typeof (error as Partial<FastifyLikeError>).code === 'string' &&
    typeof (error as Partial<FastifyLikeError>).statusCode === 'number'
  );
}

function body(code: ErrorCode, message: string, details: Record<string, unknown> = {}): ErrorBody {
  return { error: { code, message, details } };
}

/** The status and body for an error Fastify raised while routing, parsing or validating a request. */
function fromFastifyError(error: FastifyLikeError, request: FastifyRequest): { status: number; body: ErrorBody } | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return {
        status: 400,
        body: body('INPUT_INVALID', 'The request body is not valid JSON; send a JSON object.', {
          issues: [{ path: 'body', message: 'the body does not parse as JSON', expected: 'valid JSON' }],
        }),
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: 400,
        body: body('INPUT_INVALID', 'The request body is empty but Content-Type is application/json; send a JSON object or no Content-Type.', {
          issues: [{ path: 'body', message: 'the body is empty', expected: 'valid JSON' }],
        }),
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const contentType = request.headers['content-type'];
      return {
        status: 415,
        body: body('MEDIA_TYPE_UNSUPPORTED', 'Unsupported Content-Type; send the body as application/json.', {
          expected: 'application/json',
          ...(contentType === undefined ? {} : { received: describeValue(contentType) }),
        }),
      };
    }
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const limitBytes = request.routeOptions.bodyLimit;
      return {
        status: 413,
        body: body('BODY_TOO_LARGE', `The request body is larger than the limit of ${limitBytes} bytes; send a smaller one.`, { limitBytes }),
      };
    }
    default:
      break;
  }
  if (error.validation !== undefined) {
    // A validation error from a validator other than ours (for example an Ajv schema on a plugin route).
    const prefix = PART_PREFIX[error.validationContext ?? ''] ?? 'request';
    const issues = error.validation.map((item) => ({
      path: [prefix, ...(item.instancePath ?? '').split('/').filter((part) => part !== '')].join('.'),
      message: item.message ?? 'invalid',
    }));
    return { status: 400, body: body('INPUT_INVALID', invalidMessage(prefix, issues), { issues }) };
  }
  if (error.statusCode >= 400 && error.statusCode < 500) {
    // Fastify's own client errors (bad URL, bad Content-Length, ...): their messages are fixed texts.
    return { status: error.statusCode, body: body('INPUT_INVALID', error.message, { fastifyCode: error.code }) };
  }
  return undefined;
}

/**
 * The API's error handler (`app.setErrorHandler`). `InterlockError`s answer with their registered
 * status, code, message and details; Fastify's parsing and validation errors become `INPUT_INVALID`
 * (400, or 413 / 415 for a body too large / of the wrong type); anything else answers 500 `INTERNAL`
 * with a generic message and the request ID, while the real error goes to the log only.
 */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isInterlockError(error)) {
    if (error.status >= 500) request.log.error({ err: error }, `request failed: ${error.code}`);
    else request.log.info({ code: error.code, details: error.details }, `request refused: ${error.code}`);
    // RFC 6750 §3: a 401 names the scheme the client must use.
    if (error.status === 401) void reply.header('www-authenticate', 'Bearer realm="interlock"');
    return reply.code(error.status).send(body(error.code, error.message, error.details));
  }
  const known = isFastifyError(error) ? fromFastifyError(error, request) : undefined;
  if (known !== undefined) {
    request.log.info({ code: known.body.error.code, fastifyCode: (error as FastifyLikeError).code }, 'request refused');
    return reply.code(known.status).send(known.body);
  }
  request.log.error({ err: error }, 'unexpected error while handling a request');
  return reply
    .code(ERROR_CODES.INTERNAL.status)
    .send(
      body('INTERNAL', `An unexpected error occurred inside Interlock; the server log has the details under request ID ${request.id}.`, {
        requestId: request.id,
      }),
    );
}

/** The API's not-found handler: 404 `ROUTE_NOT_FOUND` naming the method and path that matched nothing. */
export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?', 1)[0] ?? '';
  const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  return reply
    .code(ERROR_CODES.ROUTE_NOT_FOUND.status)
    .send(body('ROUTE_NOT_FOUND', `No route matches ${request.method} ${shown}; GET /openapi.json lists the API.`, { method: request.method, path: shown }));
}
