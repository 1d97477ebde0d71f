// JSON over HTTP over a supervisor's Unix socket (see daemon/supervisor/protocol.ts).
import { Agent, request } from 'node:http';
import { ApiError } from '../../errors';

/** The supervisor is not there (no socket, nobody listening, or it went away mid-request). */
export class SupervisorGone extends Error {
  constructor(readonly socket: string, cause: string) {
    super(`supervisor at ${socket} is gone: ${cause}`);
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 4, keepAliveMsecs: 1000 });

export function call<T>(socket: string, method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
  return attempt<T>(socket, method, path, body, timeoutMs, true);
}

function attempt<T>(socket: string, method: string, path: string, body: unknown, timeoutMs: number, retry: boolean): Promise<T> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise<T>((resolve, reject) => {
    const req = request({
      socketPath: socket, method, path, agent,
      headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
    }, (res) => {
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
    const timer = setTimeout(() => req.destroy(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // A kept-alive connection the supervisor closed meanwhile: the request never reached it.
      if (retry && req.reusedSocket && e.code === 'ECONNRESET') {
        return resolve(attempt<T>(socket, method, path, body, timeoutMs, false));
      }
      reject(new SupervisorGone(socket, e.code ?? e.message));
    });
    req.end(payload);
  });
}
