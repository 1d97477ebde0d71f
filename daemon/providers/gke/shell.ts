// Terminals inside a shuttle pod: exec with a tty, stdin from the client, resize on the exec
// protocol's resize channel (client-node sends it when stdout has rows/columns and emits 'resize').
// A shell outlives a detached client for reattachment (scrollback first, then live output).
import { randomUUID } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import type { V1Status } from '@kubernetes/client-node';
import { notFound } from '../../errors.js';
import type { SessionRef, ShellInfo, ShellStream } from '../types.js';
import { execFailure, exitCodeOf } from './exec.js';
import type { Kube } from './kube.js';
import { CONTAINER } from './manifests.js';

const SCROLLBACK = 256 * 1024;
/** Prefer bash, else sh; a login shell so the image's profile applies. */
export const SHELL_ARGV = ['env', 'TERM=xterm-256color', '/bin/sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi'];

/** stdout for the exec call: a Writable with rows/columns that emits 'resize'. */
class TtyOut extends Writable {
  constructor(
    public columns: number,
    public rows: number,
    private readonly sink: (chunk: Buffer) => void,
  ) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.sink(Buffer.from(chunk));
    done();
  }
}

class PodShell {
  readonly shell_id = randomUUID();
  readonly created_at = new Date().toISOString();
  private scroll: Buffer[] = [];
  private scrollSize = 0;
  readonly stdin = new PassThrough();
  readonly out: TtyOut;
  private attachedView?: View;
  exitCode?: number;
  close: () => void = () => {};

  constructor(
    readonly key: string,
    cols: number,
    rows: number,
  ) {
    this.out = new TtyOut(cols, rows, (chunk) => this.data(chunk));
  }
  get attached() {
    return !!this.attachedView;
  }
  data(chunk: Buffer) {
    this.scroll.push(chunk);
    this.scrollSize += chunk.length;
    while (this.scrollSize > SCROLLBACK && this.scroll.length > 1) this.scrollSize -= this.scroll.shift()!.length;
    this.attachedView?.emitData(chunk);
  }
  exited(code: number) {
    if (this.exitCode !== undefined) return;
    this.exitCode = code;
    this.attachedView?.emitExit(code);
  }
  attach(view: View, replay: boolean) {
    // One client at a time: a newer attach takes the shell over; the older view just stops receiving.
    this.attachedView?.detach();
    this.attachedView = view;
    if (replay && this.scrollSize) view.emitData(Buffer.concat(this.scroll));
    if (this.exitCode !== undefined) view.emitExit(this.exitCode);
  }
  detach(view: View) {
    if (this.attachedView === view) this.attachedView = undefined;
  }
  resize(cols: number, rows: number) {
    if (cols === this.out.columns && rows === this.out.rows) return;
    this.out.columns = cols;
    this.out.rows = rows;
    this.out.emit('resize');
  }
  info(): ShellInfo {
    return { shell_id: this.shell_id, created_at: this.created_at, attached: this.attached, cols: this.out.columns, rows: this.out.rows };
  }
}

/** One client's handle on a PodShell. */
class View implements ShellStream {
  private dataListeners: ((c: Buffer) => void)[] = [];
  private exitListeners: ((code: number) => void)[] = [];
  private paused: Buffer[] | undefined;
  /** Output (e.g. the scrollback on attach) that arrived before the client's first onData. */
  private early: Buffer[] = [];
  private exitCode?: number;
  constructor(
    private readonly shell: PodShell,
    private readonly registry: ShellRegistry,
  ) {}
  get shell_id() {
    return this.shell.shell_id;
  }
  emitData(c: Buffer) {
    if (this.paused) this.paused.push(c);
    else if (!this.dataListeners.length) this.early.push(c);
    else for (const l of this.dataListeners) l(c);
  }
  emitExit(code: number) {
    this.exitCode = code;
    for (const l of this.exitListeners) l(code);
    this.exitListeners = [];
  }
  write(data: Buffer | string) {
    if (this.shell.exitCode === undefined) this.shell.stdin.write(data);
  }
  resize(cols: number, rows: number) {
    this.shell.resize(cols, rows);
  }
  onData(l: (c: Buffer) => void) {
    this.dataListeners.push(l);
    if (this.early.length) {
      const q = Buffer.concat(this.early);
      this.early = [];
      queueMicrotask(() => this.emitData(q));
    }
  }
  onExit(l: (code: number) => void) {
    if (this.exitCode !== undefined) queueMicrotask(() => l(this.exitCode!));
    else this.exitListeners.push(l);
  }
  pause() {
    this.paused ??= [];
  }
  resume() {
    const q = this.paused;
    this.paused = undefined;
    if (q?.length) this.emitData(Buffer.concat(q));
  }
  detach() {
    this.shell.detach(this);
    this.dataListeners = [];
    this.exitListeners = [];
  }
  kill() {
    this.registry.kill(this.shell);
  }
}

export class ShellRegistry {
  private shells = new Map<string, PodShell>();
  constructor(private readonly kube: Kube) {}

  private key = (s: SessionRef) => `${s.namespace}/${s.sandbox_name}`;

  async open(session: SessionRef, o: { cols: number; rows: number; attach?: string }): Promise<ShellStream> {
    if (o.attach) {
      const shell = this.shells.get(o.attach);
      if (!shell || shell.key !== this.key(session)) throw notFound(`shell ${o.attach}`);
      const view = new View(shell, this);
      shell.attach(view, true);
      shell.resize(o.cols, o.rows);
      return view;
    }
    const shell = new PodShell(this.key(session), o.cols, o.rows);
    let status: V1Status | undefined;
    const ws = await this.kube
      .exec(session.namespace, session.sandbox_name, CONTAINER, SHELL_ARGV, shell.out, null, shell.stdin, true, (s) => {
        status = s;
      })
      .catch((err) => {
        throw execFailure(session, err);
      });
    shell.close = () => ws.close();
    ws.on('close', () => {
      shell.exited(exitCodeOf(status).code);
      this.shells.delete(shell.shell_id);
    });
    this.shells.set(shell.shell_id, shell);
    const view = new View(shell, this);
    shell.attach(view, false);
    return view;
  }

  list(session: SessionRef): ShellInfo[] {
    return [...this.shells.values()].filter((s) => s.key === this.key(session)).map((s) => s.info());
  }

  kill(shell: PodShell) {
    shell.stdin.end();
    shell.close();
  }

  /** End every shell of a session (terminate) or all of them (close). */
  closeAll(session?: SessionRef) {
    for (const s of this.shells.values()) if (!session || s.key === this.key(session)) this.kill(s);
  }
}
