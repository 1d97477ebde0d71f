import * as vscode from 'vscode';
import WebSocket from 'ws';
import type { Logger } from '../logger';
import { PTY_SUBPROTOCOL, parseServerControl, reconnectDelay, resizeMessage, shellUrl } from './protocol';

export interface ShellTarget {
  publicUrl: string;
  passport: string;
  sessionId: string;
  attach?: string; // an existing shell to reattach to
}

const DIM = '\x1b[2m';
const RED = '\x1b[31m';
const RESET = '\x1b[0m';
const TRANSCRIPT_LIMIT = 256 * 1024;
// A connection counts as restored (the reconnect budget starts over) once it said hello and stayed up this long.
export const STABLE_AFTER_MS = 3000;

// Close codes after which reconnecting cannot help: the server failed to open the shell (1011) or
// refused this client (4xxx; 4000 = another terminal attached to the same shell).
export function finalCloseMessage(code: number, reason: string): string | undefined {
  if (code === 4000) return 'This shell was attached from elsewhere.';
  if (code === 1011) return `The daemon could not open the shell${reason ? ` (${reason})` : ''}.`;
  if (code >= 4000 && code <= 4999) return `The daemon closed the terminal (${code}${reason ? ` ${reason}` : ''}).`;
  return undefined;
}

// One Pseudoterminal per shell: its own emitters, a resize on setDimensions, the exit code shown
// when the shell ends, and a reattach (`?attach=<shell_id>`, scrollback first) when the socket drops.
export class ShellPty implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  private readonly shellEmitter = new vscode.EventEmitter<string>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  readonly onDidGetShellId = this.shellEmitter.event;

  private ws: WebSocket | undefined;
  private dims: vscode.TerminalDimensions | undefined;
  private shellId: string | undefined;
  private exitCode: number | undefined;
  private closed = false;
  private waitingForKey = false;
  private attempts = 0;
  private stableTimer: NodeJS.Timeout | undefined;
  private serverError: string | undefined;
  private clearOnHello = false;
  private pending: Buffer[] = [];
  private decoder = new TextDecoder('utf-8');
  private _transcript = '';

  constructor(private readonly target: ShellTarget, private readonly log: Logger) {
    this.shellId = target.attach;
  }

  get id(): string | undefined { return this.shellId; }
  get sessionId(): string { return this.target.sessionId; }
  get publicUrl(): string { return this.target.publicUrl; }
  // Whether this terminal authenticates with `passport` (undefined = none is stored any more).
  usesPassport(passport: string | undefined): boolean { return passport === this.target.passport; }
  get exited(): number | undefined { return this.exitCode; }
  // What the terminal displayed (tail), for tests and diagnostics.
  get transcript(): string { return this._transcript; }

  open(dims: vscode.TerminalDimensions | undefined): void {
    this.dims = dims;
    this.print(`${DIM}Connecting to shuttle ${this.target.sessionId}…${RESET}\r\n`);
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const url = shellUrl(this.target.publicUrl, this.target.sessionId, this.shellId);
    const ws = new WebSocket(url, [PTY_SUBPROTOCOL], { headers: { authorization: `Bearer ${this.target.passport}` }, handshakeTimeout: 15_000 });
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    this.serverError = undefined;
    ws.on('open', () => {
      if (this.dims) ws.send(resizeMessage(this.dims.columns, this.dims.rows));
      for (const chunk of this.pending.splice(0)) ws.send(chunk);
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) { this.print(this.decoder.decode(data as Buffer, { stream: true })); return; }
      const msg = parseServerControl(data.toString());
      if (!msg) return;
      if (msg.type === 'hello') {
        // Reattached after a drop: the server replays the scrollback, so clear what we show first.
        if (this.clearOnHello) {
          this.clearOnHello = false;
          // The replay starts on a character boundary: drop any half character left from the old socket.
          this.decoder = new TextDecoder('utf-8');
          this.writeEmitter.fire('\x1b[2J\x1b[3J\x1b[H');
        }
        clearTimeout(this.stableTimer);
        this.stableTimer = setTimeout(() => { if (this.ws === ws) this.attempts = 0; }, STABLE_AFTER_MS);
        this.stableTimer.unref?.();
        if (this.shellId && msg.shell_id === this.shellId) this.log.info(`reattached to shell ${msg.shell_id}`);
        this.shellId = msg.shell_id;
        this.shellEmitter.fire(msg.shell_id);
      } else if (msg.type === 'exit') {
        this.exitCode = msg.code;
        this.print(`\r\n${msg.code === 0 ? DIM : RED}[The shell exited with code ${msg.code}. Press any key to close this terminal.]${RESET}\r\n`);
        this.waitingForKey = true;
      } else {
        // The server reports why it cannot serve this shell and closes: reconnecting would repeat it.
        this.serverError = msg.message;
        this.print(`\r\n${RED}[OnMemOS: ${msg.message}]${RESET}\r\n`);
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => {
        let message = `HTTP ${status}`;
        try { message = JSON.parse(body).error?.message ?? message; } catch { /* keep */ }
        this.fail(status === 404 ? `The shuttle or shell is gone (${message}).` : status === 401 ? `The daemon refused your passport (${message}).` : `Cannot open the shell: ${message}.`);
      });
    });
    ws.on('error', (e) => this.log.warn(`shell socket (${this.target.sessionId}): ${e.message}`));
    ws.on('close', (code, reason) => {
      clearTimeout(this.stableTimer);
      if (this.ws !== ws || this.closed || this.exitCode !== undefined || this.waitingForKey) return;
      const final = code === 4000 ? finalCloseMessage(code, '') : this.serverError !== undefined
        ? 'The shell could not be opened.' : finalCloseMessage(code, reason.toString());
      if (final) { this.fail(final); return; }
      const delay = reconnectDelay(this.attempts++);
      if (delay === undefined) { this.fail('The connection to the shuttle was lost and could not be restored.'); return; }
      if (this.attempts === 1) this.print(`\r\n${DIM}[Connection lost; reconnecting…]${RESET}\r\n`);
      setTimeout(() => {
        if (this.closed) return;
        this.clearOnHello = !!this.shellId;
        this.connect();
      }, delay);
    });
  }

  private fail(message: string): void {
    if (this.waitingForKey) return;
    this.print(`\r\n${RED}[${message} Press any key to close this terminal.]${RESET}\r\n`);
    this.waitingForKey = true;
    const ws = this.ws;
    this.ws = undefined;
    ws?.terminate();
  }

  handleInput(data: string): void {
    if (this.waitingForKey) { this.close(); return; }
    const bytes = Buffer.from(data, 'utf8');
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(bytes);
    else this.pending.push(bytes);
  }

  setDimensions(dims: vscode.TerminalDimensions): void {
    this.dims = dims;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(resizeMessage(dims.columns, dims.rows));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.stableTimer);
    const ws = this.ws;
    this.ws = undefined;
    ws?.close(1000);
    this.closeEmitter.fire(this.exitCode ?? undefined);
    this.writeEmitter.dispose();
    this.closeEmitter.dispose();
    this.shellEmitter.dispose();
  }

  private print(text: string): void {
    this._transcript = (this._transcript + text).slice(-TRANSCRIPT_LIMIT);
    this.writeEmitter.fire(text);
  }
}
