// The daemon's side of the agents' exec streams (supervisor/exec-stream.ts): one kept-open
// connection per agent, opened when its pool member joins (and warmed by a ping, so a shuttle's
// first command does not pay for either), or at the first command after a daemon restart.
// A stream is found by the name of its member's connection, which survives the rename of the
// member's dir to its sandbox's, else by the socket's path.
// How a command fails decides whether the caller may hand it to the supervisor instead:
//  - before it was written (no stream: nobody listening, no 101 within READY_TIMEOUT_MS):
//    SupervisorGone, and the supervisor runs it (the agent never saw it);
//  - after it was written (the stream broke, or no answer within the command's timeout): 502, and
//    nothing runs it again — the agent may have run it;
//  - an agent without the route (started by an older daemon): NoExecStream, and POST /exec on a
//    connection of its own, with the same rule (rpc.ts callOnce).
import type { Duplex } from 'node:stream';
import type { ExecOptions, ExecResult } from '../types';
import { ApiError } from '../../errors';
import { EXEC_STREAM_PATH, EXEC_STREAM_UPGRADE, readLines, type ExecStreamAnswer } from '../../supervisor/exec-stream';
import { SupervisorGone, UpgradeRefused, UpgradeTimedOut, upgradeUnix } from './rpc';

/** The agent has no exec stream (one started by an older daemon): POST /exec still works. */
export class NoExecStream extends SupervisorGone {}

/** As many commands in flight on one stream as the HTTP path allowed connections to one agent. */
const MAX_IN_FLIGHT = 64;
const READY_TIMEOUT_MS = 10_000;

/**
 * A command written to the agent that it never answered: 502, and nothing may run it again. The
 * message is the API's answer: what happened, not where the daemon keeps its sockets.
 */
export const lost = (why: string) =>
  new ApiError(502, 'agent_lost', `the shuttle's exec agent ${why}; the command may or may not have run`);

/** `v` if it is a well-formed answer: an integer id, then a result object (or null: a ping's) or an error in the error shape. */
function checked(v: unknown): ExecStreamAnswer | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const a = v as Record<string, unknown>;
  if (!Number.isInteger(a.id)) return undefined;
  if (a.error !== undefined) {
    const e = a.error as Record<string, unknown> | null;
    if (!e || typeof e !== 'object' || !Number.isInteger(e.status) || (e.status as number) < 400 || (e.status as number) > 599
      || typeof e.code !== 'string' || typeof e.message !== 'string') return undefined;
    return { id: a.id as number, error: { status: e.status as number, code: e.code, message: e.message } };
  }
  if (a.ok !== null && (typeof a.ok !== 'object' || a.ok === undefined)) return undefined;
  return { id: a.id as number, ok: a.ok as ExecResult | null };
}

interface Pending { resolve: (r: ExecResult | null) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }

class ExecStream {
  private sock: Duplex | undefined;
  /** Aborts the upgrade when the stream fails before it is answered. */
  private readonly connecting = new AbortController();
  private readonly ready: Promise<Duplex>;
  private readonly pending = new Map<number, Pending>();
  private readonly queue: Array<() => void> = [];
  private next = 1;
  private failed: Error | undefined;
  /** Longest answer accepted: every output escaped at worst (6 characters a byte, \u00XX), with room. */
  private maxLine = 1 << 20;

  constructor(readonly socket: string, private readonly onEnd: () => void, readyTimeoutMs: number) {
    this.ready = upgradeUnix(socket, EXEC_STREAM_PATH, { Upgrade: EXEC_STREAM_UPGRADE }, readyTimeoutMs, this.connecting.signal).then(
      ({ socket: sock, head }) => {
        if (this.failed) { sock.destroy(); throw this.failed; }
        (sock as Duplex & { unref?: () => void }).unref?.(); // an idle stream does not keep the daemon (or a test) alive
        this.sock = sock;
        sock.on('error', (e) => this.fail(lost(`broke off (${e.message})`)));
        sock.on('end', () => sock.destroy());
        sock.on('close', () => this.fail(lost('closed its exec stream')));
        readLines(sock, head, () => this.maxLine, (line) => this.answer(line));
        return sock;
      },
      (e: Error) => {
        throw this.fail(e instanceof UpgradeRefused ? new NoExecStream(socket, `no exec stream (${e.status})`)
          : e instanceof UpgradeTimedOut ? new SupervisorGone(socket, `no exec stream within ${readyTimeoutMs} ms`) : e);
      },
    );
    this.ready.catch(() => undefined);
  }

