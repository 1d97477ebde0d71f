// The ptys of one shuttle. Each is a `bash -l` inside the sandbox, with an id, a scrollback ring,
// at most one attached client (a WebSocket from the daemon) and a linger timer while detached.
// Output bytes are passed through untouched, so UTF-8 split across reads reaches the terminal intact.
//
// Where the pty comes from (a TermFactory):
//  - agentTerms: the exec agent, already inside the sandbox, opens the pty itself (node-pty) from
//    the sandbox's own /dev/ptmx: `tty` names a /dev/pts/N that exists inside, and every byte goes
//    daemon <-> agent <-> pty <-> shell, nothing between. The agent outlives the daemon with its
//    sandbox, so shells do too.
//  - sandboxTerms, the supervisor's fallback when the agent is not there: util-linux `script`
//    inside the sandbox opens the pty from the sandbox's devpts and runs the shell on it; we talk to
//    `script` over plain pipes (its stdin is not a terminal, so it keeps ECHO on the pty). The window
//    size is set by `stty` before the shell, and on resize by a host `stty` on that pty reopened
//    through /proc/<pid>/fd/0 of the shell (the kernel then sends SIGWINCH to its foreground job).
//    Without `script`, a node-pty pty from the host around nsenter (no tty name inside).
// Host ptys stay unreachable: nothing of the host's devpts is mounted.
import { spawn as spawnChild, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsc, fstatSync, openSync, readlinkSync } from 'node:fs';
import { constants } from 'node:os';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex, Readable, Writable } from 'node:stream';
import type * as NodePty from 'node-pty';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { ShellInfo } from '../providers/types';
import { Batcher, heartbeat, rawBuffer } from '../providers/local/ws-data';
import { descendants, killTree, spawnParts } from './exec';
import type { Sandbox } from './sandbox';

/** Pause the pty while this many bytes are queued to the client, resume below LOW. */
const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;

export class Ring {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(readonly capacity: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - this.chunks[0]!.length >= this.capacity) this.size -= this.chunks.shift()!.length;
  }
  /** The last `capacity` bytes, starting at a UTF-8 character boundary. */
  contents(): Buffer {
    let buf = Buffer.concat(this.chunks, this.size);
    if (buf.length > this.capacity) buf = buf.subarray(buf.length - this.capacity);
    let i = 0;
    while (i < buf.length && i < 3 && (buf[i]! & 0xc0) === 0x80) i++;
    return buf.subarray(i);
  }
}

/** A running shell process with a terminal: a node-pty pty, or the `script` relay over pipes. */
export interface Term {
  readonly pid: number;
  write(data: Buffer): void;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
}

/** Starts a login shell on a terminal of `cols` x `rows` with `env`. */
export type TermFactory = (cols: number, rows: number, env: Record<string, string>, onData: (b: Buffer) => void, onExit: (code: number) => void) => Term;

let ptyModule: typeof NodePty | undefined;
/**
 * node-pty, loaded on first use (the agent starts faster without it; a failure only loses shells):
 * from `dir` when given (the agent: the package bound into the sandbox), else by name.
 */
export function loadPty(dir?: string): typeof NodePty {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ptyModule ??= require(dir ?? 'node-pty') as typeof NodePty;
  return ptyModule;
}

/** A node-pty pty running `file args` in `cwd`. */
function ptyTerm(file: string, args: string[], cwd: string, cols: number, rows: number, env: Record<string, string>,
  onData: (b: Buffer) => void, onExit: (code: number) => void): Term {
  const p = loadPty().spawn(file, args, { name: 'xterm-256color', cols, rows, cwd, encoding: null, env } as NodePty.IPtyForkOptions);
  p.onData((data: string | Buffer) => onData(typeof data === 'string' ? Buffer.from(data, 'utf8') : data));
  p.onExit(({ exitCode, signal }) => onExit(signal ? 128 + signal : exitCode));
  return { pid: p.pid, write: (d) => p.write(d as unknown as string), resize: (c, r) => p.resize(c, r), pause: () => p.pause(), resume: () => p.resume() };
}

/** Inside the sandbox (the exec agent): the pty is the sandbox's own. */
export function agentTerms(cwd: string): TermFactory {
  return (cols, rows, env, onData, onExit) => ptyTerm('/bin/bash', ['-l'], cwd, cols, rows, env, onData, onExit);
}

