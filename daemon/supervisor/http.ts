// The JSON-over-HTTP plumbing the supervisor (server.ts) and the exec agent (agent.ts) share.
import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

const MAX_BODY = 4 << 20;

/**
 * The request's JSON body ({} when empty). Plain 'data'/'end' listeners rather than `for await`:
 * the async iterator costs ~2 ms on a process's first request, and every launch is a first request.
 */
export function readJson<T>(req: IncomingMessage): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.removeAllListeners('data');
        req.resume();
        return reject(new HttpError(413, 'payload_too_large', 'request too large'));
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_BODY) return;
      try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as T); } catch {
        reject(new HttpError(400, 'invalid_request', 'malformed JSON'));
      }
    });
  });
}

export function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** `err` as it is when an HttpError, else `fallback`: what an answer says of a failure. */
export const asHttpError = (err: unknown, fallback: HttpError): HttpError => (err instanceof HttpError ? err : fallback);

/** An error as the answer (HttpError as it is, anything else as `fallback`), or drop the connection if the answer began. */
export function fail(res: ServerResponse, err: unknown, fallback: HttpError): void {
  const e = asHttpError(err, fallback);
  if (!res.headersSent) send(res, e.status, { error: { code: e.code, message: e.message } });
  else res.destroy();
}
