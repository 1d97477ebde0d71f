// JSON over HTTP over a supervisor's Unix socket (see daemon/supervisor/protocol.ts).
import { Agent, request, type RequestOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError } from '../../errors';

/** The supervisor is not there (no socket, nobody listening, or it went away mid-request). */
export class SupervisorGone extends Error {
  constructor(readonly socket: string, readonly reason: string) {
    super(`supervisor at ${socket} is gone: ${reason}`);
  }
}

/**
 * Kept-alive connections are found by the socket's path, or by a `connection` name when the caller
 * gives one: a pool member's directory becomes its shuttle's (a rename), and a connection made to
 * the member stays usable under the new path (see SupervisorPool: warmed before the launch).
 */
class Connections extends Agent {
  override getName(options: { connection?: string } & Parameters<Agent['getName']>[0]): string {
    return options.connection ?? super.getName(options);
  }
}
const agent = new Connections({ keepAlive: true, maxSockets: 64, maxFreeSockets: 4, keepAliveMsecs: 1000 });

export function call<T>(socket: string, method: string, path: string, body?: unknown, timeoutMs = 30_000, connection?: string): Promise<T> {
  return attempt<T>(socket, method, path, body, { timeoutMs, connection }, true);
}

/**
 * call() on a connection of its own, and `sent` resolves once the request is handed to the kernel:
 * from then on it reaches the supervisor even if this process dies (direct.ts relies on it for POST
 * /adopt). A request that failed before that rejects `sent` too. A fresh connection: on a kept-alive
 * one the request could be written, then reset, then retried (call()'s retry) — `sent` would have
 * said yes too early.
 */
export function callSent<T>(socket: string, method: string, path: string, body: unknown, timeoutMs: number): { sent: Promise<void>; answer: Promise<T> } {
  let onSent!: () => void;
  let notSent!: (e: unknown) => void;
  const sent = new Promise<void>((resolve, reject) => { onSent = resolve; notSent = reject; });
  sent.catch(() => undefined); // the caller may only look at `answer`
  const answer = attempt<T>(socket, method, path, body, { timeoutMs, onSent, fresh: true }, false);
  answer.catch(notSent); // after onSent, no effect
  return { sent, answer };
}

/**
 * A request that must not run twice (a command), on a connection of its own: no kept-alive
 * connection can be reset under it and retried. Rejects with SupervisorGone while nothing was
 * written (the caller may take it elsewhere), and with `lost(reason)` once the request was handed
 * to the kernel and then went unanswered (reset, closed, timed out): the other side may have run it.
 */
export function callOnce<T>(socket: string, method: string, path: string, body: unknown, timeoutMs: number, lost: (reason: string) => Error): Promise<T> {
  let written = false;
  return attempt<T>(socket, method, path, body, { timeoutMs, fresh: true, onSent: () => { written = true; } }, false)
    .catch((e: unknown) => Promise.reject(written && e instanceof SupervisorGone ? lost(e.reason) : e));
}

interface Options { timeoutMs: number; connection?: string; onSent?: () => void; fresh?: boolean }

function attempt<T>(socket: string, method: string, path: string, body: unknown, opts: Options, retry: boolean): Promise<T> {
  const { timeoutMs, connection } = opts;
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise<T>((resolve, reject) => {
    const options: RequestOptions & { connection?: string } = {
      socketPath: socket, method, path, agent: opts.fresh ? false : agent, connection,
      headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
    };
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => reject(new SupervisorGone(socket, e.message)));
      res.on('end', () => {
        clearTimeout(timer);
        let json: unknown;
        try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch {
          return reject(new SupervisorGone(socket, `bad response (${res.statusCode})`));
        }
        const status = res.statusCode ?? 500;
        if (status >= 400) {
          const e = (json as { error?: { code?: string; message?: string } }).error ?? {};
          return reject(new ApiError(status, e.code ?? 'supervisor_error', e.message ?? `supervisor answered ${status}`));
        }
        resolve(json as T);
      });
    });
    if (opts.onSent) req.on('finish', opts.onSent);
    const timer = setTimeout(() => req.destroy(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // A kept-alive connection the supervisor closed meanwhile: the request never reached it.
      if (retry && req.reusedSocket && e.code === 'ECONNRESET') {
        return resolve(attempt<T>(socket, method, path, body, opts, false));
      }
      reject(new SupervisorGone(socket, e.code ?? e.message));
    });
    req.end(payload);
  });
}

/** An upgrade answered with another status than 101 (`status`). */
export class UpgradeRefused extends Error {
  constructor(readonly socket: string, readonly status: number) {
    super(`${socket} refused the upgrade (${status})`);
  }
}

/** An upgrade not answered in time. */
export class UpgradeTimedOut extends SupervisorGone {}

/**
 * `GET path` with `Connection: Upgrade` and `headers` (the protocol's own) over the Unix socket
 * `socket`: the socket once it answered 101, and what came with the 101 (`head`). Rejects with
 * UpgradeRefused (any other status), UpgradeTimedOut (no answer within `timeoutMs`) or
 * SupervisorGone (nobody listening, or `signal` aborted it). The shell relay and the exec stream use it.
 */
export function upgradeUnix(socket: string, path: string, headers: Record<string, string>, timeoutMs: number, signal?: AbortSignal): Promise<{ socket: Duplex; head: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, agent: false, signal, headers: { Connection: 'Upgrade', ...headers } });
    const timer = setTimeout(() => { reject(new UpgradeTimedOut(socket, `no answer in ${timeoutMs} ms`)); req.destroy(); }, timeoutMs);
    req.on('upgrade', (_res, sock: Duplex & { setTimeout?: (ms: number) => void }, head: Buffer) => {
      clearTimeout(timer);
      sock.setTimeout?.(0);
      resolve({ socket: sock, head });
    });
    req.on('response', (res) => { clearTimeout(timer); res.resume(); reject(new UpgradeRefused(socket, res.statusCode ?? 0)); });
    req.on('error', (e: NodeJS.ErrnoException) => { clearTimeout(timer); reject(new SupervisorGone(socket, e.code ?? e.message)); });
    req.end();
  });
}