/**
 * From the supervisor, outside: `script` over pipes. Not a host pty around nsenter: node-pty cannot
 * give the shell its environment on fd 3, and the host side must not get it (Sandbox.enter).
 */
export function sandboxTerms(sandbox: Sandbox, cwd: string): TermFactory {
  return (cols, rows, env, onData, onExit) => {
    const { script } = sandbox.cfg.tools;
    if (script) return scriptRelay(sandbox, cwd, script, cols, rows, env, onData, onExit);
    setImmediate(() => {
      onData(Buffer.from('onmemos: no shell: this shuttle\'s exec agent serves none, and a shell from outside needs `script` (util-linux) on the host\r\n'));
      onExit(127);
    });
    return { pid: 0, write: () => undefined, resize: () => undefined, pause: () => undefined, resume: () => undefined };
  };
}

/** Unix98 pty slaves (/dev/pts/N) have majors 136–143. */
const isPtySlave = (fd: number): boolean => {
  const st = fstatSync(fd);
  const major = Number(st.rdev) >> 8 & 0xfff;
  return st.isCharacterDevice() && major >= 136 && major <= 143;
};

/**
 * Set the window size of the sandbox pty that a process under `rootPid` has as its stdin (the
 * shell `script` started): reopened through /proc (O_NOCTTY: it must not become our controlling
 * tty), checked to really be a pty slave, then `stty` on it.
 */
