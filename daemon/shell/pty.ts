// The onmemos.pty.v1 protocol: a real terminal. Client binary = stdin bytes, client text = JSON
// control ({"type":"resize","cols","rows"}); server binary = terminal output, server text =
// {"type":"hello","shell_id"} first, then {"type":"exit","code"} / {"type":"error","message"}.
// A dropped socket detaches; the shell lingers and ?attach=<shell_id> reattaches with scrollback.
// On the local provider the client is spliced to the agent's own shell socket (splice.ts), so the
// agent's other controls work too, on the client's own shell only: {"type":"pause"} / "resume"
// (flow control), "detach" (release the shell for a later ?attach), "kill" (end it). This file is
// the relay for providers that hand over a ShellStream instead (gke).
import type { WebSocket } from 'ws';
import type { Logger } from '../log';
import type { Services } from '../services';
import type { SessionRow } from '../store';
import { ApiError } from '../errors';
import { sessionRef } from '../services/sessions';
import { Batcher } from '../providers/local/ws-data';

export const PTY_SUBPROTOCOL = 'onmemos.pty.v1';
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

/** A terminal dimension: `v` when an integer in 1..max, else `fallback`. */
export const dim = (v: unknown, fallback: number, max: number) => {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 && n <= max ? n : fallback;
};

export function runPtyProtocol(ws: WebSocket, session: SessionRow, url: URL, deps: { services: Services; log: Logger }) {
  const compute = deps.services.ctx.compute;
  const fail = (message: string) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'error', message }));
    ws.close(1011, message.slice(0, 100));
  };
  if (!compute.openShell) return fail(`the ${compute.name} provider has no terminals`);
  const cols = dim(url.searchParams.get('cols'), 80, 1000);
  const rows = dim(url.searchParams.get('rows'), 24, 1000);
  const attach = url.searchParams.get('attach') ?? undefined;

  // Input that arrives while the shell is being opened is kept and replayed in order.
  const early: Array<{ data: Buffer; isBinary: boolean }> = [];
  let handle: ((data: Buffer, isBinary: boolean) => void) | null = null;
  ws.on('message', (data: Buffer, isBinary) => (handle ? handle(data, isBinary) : early.push({ data, isBinary })));

  compute.openShell(sessionRef(session), { cols, rows, attach }).then((shell) => {
    if (ws.readyState !== ws.OPEN) return shell.detach();
    ws.send(JSON.stringify({ type: 'hello', shell_id: shell.shell_id }));
    let pending = 0;
    let paused = false;
    // What arrives in one turn of the event loop leaves as one frame (the agent already gathers a
    // stream's output into large frames; see Batcher).
    const batcher = new Batcher((frame) => {
      if (ws.readyState !== ws.OPEN) return;
      pending += frame.length;
      ws.send(frame, { binary: true }, () => {
        pending -= frame.length;
        if (paused && pending < LOW_WATER) { paused = false; shell.resume(); }
      });
      if (!paused && pending > HIGH_WATER) { paused = true; shell.pause(); }
    }, { maxBytes: 256 << 10 });
    shell.onData((chunk) => {
      if (ws.readyState === ws.OPEN) batcher.push(chunk);
    });
    let exited = false;
    shell.onExit((code) => {
      exited = true;
      batcher.flush();
      if (ws.readyState === ws.OPEN) {
        ws.send(JSON.stringify({ type: 'exit', code }));
        ws.close(1000, 'shell exited');
      }
    });
    handle = (data, isBinary) => {
      if (isBinary) return shell.write(data);
      let msg: { type?: unknown; cols?: unknown; rows?: unknown };
      try { msg = JSON.parse(data.toString('utf8')); } catch { return; }
      if (msg.type === 'resize') shell.resize(dim(msg.cols, cols, 1000), dim(msg.rows, rows, 1000));
    };
    for (const m of early.splice(0)) handle(m.data, m.isBinary);
    ws.on('close', () => { if (!exited) shell.detach(); });
  }, (e) => {
    if (!(e instanceof ApiError)) deps.log.error('open shell failed', { error: String((e as Error)?.stack ?? e) });
    fail(e instanceof ApiError ? e.message : 'could not open a shell in this shuttle');
  });
}
