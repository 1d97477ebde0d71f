// A ShellStream connected to a pty owned by a shuttle's supervisor, over a WebSocket on the
// supervisor's Unix socket. Output that arrives before the caller registers onData (the scrollback
// of a reattach) is held and delivered to the first listener.
import WebSocket from 'ws';
import { ApiError, notFound } from '../../errors';
import type { ShellStream } from '../types';
import { rawBuffer } from './ws-data';

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

export function openShellStream(socket: string, options: { cols: number; rows: number; attach?: string }): Promise<ShellStream> {
  const q = new URLSearchParams({ cols: String(options.cols), rows: String(options.rows) });
  if (options.attach) q.set('attach', options.attach);
  const ws = new WebSocket(`ws+unix://${socket}:/shell?${q}`, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => { ws.removeAllListeners(); ws.on('error', () => {}); ws.terminate(); reject(err); };
    ws.once('unexpected-response', (_req, res) => {
      if (res.statusCode === 404) fail(notFound('shell'));
      else fail(new ApiError(409, 'conflict', `shuttle cannot open a shell (${res.statusCode})`));
    });
    ws.once('error', (e) => fail(new ApiError(409, 'conflict', `shuttle is not running: ${e.message}`)));
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
