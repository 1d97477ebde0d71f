// The WebSocket shell endpoint on the public listener: /v1/gke/shell/{id} and /v1/sessions/{id}/shell.
// Credentials, ownership and k8s_ns/pod are checked before the upgrade completes (a refused
// handshake gets a plain HTTP 401/404/409 with the JSON error body, never a half-open socket).
import type { Server, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { WebSocketServer } from 'ws';
import type { Logger } from '../log';
import { redactUrl } from '../log';
import type { Services } from '../services';
import type { TokenService } from '../auth/tokens';
import type { Principal } from '../api/http';
import { errorBody } from '../api/http';
import { authorizeShell, handshakeError, matchShellPath } from './auth';
import { runLineProtocol } from './line';
import { heartbeat } from '../providers/local/ws-data';
import { dim, runPtyProtocol, PTY_SUBPROTOCOL } from './pty';
import { handshakeProblem, splice, switchingProtocols, WS_VERSIONS } from './splice';
import { sessionRef } from '../services/sessions';
import type { SessionRow } from '../store';

export interface ShellDeps {
  services: Services;
  tokens: TokenService;
  auth: { passport(secret: string): Principal; limited<T>(address: string, run: () => T): T };
  log: Logger;
  /** Extra allowed browser origins (the daemon's own host is always allowed; no Origin is allowed). */
  allowedOrigins?: string[];
}

const HEARTBEAT_MS = Number(process.env.ONMEMOS_WS_HEARTBEAT_MS ?? 30_000);

function refuse(socket: Duplex, status: number, body: unknown, headers = '') {
  const text = JSON.stringify(body);
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' }[status] ?? 'Error';
  socket.resume(); // read (and drop) what the client still sends, so that its close is seen
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${headers}Connection: close\r\n\r\n${text}`);
  setTimeout(() => socket.destroy(), 2000).unref();
}

function originAllowed(req: IncomingMessage, extra: string[]): boolean {
  const origin = req.headers.origin;
  if (!origin) return true; // non-browser clients (SDK, extension host) send none
  try {
    const o = new URL(origin);
    if (o.host === req.headers.host) return true;
    return extra.includes(origin) || (process.env.ONMEMOS_ALLOWED_ORIGINS ?? '').split(',').includes(origin);
  } catch {
    return false;
  }
}

export function attachShellEndpoint(server: Server, deps: ShellDeps) {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has(PTY_SUBPROTOCOL) ? PTY_SUBPROTOCOL : false),
  });
  /** Spliced shells (see splice.ts): how to end each at shutdown. */
  const spliced = new Set<() => void>();
  let closing = false;

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node drops its own error listener before 'upgrade': without one, a client that resets the
    // connection while it is refused (or spliced) would crash the daemon.
    socket.on('error', () => undefined);
    try {
      upgrade(req, socket, head);
    } catch (e) {
      deps.log.error('shell upgrade failed', { error: String((e as Error)?.stack ?? e) });
      refuse(socket, 500, errorBody('internal', 'internal error', undefined, randomUUID()));
    }
  });

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const reqId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const session_id = matchShellPath(url.pathname);
    if (!session_id) return refuse(socket, 404, errorBody('not_found', `no WebSocket endpoint at ${url.pathname}`, undefined, reqId));
    if (!originAllowed(req, deps.allowedOrigins ?? [])) return refuse(socket, 403, errorBody('forbidden', 'WebSocket Origin not allowed', undefined, reqId));
    const address = req.socket.remoteAddress ?? 'unknown';
    // Everything, including a synchronous throw of the limiter, becomes a rejection answered on the socket.
    Promise.resolve()
      .then(() => deps.auth.limited(address, () => authorizeShell(req, url, session_id, { services: deps.services, tokens: deps.tokens, passport: deps.auth.passport })))
      .then((session) => {
      const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
      const pty = protocols.includes(PTY_SUBPROTOCOL) || url.searchParams.get('mode') === 'pty';
      if (pty && deps.services.ctx.compute.connectShell) return spliceShell(req, socket as Socket, head, url, session, protocols.includes(PTY_SUBPROTOCOL), reqId);
      wss.handleUpgrade(req, socket, head, (ws) => {
        // A client's protocol error (a text frame that is not UTF-8, a message over the limit): ws
        // closes with 1007/1009 after this event, which without a listener would end the daemon.
        ws.on('error', (e) => deps.log.info('shell protocol error', { req_id: reqId, session_id, error: e.message }));
        heartbeat(ws, HEARTBEAT_MS);
        deps.log.info('shell opened', { req_id: reqId, session_id, mode: pty ? 'pty' : 'line', url: redactUrl(req.url ?? '') });
        ws.on('close', (code) => deps.log.info('shell closed', { req_id: reqId, session_id, code }));
        const log = deps.log.child({ req_id: reqId, session_id });
        if (pty) {
          runPtyProtocol(ws, session, url, { services: deps.services, log });
        } else {
          runLineProtocol(ws, session, { services: deps.services, log });
        }
      });
    }, (e) => refuseFor(socket, e, reqId)).catch((e) => {
      // A failure after the handshake was answered (or while answering it): never the daemon's end.
      deps.log.error('shell failed', { req_id: reqId, error: String((e as Error)?.stack ?? e) });
      socket.destroy();
    });
  }

  /** A handshake that failed with `e`, answered in the error shape (`notFound` says what a 404 means here); 5xx are logged. */
  function refuseFor(socket: Duplex, e: unknown, reqId: string, notFound?: string) {
    const err = handshakeError(e);
    if (err.status >= 500) deps.log.error('shell handshake failed', { req_id: reqId, error: String((e as Error)?.stack ?? e) });
    refuse(socket, err.status, errorBody(err.code, err.status === 404 && notFound ? notFound : err.message, err.details, reqId));
  }

  /** onmemos.pty.v1 where the provider gives the shell server's socket: refused (404/409) or spliced. */
  async function spliceShell(req: IncomingMessage, socket: Socket, head: Buffer, url: URL, session: SessionRow, offered: boolean, reqId: string) {
    const problem = handshakeProblem(req);
    // RFC 6455 4.2.2: a version we do not speak is answered with the ones we do.
    if (problem) return refuse(socket, 400, errorBody('bad_request', problem, undefined, reqId), `Sec-WebSocket-Version: ${WS_VERSIONS.join(', ')}\r\n`);
    socket.pause(); // what the client sends before the 101 waits for the shell server
    const options = {
      cols: dim(url.searchParams.get('cols'), 80, 1000), rows: dim(url.searchParams.get('rows'), 24, 1000),
      attach: url.searchParams.get('attach') ?? undefined, heartbeatMs: HEARTBEAT_MS,
    };
    let upstream;
    try {
      upstream = await deps.services.ctx.compute.connectShell!(sessionRef(session), options);
    } catch (e) {
      return refuseFor(socket, e, reqId, 'no such shell in this shuttle (it ended, or its linger window passed); open a new one without ?attach');
    }
    // The daemon began to stop meanwhile (its listeners close, nothing may be left open), or the
    // client went away (as `ws` checks it: a paused socket has not read a FIN yet).
    if (closing) {
      upstream.socket.destroy();
      return refuse(socket, 503, errorBody('unavailable', 'the daemon is shutting down; reconnect in a moment', undefined, reqId));
    }
    if (!socket.readable || !socket.writable) return void upstream.socket.destroy();
    socket.write(switchingProtocols(req, offered ? PTY_SUBPROTOCOL : undefined));
    deps.log.info('shell opened', { req_id: reqId, session_id: session.session_id, mode: 'pty', url: redactUrl(req.url ?? '') });
    const end = splice(socket, head, upstream.socket, upstream.head, HEARTBEAT_MS, () => {
      spliced.delete(end);
      deps.log.info('shell closed', { req_id: reqId, session_id: session.session_id });
    });
    spliced.add(end);
    socket.resume();
  }

  return {
    wss,
    close() {
      closing = true;
      for (const ws of wss.clients) ws.close(1001, 'daemon shutting down');
      for (const end of spliced) end();
      wss.close();
    },
  };
}
