// The HTTP machinery both listeners share: a route table of typed definitions (auth, zod schemas,
// handler), registered on a Fastify app with one error handler, a JSON 404, a 1 MiB body limit,
// request ids and one log line per request. createApp() never calls listen().
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { z, ZodError, type ZodType } from 'zod';
import { ApiError, badRequest, notFound } from '../errors';
import { redactUrl, type Logger } from '../log';

export type AuthKind = 'none' | 'admin' | 'passport';
export type Principal = { kind: 'admin' } | { kind: 'user'; user_id: string; passport_id: string | null } | { kind: 'anonymous' };

export interface Ctx<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  principal: Principal;
  req: FastifyRequest;
  reply: FastifyReply;
}

/** A handler may return a body (sent with the route's status) or withStatus(status, body). */
export class Res {
  constructor(readonly status: number, readonly body: unknown) {}
}
export const withStatus = (status: number, body: unknown) => new Res(status, body);

export interface RouteDef<B extends ZodType = ZodType, Q extends ZodType = ZodType, P extends ZodType = ZodType> {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  /** OpenAPI form, e.g. /users/{user_id} */
  path: string;
  auth: AuthKind;
  summary: string;
  tag: string;
  body?: B;
  query?: Q;
  params?: P;
  status?: number;
  responses: Record<number, ZodType>;
  handler(ctx: Ctx<z.output<B>, z.output<Q>, z.output<P>>): Promise<unknown> | unknown;
}

export const route = <B extends ZodType = ZodType, Q extends ZodType = ZodType, P extends ZodType = ZodType>(
  def: RouteDef<B, Q, P>,
): RouteDef => def as unknown as RouteDef;

export type Authenticator = (req: FastifyRequest, kind: AuthKind) => Promise<Principal>;

export interface AppOptions {
  name: 'admin' | 'public';
  log: Logger;
  authenticate: Authenticator;
  /** Route tables with the prefixes they are served under. */
  mounts: Array<{ prefix: string; routes: RouteDef[] }>;
  bodyLimit?: number;
}

export const BODY_LIMIT = 1024 * 1024;
/** Request line + headers. Node's default (16 KiB) is less than a 64 KiB `command` sent as a query
 * parameter, as the seed SDK sends it; this lets every documented query value through. */
export const HEADER_LIMIT = 1024 * 1024;

function parse<T extends ZodType>(schema: T | undefined, value: unknown, where: string): unknown {
  if (!schema) return value;
  const r = schema.safeParse(value);
  if (!r.success) {
    throw badRequest(`invalid ${where}: ${r.error.issues.map((i) => `${i.path.join('.') || where}: ${i.message}`).join('; ')}`,
      r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  }
  return r.data;
}

export function toFastifyPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}

export function errorBody(code: string, message: string, details: unknown, requestId: string) {
  return { error: { code, message, ...(details === undefined ? {} : { details }), request_id: requestId } };
}

export function createApp(options: AppOptions): FastifyInstance {
  const { log } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? BODY_LIMIT,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    http: { maxHeaderSize: HEADER_LIMIT },
    // A path segment longer than maxParamLength or not valid percent-encoding: the error shape like
    // every other bad input (Fastify would answer 414/400 in its own shape, without a request id).
    frameworkErrors: (err, req, rawReply) => {
      const reply = rawReply as unknown as FastifyReply;
      const tooLong = (err as { code?: string }).code === 'FST_ERR_MAX_PARAM_LENGTH';
      reply.header('x-request-id', req.id);
      log.info('request', { req_id: req.id, server: options.name, method: req.method, url: redactUrl(req.url), status: 400, error: (err as { code?: string }).code });
      return reply.code(400).send(errorBody('invalid_request', tooLong ? 'a path parameter is too long' : 'the URL is not valid (bad percent-encoding)', undefined, req.id));
    },
    // Errors the HTTP parser finds before there is a request (oversize or malformed head): the error
    // shape too, on the raw socket.
    clientErrorHandler: (err, socket) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) return;
      const code = (err as NodeJS.ErrnoException).code;
      const [status, ecode, message] = code === 'HPE_HEADER_OVERFLOW' ? [431, 'headers_too_large', `request line and headers are larger than ${HEADER_LIMIT} bytes`]
        : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request_timeout', 'request not received in time']
        : [400, 'invalid_request', 'malformed HTTP request'];
      const id = randomUUID();
      const body = JSON.stringify(errorBody(ecode, message, undefined, id));
      log.info('client error', { req_id: id, server: options.name, status, code: code ?? 'unknown' });
      if (!socket.writable) return void socket.destroy(err);
      // Answer and half-close, then read and drop what the client is still sending (the rest of an
      // oversize head): closing with unread input resets the connection, and a reset can discard
      // the answer before the client reads it. The HTTP parser is done with this socket.
      socket.removeAllListeners('data');
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.resume();
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${id}\r\nConnection: close\r\n\r\n${body}`);
      setTimeout(() => socket.destroy(), 2000).unref();
    },
  });

  // Any content type: an empty body is "no body"; anything else must be JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(badRequest('request body is not valid JSON'), undefined);
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    log.info('request', {
      req_id: req.id, server: options.name, method: req.method, url: redactUrl(req.url),
      status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10,
    });
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody('not_found', `no route ${req.method} ${redactUrl(req.url.split('?')[0] ?? '')}`, undefined, req.id));
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof ApiError) {
      if (err.status >= 500) log.warn('request failed', { req_id: req.id, code: err.code, message: err.message });
      return reply.code(err.status).send(errorBody(err.code, err.message, err.details, req.id));
    }
    if (err instanceof ZodError) {
      return reply.code(400).send(errorBody('invalid_request', 'invalid request', err.issues, req.id));
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      const code = e.statusCode === 413 ? 'payload_too_large' : e.statusCode === 415 ? 'unsupported_media_type' : 'invalid_request';
      const message = e.statusCode === 413 ? `request body is larger than ${options.bodyLimit ?? BODY_LIMIT} bytes` : (e.message ?? 'bad request');
      return reply.code(e.statusCode).send(errorBody(code, message, undefined, req.id));
    }
    log.error('unhandled error', { req_id: req.id, error: (err as Error)?.stack ?? String(err) });
    return reply.code(500).send(errorBody('internal', 'internal error; see the daemon log for request ' + req.id, undefined, req.id));
  });

  for (const { prefix, routes } of options.mounts) {
    for (const def of routes) {
      app.route({
        method: def.method,
        url: toFastifyPath(prefix + def.path),
        handler: async (req, reply) => {
          const principal = await options.authenticate(req, def.auth);
          const params = parse(def.params, req.params, 'path') as never;
          const query = parse(def.query, req.query ?? {}, 'query') as never;
          const body = parse(def.body, req.body, 'body') as never;
          const out = await def.handler({ body, query, params, principal, req, reply });
          if (out instanceof Res) return reply.code(out.status).send(out.body);
          return reply.code(def.status ?? 200).send(out);
        },
      });
    }
  }
  return app;
}

export function requireUser(p: Principal): string {
  if (p.kind !== 'user') throw notFound('resource');
  return p.user_id;
}