function resizeSandboxPty(rootPid: number, cols: number, rows: number): boolean {
  for (const pid of descendants(rootPid)) {
    let fd: number | undefined;
    try {
      if (!readlinkSync(`/proc/${pid}/fd/0`).startsWith('/dev/pts/')) continue;
      fd = openSync(`/proc/${pid}/fd/0`, fsc.O_RDWR | fsc.O_NOCTTY | fsc.O_NONBLOCK);
      if (!isPtySlave(fd)) continue;
      spawnChild('stty', ['cols', String(cols), 'rows', String(rows)], { stdio: [fd, 'ignore', 'ignore'] }).on('error', () => undefined);
      return true;
    } catch {
      continue; // gone meanwhile, or not ours to open
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return false;
}

/** `script` inside the sandbox over pipes (see the top of this file). */
function scriptRelay(sandbox: Sandbox, cwd: string, script: string, cols: number, rows: number, env: Record<string, string>,
  onData: (b: Buffer) => void, onExit: (code: number) => void): Term {
  // script: -q quiet, -e the shell's exit code, -f flush; its typescript goes to /dev/null.
  // cols/rows are validated integers (resize and the upgrade's query both check them).
  const inner = `stty cols ${cols} rows ${rows} 2>/dev/null; exec /bin/bash -l`;
  const cmd = sandbox.enter(cwd, [script, '-qefc', inner, '/dev/null'], env);
  const parts = spawnParts(cmd, env, 'pipe');
  const child = spawnChild(cmd.file, cmd.args, { stdio: parts.stdio, cwd: '/', env: parts.env, detached: true }) as ChildProcessByStdio<Writable, Readable, Readable>;
  parts.handOver(child);
  child.stdin.on('error', () => undefined);
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.on('error', (e) => { onData(Buffer.from(`onmemos: cannot start the shell: ${e.message}\r\n`)); onExit(127); });
  // 'close': exited and both pipes drained (only script holds them), so no output follows the exit event.
  child.on('close', (code, signal) => onExit(signal ? 128 + (constants.signals[signal] ?? 9) : code ?? 1));
  return {
    pid: child.pid ?? 0,
    write: (data) => { if (child.stdin.writable) child.stdin.write(data); },
    resize: (c, r) => { if (child.pid) resizeSandboxPty(child.pid, c, r); },
    pause: () => { child.stdout.pause(); child.stderr.pause(); },
    resume: () => { child.stdout.resume(); child.stderr.resume(); },
  };
}

interface Shell {
  id: string;
  created_at: string;
  cols: number;
  rows: number;
  pty: Term;
  ring: Ring;
  /** Output read from the pty and not yet framed (see Batcher): flushed before an exit event. */
  output: Batcher;
  client?: WebSocket;
  linger?: NodeJS.Timeout;
  exitCode?: number;
  pausedByClient: boolean;
  pausedByBuffer: boolean;
  queued: number;
}

export interface ShellsOptions {
  lingerMs: number;
  scrollbackBytes: number;
  env: Record<string, string>;
}

export class Shells {
  private readonly shells = new Map<string, Shell>();
  constructor(private readonly terms: TermFactory, private readonly opts: ShellsOptions) {}

  list(): ShellInfo[] {
    return [...this.shells.values()].filter((s) => s.exitCode === undefined).map((s) => ({
      shell_id: s.id, created_at: s.created_at, attached: !!s.client, cols: s.cols, rows: s.rows,
    }));
  }

  has(id: string): boolean {
    return this.shells.has(id);
  }

  /** A new shell for `ws`, or reattach `ws` to shell `attach` (scrollback first). */
  open(ws: WebSocket, size: { cols: number; rows: number }, attach?: string): void {
    let shell: Shell;
    if (attach) {
      const found = this.shells.get(attach);
      if (!found) throw new Error('unknown shell');
      shell = found;
      if (shell.client) this.release(shell, 4000, 'attached elsewhere');
      if (shell.linger) clearTimeout(shell.linger);
      shell.linger = undefined;
    } else {
      shell = this.spawn(size.cols, size.rows);
    }
    shell.client = ws;
    shell.queued = 0;
    ws.send(JSON.stringify({ type: 'hello', shell_id: shell.id }));
    if (attach) {
      const back = shell.ring.contents();
      if (back.length) this.sendData(shell, back);
      if (shell.exitCode !== undefined) return this.sendExit(shell);
      if (size.cols !== shell.cols || size.rows !== shell.rows) this.resize(shell, size.cols, size.rows);
    }
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(shell, ws, data, isBinary));
    ws.on('close', () => {
      if (shell.client !== ws) return;
      shell.client = undefined;
      this.setPaused(shell, 'client', false);
      this.setPaused(shell, 'buffer', false);
      if (shell.exitCode !== undefined) this.shells.delete(shell.id);
      else this.startLinger(shell);
    });
  }

  /** Kill every shell (the sandbox is ending); attached clients get an exit event. */
  killAll(code = 137): void {
    for (const shell of this.shells.values()) {
      if (shell.linger) clearTimeout(shell.linger);
      if (shell.exitCode === undefined) shell.exitCode = code;
      shell.output.flush();
      if (shell.client) this.sendExit(shell);
      killTree(shell.pty.pid);
    }
    this.shells.clear();
  }

  private spawn(cols: number, rows: number): Shell {
    const shell: Shell = {
      id: `sh-${randomBytes(6).toString('hex')}`, created_at: new Date().toISOString(), cols, rows, pty: undefined as unknown as Term,
      ring: new Ring(this.opts.scrollbackBytes), pausedByClient: false, pausedByBuffer: false, queued: 0,
      // A pty gives at most 4 KiB per read: reads are gathered into frames (see Batcher), and the
      // scrollback keeps frames, not reads.
      output: new Batcher((frame) => {
        shell.ring.push(frame);
        if (shell.client) this.sendData(shell, frame);
      }, { maxBytes: 64 << 10, holdMs: 2 }),
    };
    const onData = (chunk: Buffer) => shell.output.push(chunk);
    const onExit = (code: number) => {
      shell.output.flush();
      shell.exitCode = code;
      if (shell.client) this.sendExit(shell);
      // Unattached: keep it (scrollback + exit code) until the linger window ends.
    };
    const env = { ...this.opts.env, TERM: 'xterm-256color', SHELL: '/bin/bash' };
    shell.pty = this.terms(cols, rows, env, onData, onExit);
    this.shells.set(shell.id, shell);
    return shell;
  }

  private sendData(shell: Shell, chunk: Buffer): void {
    const ws = shell.client!;
    if (ws.readyState !== ws.OPEN) return;
    shell.queued += chunk.length;
    ws.send(chunk, { binary: true }, () => {
      if (shell.client !== ws) return;
      shell.queued -= chunk.length;
      if (shell.pausedByBuffer && shell.queued < LOW_WATER) this.setPaused(shell, 'buffer', false);
    });
    if (shell.queued > HIGH_WATER) this.setPaused(shell, 'buffer', true);
  }

  private sendExit(shell: Shell): void {
    const ws = shell.client!;
    shell.client = undefined;
    this.shells.delete(shell.id);
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'exit', code: shell.exitCode }), () => ws.close(1000, 'exit'));
  }

  private onMessage(shell: Shell, ws: WebSocket, data: RawData, isBinary: boolean): void {
    if (shell.client !== ws) return;
    const buf = rawBuffer(data);
    if (isBinary) {
      if (shell.exitCode === undefined) shell.pty.write(buf);
      return;
    }
    let msg: { type?: string; cols?: number; rows?: number };
    try { msg = JSON.parse(buf.toString('utf8')); } catch { return; }
    switch (msg.type) {
      case 'resize': this.resize(shell, msg.cols, msg.rows); break;
      case 'pause': this.setPaused(shell, 'client', true); break;
      case 'resume': this.setPaused(shell, 'client', false); break;
      case 'detach': this.release(shell, 1000, 'detached'); this.startLinger(shell); break;
      case 'kill': killTree(shell.pty.pid); break;
    }
  }

  private resize(shell: Shell, cols: unknown, rows: unknown): void {
    const c = Number(cols);
    const r = Number(rows);
    if (!Number.isInteger(c) || !Number.isInteger(r) || c < 1 || r < 1 || c > 1000 || r > 1000) return;
    shell.cols = c;
    shell.rows = r;
    if (shell.exitCode === undefined) {
      try { shell.pty.resize(c, r); } catch { /* exited meanwhile */ }
    }
  }

  private setPaused(shell: Shell, why: 'client' | 'buffer', on: boolean): void {
    const before = shell.pausedByClient || shell.pausedByBuffer;
    if (why === 'client') shell.pausedByClient = on;
    else shell.pausedByBuffer = on;
    const after = shell.pausedByClient || shell.pausedByBuffer;
    if (before === after || shell.exitCode !== undefined) return;
    if (after) shell.pty.pause();
    else shell.pty.resume();
  }

  private release(shell: Shell, code: number, reason: string): void {
    const ws = shell.client;
    shell.client = undefined;
    this.setPaused(shell, 'client', false);
    this.setPaused(shell, 'buffer', false);
    if (ws && ws.readyState === ws.OPEN) ws.close(code, reason);
  }

  private startLinger(shell: Shell): void {
    if (shell.linger) clearTimeout(shell.linger);
    shell.linger = setTimeout(() => {
      this.shells.delete(shell.id);
      if (shell.exitCode === undefined) killTree(shell.pty.pid);
    }, this.opts.lingerMs);
    shell.linger.unref();
  }
}