  private answer(line: string): void {
    // What comes from inside a sandbox is checked before it is used, and nothing in it may throw here.
    let a: ExecStreamAnswer | undefined;
    try { a = checked(JSON.parse(line)); } catch { a = undefined; }
    if (!a) return void this.fail(lost('sent a malformed answer'));
    const p = this.pending.get(a.id);
    if (!p) return;
    this.settle(a.id, p);
    if (a.error) p.reject(new ApiError(a.error.status, a.error.code, a.error.message));
    else p.resolve(a.ok ?? null);
  }

  private settle(id: number, p: Pending): void {
    clearTimeout(p.timer);
    this.pending.delete(id);
    this.queue.shift()?.();
  }

  /**
   * Ends the stream. Commands already written fail with 502 agent_lost whatever the cause (the
   * agent may have run them: nobody may run them again); those not yet written with `e` (send()).
   * Returns `e`.
   */
  fail(e: Error): Error {
    if (this.failed) return this.failed;
    this.failed = e;
    this.onEnd();
    if (!this.sock) this.connecting.abort();
    this.sock?.destroy();
    const written = e instanceof ApiError ? e : lost(`is out of reach (${e instanceof SupervisorGone ? e.reason : e.message})`);
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(written); }
    this.pending.clear();
    for (const wake of this.queue.splice(0)) wake();
    return e;
  }

  async send(body: { req: ExecOptions } | { ping: 1 }, timeoutMs: number): Promise<ExecResult | null> {
    const sock = await this.ready; // rejects with SupervisorGone / NoExecStream: nothing was written
    while (!this.failed && this.pending.size >= MAX_IN_FLIGHT) await new Promise<void>((r) => this.queue.push(r));
    if (this.failed) throw this.failed instanceof ApiError ? new SupervisorGone(this.socket, this.failed.message) : this.failed;
    // The agent's rule for the cap (exec.ts): a missing or zero max_output_bytes is 1 MiB.
    if ('req' in body) this.maxLine = Math.max(this.maxLine, 12 * (Number(body.req.max_output_bytes) || 1 << 20) + (1 << 20));
    const id = this.next++;
    return new Promise<ExecResult | null>((resolve, reject) => {
      // No answer in time: this command fails (the agent is stuck, or stopped); the others keep theirs.
      const timer = setTimeout(() => { const p = this.pending.get(id); if (p) { this.settle(id, p); p.reject(lost(`did not answer within ${timeoutMs} ms`)); } }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      sock.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }
}

export class ExecStreams {
  private readonly streams = new Map<string, ExecStream>();
  /** Keys whose agent has no exec stream: POST /exec at once. */
  private readonly noStream = new Set<string>();

  constructor(private readonly readyTimeoutMs = READY_TIMEOUT_MS) {}

  /** Streams open now (tests). */
  get size(): number {
    return this.streams.size;
  }

  private get(socket: string, key: string): ExecStream {
    if (this.noStream.has(key)) throw new NoExecStream(socket, 'no exec stream');
    let s = this.streams.get(key);
    if (!s) {
      const made: ExecStream = new ExecStream(socket, () => { if (this.streams.get(key) === made) this.streams.delete(key); }, this.readyTimeoutMs);
      this.streams.set(key, (s = made));
    }
    return s;
  }

  /** Open (and warm) the stream to the agent at `socket` ahead of its first command. */
  open(socket: string, key: string): Promise<unknown> {
    return this.send(socket, key, { ping: 1 }, 5000).catch(() => undefined);
  }

  async exec(socket: string, key: string | undefined, options: ExecOptions, timeoutMs: number): Promise<ExecResult> {
    return (await this.send(socket, key ?? socket, { req: options }, timeoutMs))!;
  }

  private async send(socket: string, key: string, body: { req: ExecOptions } | { ping: 1 }, timeoutMs: number): Promise<ExecResult | null> {
    try {
      return await this.get(socket, key).send(body, timeoutMs);
    } catch (e) {
      if (e instanceof NoExecStream) this.noStream.add(key);
      throw e;
    }
  }

  close(): void {
    for (const s of this.streams.values()) s.fail(new SupervisorGone(s.socket, 'the provider closed'));
    this.streams.clear();
  }
}
