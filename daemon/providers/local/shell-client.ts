// Shells owned by a shuttle's agent (or supervisor), over a WebSocket on its Unix socket:
//  - openShellStream: a ShellStream (the daemon as a `ws` client: frames parsed, output held until
//    the first onData listener, so the scrollback of a reattach is not lost);
//  - connectShellSocket: the bare socket after the handshake, for the public endpoint to splice to
//    its client byte for byte (both speak onmemos.pty.v1; see daemon/shell/splice.ts).
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { ApiError, notFound } from '../../errors';
import type { ShellSocket, ShellStream } from '../types';
import { rawBuffer } from './ws-data';
import { SupervisorGone, UpgradeRefused, upgradeUnix } from './rpc';

class LocalShellStream implements ShellStream {
  private readonly dataListeners: Array<(chunk: Buffer) => void> = [];
  private readonly exitListeners: Array<(code: number) => void> = [];
  private held: Buffer[] = [];
  private exitCode: number | undefined;
  private closedByUs = false;

  constructor(readonly shell_id: string, private readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      const buf = rawBuffer(data);
      if (isBinary) return this.emitData(buf);
      let msg: { type?: string; code?: number };
      try { msg = JSON.parse(buf.toString('utf8')); } catch { return; }
      if (msg.type === 'exit') this.emitExit(Number(msg.code));
    });
    ws.on('close', () => {
      // Closed without an exit event and not by us: the supervisor (the shuttle) went away.
      if (!this.closedByUs) this.emitExit(-1);
    });
    ws.on('error', () => { /* 'close' follows */ });
  }

  private emitData(chunk: Buffer): void {
    if (!this.dataListeners.length) return void this.held.push(chunk);
    for (const l of this.dataListeners) l(chunk);
  }

  private emitExit(code: number): void {
    if (this.exitCode !== undefined) return;
    this.exitCode = code;
    for (const l of this.exitListeners) l(code);
  }

  private control(msg: object): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  write(data: Buffer | string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, { binary: true });
  }

  resize(cols: number, rows: number): void {
    this.control({ type: 'resize', cols, rows });
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
    if (this.dataListeners.length === 1 && this.held.length) {
      const held = this.held;
      this.held = [];
      for (const c of held) listener(c);
    }
  }

  onExit(listener: (code: number) => void): void {
    this.exitListeners.push(listener);
    if (this.exitCode !== undefined) listener(this.exitCode);
  }

  pause(): void {
    this.control({ type: 'pause' });
  }

  resume(): void {
    this.control({ type: 'resume' });
  }

  detach(): void {
    this.closedByUs = true;
    this.control({ type: 'detach' });
    this.ws.close(1000, 'detach');
  }

  kill(): void {
    this.control({ type: 'kill' });
  }
}

export interface ShellOptions {
  cols: number;
  rows: number;
  attach?: string;
  /** The server pings this often and drops a client that did not answer the last ping. */
  heartbeatMs?: number;
}

const shellPath = (o: ShellOptions) => {
  const q = new URLSearchParams({ cols: String(o.cols), rows: String(o.rows) });
  if (o.attach) q.set('attach', o.attach);
  if (o.heartbeatMs) q.set('heartbeat_ms', String(o.heartbeatMs));
  return `/shell?${q}`;
};

/** What a refused shell handshake means to the caller (agentFirst falls back to the supervisor on 404/409). */
const refused = (status: number | undefined) =>
  status === 404 ? notFound('shell') : new ApiError(409, 'conflict', `shuttle cannot open a shell (${status})`);
/** The agent's socket could not be reached (its code, not its message: that names the daemon's paths). */
const unreachable = (e: NodeJS.ErrnoException) => new ApiError(409, 'conflict', `shuttle is not running: ${e instanceof SupervisorGone ? e.reason : e.code ?? e.message}`);

export function openShellStream(socket: string, options: ShellOptions): Promise<ShellStream> {
  const ws = new WebSocket(`ws+unix://${socket}:${shellPath(options)}`, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => { ws.removeAllListeners(); ws.on('error', () => {}); ws.terminate(); reject(err); };
    ws.once('unexpected-response', (_req, res) => fail(refused(res.statusCode)));
    ws.once('error', (e) => fail(unreachable(e)));
    ws.once('message', (data: WebSocket.RawData, isBinary: boolean) => {
      let msg: { type?: string; shell_id?: string; message?: string } = {};
      if (!isBinary) try { msg = JSON.parse(data.toString()); } catch { /* below */ }
      if (msg.type !== 'hello' || !msg.shell_id) return fail(new Error(`shell: ${msg.message ?? 'bad greeting'}`));
      ws.removeAllListeners('unexpected-response');
      ws.removeAllListeners('error');
      resolve(new LocalShellStream(msg.shell_id, ws));
    });
  });
}

/**
 * The shell server's socket right after a successful `/shell` handshake (no extensions), the
 * daemon as the WebSocket client: frames written to it must be masked (a client's are), frames
 * read from it are a server's. `head`: what arrived with the 101 (the hello, often).
 */
export function connectShellSocket(socket: string, options: ShellOptions, timeoutMs = 10_000): Promise<ShellSocket> {
  const handshake = { Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') };
  return upgradeUnix(socket, shellPath(options), handshake, timeoutMs)
    .catch((e: Error) => { throw e instanceof UpgradeRefused ? refused(e.status) : unreachable(e); });
}
