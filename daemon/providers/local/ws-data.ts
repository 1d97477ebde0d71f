// Shared by the daemon's shell client and relay and the supervisor/agent shells.
import type { RawData, WebSocket } from 'ws';

/** A ws message as one Buffer, without copying what already is one (Buffer.from(buffer) copies). */
export function rawBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** Output that keeps coming this soon after a frame of at least a pty read (4 KiB) is a stream. */
const STREAM_GAP_MS = 5;

/**
 * Output chunks gathered into frames, so that a frame (and what every later hop pays per frame: a
 * callback, a header, a syscall) is not spent on each few-KiB pty read. A chunk after a quiet moment
 * leaves at the end of this turn of the event loop — a keystroke's echo waits for nothing else.
 * With `holdMs`, while output streams (the last frame was at least a pty read and left under 5 ms
 * ago) chunks gather up to `holdMs` or `maxBytes`: `cat` of 100 MB is then ~1,600 frames, not
 * ~16,000. Without it, what arrived in one turn leaves together, cut at `maxBytes`.
 */
export class Batcher {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private lastAt = 0;
  private lastBytes = 0;

  constructor(
    private readonly emit: (frame: Buffer) => void,
    /** gapMs: how soon after a large frame more output counts as a stream (default 5). */
    private readonly opts: { maxBytes: number; holdMs?: number; gapMs?: number },
  ) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= this.opts.maxBytes) return this.flush();
    if (this.scheduled) return;
    this.scheduled = true;
    const streaming = !!this.opts.holdMs && this.lastBytes >= 4096 && performance.now() - this.lastAt < (this.opts.gapMs ?? STREAM_GAP_MS);
    if (streaming) this.timer = setTimeout(this.flush, this.opts.holdMs);
    else setImmediate(this.flush);
  }

  /** Send what is gathered now (before an exit event, say). */
  readonly flush = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.scheduled = false;
    if (!this.bytes) return;
    const frame = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
    this.chunks = [];
    this.lastBytes = this.bytes;
    this.bytes = 0;
    this.lastAt = performance.now();
    this.emit(frame);
  };
}

/**
 * Ping `ws` every `ms`; one that did not answer the last ping is gone (dropped without a close
 * frame; a shell it held lingers as after any drop). The daemon's line and gke relays and the
 * agent's shells use it.
 */
export function heartbeat(ws: WebSocket, ms: number): void {
  let answered = true;
  ws.on('pong', () => { answered = true; });
  const timer = setInterval(() => {
    if (!answered) return ws.terminate();
    answered = false;
    ws.ping();
  }, Math.max(ms, 100));
  timer.unref();
  ws.on('close', () => clearInterval(timer));
}
