// The daemon's side of the agents' exec streams (supervisor/exec-stream.ts): one kept-open
// connection per agent, opened when its pool member joins (and warmed by a ping, so a shuttle's
// first command does not pay for either), or at the first command after a daemon restart.
// A stream is found by the name of its member's connection, which survives the rename of the
// member's dir to its sandbox's, else by the socket's path. A stream that fails (the agent or its
// sandbox ended, a command outlived its timeout, an agent without the route) fails its pending
// commands with SupervisorGone and is forgotten: the caller then goes to the supervisor, as after
// a failed HTTP request.
import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ExecOptions, ExecResult } from '../types';
import { ApiError } from '../../errors';
import { EXEC_STREAM_PATH, EXEC_STREAM_UPGRADE, readLines, type ExecStreamAnswer } from '../../supervisor/exec-stream';
import { SupervisorGone } from './rpc';

/** The agent has no exec stream (one started by an older daemon): POST /exec still works. */
export class NoExecStream extends SupervisorGone {}

interface Pending { resolve: (r: ExecResult | null) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }

class ExecStream {
  private sock: Duplex | undefined;
  private readonly ready: Promise<Duplex>;
  private readonly pending = new Map<number, Pending>();
  private next = 1;
  private failed: Error | undefined;

  constructor(readonly socket: string, private readonly onEnd: () => void) {
    this.ready = new Promise<Duplex>((resolve, reject) => {
      const req = request({ socketPath: socket, path: EXEC_STREAM_PATH, headers: { Connection: 'Upgrade', Upgrade: EXEC_STREAM_UPGRADE }, agent: false });
      req.on('upgrade', (_res, sock: Duplex & { unref?: () => void }, head: Buffer) => {
        sock.unref?.(); // an idle stream does not keep the daemon (or a test) alive
        this.sock = sock;
        sock.on('error', (e) => this.fail(new SupervisorGone(socket, e.message)));
        sock.on('close', () => this.fail(new SupervisorGone(socket, 'its exec stream closed')));
        readLines(sock, head, (line) => this.answer(line));
        resolve(sock);
      });
      req.on('response', (res) => { res.resume(); reject(this.fail(new NoExecStream(socket, `no exec stream (${res.statusCode})`))); });
      req.on('error', (e: NodeJS.ErrnoException) => reject(this.fail(new SupervisorGone(socket, e.code ?? e.message))));
      req.end();
    });
    this.ready.catch(() => undefined);
  }

  private answer(line: string): void {
    let a: ExecStreamAnswer;
    try { a = JSON.parse(line) as ExecStreamAnswer; } catch { return void this.fail(new SupervisorGone(this.socket, 'a malformed answer')); }
    const p = this.pending.get(a.id);
    if (!p) return;
    this.pending.delete(a.id);
    clearTimeout(p.timer);
    if (a.error) p.reject(new ApiError(a.error.status, a.error.code ?? 'supervisor_error', a.error.message ?? `agent answered ${a.error.status}`));
    else p.resolve(a.ok ?? null);
  }

  /** Ends the stream: every pending command fails with `e`. Returns `e`. */
  fail(e: Error): Error {
    if (this.failed) return this.failed;
    this.failed = e;
    this.onEnd();
    this.sock?.destroy();
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(e); }
    this.pending.clear();
    return e;
  }

  async send(body: { req: ExecOptions } | { ping: 1 }, timeoutMs: number): Promise<ExecResult | null> {
    const sock = await this.ready;
    if (this.failed) throw this.failed;
    const id = this.next++;
    return new Promise<ExecResult | null>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new SupervisorGone(this.socket, `no answer in ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      sock.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }
}

export class ExecStreams {
  private readonly streams = new Map<string, ExecStream>();

  private get(socket: string, key: string): ExecStream {
    let s = this.streams.get(key);
    if (!s) {
      const made: ExecStream = new ExecStream(socket, () => { if (this.streams.get(key) === made) this.streams.delete(key); });
      this.streams.set(key, (s = made));
    }
    return s;
  }

  /** Open (and warm) the stream to the agent at `socket` ahead of its first command. */
  open(socket: string, key: string): Promise<unknown> {
    return this.get(socket, key).send({ ping: 1 }, 5000).catch(() => undefined);
  }

  async exec(socket: string, key: string | undefined, options: ExecOptions, timeoutMs: number): Promise<ExecResult> {
    return (await this.get(socket, key ?? socket).send({ req: options }, timeoutMs))!;
  }

  close(): void {
    for (const s of this.streams.values()) s.fail(new SupervisorGone(s.socket, 'the provider closed'));
    this.streams.clear();
  }
}
