// The seed's line protocol: client {"type":"command"|"ping"|"resize"}, server
// {"type":"output"|"warning"|"error"|"prompt"|"pong","content","timestamp","session_id"}.
// Each command runs in the session through execute, which checks credits first (none left: error, close).
// Commands run one at a time; a client may send ahead, but only so far, and nothing it sent ahead
// runs once its socket is closed.
import type { WebSocket } from 'ws';
import type { Logger } from '../log';
import type { Services } from '../services';
import type { SessionRow } from '../store';
import { ApiError } from '../errors';
import { isLive } from '../services/context';
import { ExecuteQuery } from '../api/schemas';

const COMMAND_TIMEOUT_S = 300;
/** The API's rules for a command (at most 64 Ki characters, no NUL): a shell is no way around them. */
const COMMAND = ExecuteQuery.shape.command;
/**
 * Commands waiting behind the running one. A count, not bytes: with each command capped at 64 Ki
 * characters it bounds a socket's backlog (16 × 64 Ki ≈ 2 MB of strings), and it is a limit a client
 * can follow (wait for a prompt); a person typing, or a script sending a few ahead, never meets it.
 */
const MAX_WAITING = 16;

export function runLineProtocol(ws: WebSocket, session: SessionRow, deps: { services: Services; log: Logger }) {
  const { services } = deps;
  const send = (type: string, content: string) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type, content, timestamp: new Date().toISOString(), session_id: session.session_id }));
  };
  const waiting: string[] = [];
  let running = false;
  send('output', `Connected to shuttle ${session.session_id} (${session.provider})`);
  send('prompt', '$ ');
  // The shuttle ending (terminated, expired, its sandbox gone) ends the shell: the client is told
  // why at once, not at its next command.
  const ended = (row: SessionRow) => {
    send('error', `shuttle ${row.session_id} ${row.status === 'terminated' ? 'was terminated' : `has ended (${row.status}: ${row.end_reason ?? 'no reason'})`}`);
    ws.close(1000, 'shuttle ended');
  };
  const now = services.ctx.store.get('sessions', session.session_id);
  if (now && !isLive(now)) return ended(now); // ended while the handshake was answered
  const unwatch = services.sessions.watchEnd(session.session_id, ended);
  ws.on('close', () => {
    unwatch();
    waiting.length = 0; // a command already running may finish; nothing the client left behind starts
  });

  const run = async (command: string) => {
    const current = services.ctx.store.get('sessions', session.session_id) ?? session;
    try {
      const r = await services.sessions.execute(current, command, COMMAND_TIMEOUT_S);
      if (r.stdout) send('output', r.stdout);
      if (r.stderr) send('warning', r.stderr);
      if (r.timed_out) send('error', `command timed out after ${COMMAND_TIMEOUT_S} s`);
      else if (r.exit_code !== 0) send('error', `command exited with code ${r.exit_code}`);
    } catch (e) {
      send('error', e instanceof ApiError ? e.message : 'internal error running the command');
      if (!(e instanceof ApiError)) deps.log.error('line command failed', { error: String((e as Error)?.stack ?? e) });
      if (e instanceof ApiError && e.status === 402) { ws.close(4402, 'no credits'); return; }
      if (e instanceof ApiError && e.status === 409) { ws.close(1011, 'session ended'); return; }
    }
    send('prompt', '$ ');
  };
  /** Run what waits, in order, until nothing does or the socket is no longer open (closed by either side). */
  const drain = async () => {
    running = true;
    try {
      for (let next = waiting.shift(); next !== undefined && ws.readyState === ws.OPEN; next = waiting.shift()) await run(next);
    } catch (e) {
      deps.log.error('line command failed', { error: String((e as Error)?.stack ?? e) });
    } finally {
      running = false;
    }
  };

  ws.on('message', (data, isBinary) => {
    if (isBinary) return send('error', 'binary frames need the onmemos.pty.v1 subprotocol');
    let msg: { type?: unknown; command?: unknown };
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      return send('error', 'messages must be JSON like {"type":"command","command":"ls"}');
    }
    switch (msg.type) {
      case 'ping': return send('pong', 'pong');
      case 'resize': return; // accepted; line mode has no terminal size
      case 'command': {
        if (typeof msg.command !== 'string' || !msg.command.trim()) return send('error', 'command must be a non-empty string');
        const checked = COMMAND.safeParse(msg.command);
        if (!checked.success) return send('error', `invalid command: ${checked.error.issues.map((i) => i.message).join('; ')}`);
        if (waiting.length >= MAX_WAITING) return send('error', `${MAX_WAITING} commands are already waiting; wait for a prompt before sending more`);
        waiting.push(msg.command);
        if (!running) void drain();
        return;
      }
      default:
        return send('error', `unknown message type ${JSON.stringify(msg.type)}; use command, ping or resize`);
    }
  });
}
