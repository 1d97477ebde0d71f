// The seed's line protocol: client {"type":"command"|"ping"|"resize"}, server
// {"type":"output"|"warning"|"error"|"prompt"|"pong","content","timestamp","session_id"}.
// Each command runs in the session through execute, which checks credits first (none left: error, close).
import type { WebSocket } from 'ws';
import type { Logger } from '../log';
import type { Services } from '../services';
import type { SessionRow } from '../store';
import { ApiError } from '../errors';
import { isLive } from '../services/context';

const COMMAND_TIMEOUT_S = 300;

export function runLineProtocol(ws: WebSocket, session: SessionRow, deps: { services: Services; log: Logger }) {
  const { services } = deps;
  const send = (type: string, content: string) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type, content, timestamp: new Date().toISOString(), session_id: session.session_id }));
  };
  let queue = Promise.resolve();
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
  ws.on('close', unwatch);

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
        const command = msg.command;
        queue = queue.then(async () => {
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
        });
        return;
      }
      default:
        return send('error', `unknown message type ${JSON.stringify(msg.type)}; use command, ping or resize`);
    }
  });
}