/** Another protocol on the same socket (the agent's exec stream). */
export type Upgrade = (req: IncomingMessage, sock: Duplex, head: Buffer) => void;

/**
 * Serve `GET /shell?cols&rows[&attach][&heartbeat_ms]` upgrades (and those in `others`, by path) on `server` (the supervisor's and
 * the agent's Unix socket): refused before the upgrade (404 unknown path or shell, 409 no shells
 * yet), then `open`. The daemon splices the public client's socket to this one, so what a client may
 * send is checked here too (1 MiB per message, the public limit), and with `heartbeat_ms` a client
 * that did not answer the last ping (through the splice: the user's own client) is dropped.
 */
export function serveShells(server: Server, current: () => Shells | undefined, others: Record<string, Upgrade> = {}): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  server.on('upgrade', (req: IncomingMessage, sock: Duplex, head: Buffer) => {
    sock.on('error', () => undefined); // Node removed its own before 'upgrade': a reset must not end us
    const url = new URL(req.url ?? '/', 'http://local');
    const reject = (code: number, text: string) => {
      sock.end(`HTTP/1.1 ${code} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const other = Object.hasOwn(others, url.pathname) ? others[url.pathname] : undefined;
    if (other) return other(req, sock, head);
    if (url.pathname !== '/shell') return reject(404, 'Not Found');
    const shells = current();
    if (!shells) return reject(409, 'Conflict');
    const attach = url.searchParams.get('attach') ?? undefined;
    if (attach && !shells.has(attach)) return reject(404, 'Not Found');
    const cols = Number(url.searchParams.get('cols')) || 80;
    const rows = Number(url.searchParams.get('rows')) || 24;
    const heartbeatMs = Number(url.searchParams.get('heartbeat_ms')) || 0;
    wss.handleUpgrade(req, sock, head, (ws) => {
      // A client's protocol error (a text frame that is not UTF-8, a message over the limit; the
      // daemon splices clients' frames through unread): ws closes with 1007/1009 after this event,
      // which without a listener would end this agent and every shell of the shuttle with it.
      ws.on('error', () => undefined);
      if (heartbeatMs > 0) heartbeat(ws, heartbeatMs);
      try { shells.open(ws, { cols, rows }, attach); } catch (err) {
        ws.send(JSON.stringify({ type: 'error', message: String((err as Error).message) }));
        ws.close(1011);
      }
    });
  });
}
