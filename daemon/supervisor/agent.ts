// The exec agent: a small long-lived process started once inside each sandbox, already in its
// namespaces with every capability dropped and no_new_privs set (the sandbox starts it through
// `setpriv`), so a command is one plain spawn of `bash -lc` — no nsenter and setpriv per command.
// The daemon talks to it directly over `<sandbox dir>/run/agent.sock` (the directory is bound into
// the sandbox at /run/onmemos/run and made read-only before any command runs, so nothing inside can
// replace the socket). Whoever set the sandbox up (the daemon, or the supervisor) gives it the
// session (stage.ts giveAgentSession): as a file (`session.json` beside the socket, read when it
// changes — inotify — or at the first request that needs it), so that the launch waits for no
// request to the agent (a round trip to a process that never served one cost 3-4 ms of every
// launch). A session with env of its own comes by POST /configure instead: its values (secrets,
// often) are never written to disk.
// It also owns the shuttle's terminals (shells.ts, agentTerms): ptys it opens itself, from the
// sandbox's own devpts, served as WebSockets on the same socket.
//   GET  /health                               -> {status: "configured" | "waiting", pid}
//   POST /warm      any JSON                   -> {ok: true}   (the supervisor, once: warms the body path)
//   POST /configure AgentSession               -> {ok: true}   (whoever launched, once: a session with env)
//   POST /exec      ExecRequest                -> ExecResult   (409 until the session is known)
//   GET  /exec-stream                          -> Upgrade: onmemos-exec, then the same as lines (exec-stream.ts)
//   GET  /shells                               -> {shells: ShellInfo[]}   (409 without shells or session)
//   GET  /shell?cols&rows[&attach=ID]          -> WebSocket upgrade (shells.ts serveShells)
//   POST /shutdown                             -> end every shell with 137 (the shuttle ends)
//   node supervisor.js --agent SOCKET [--pty NODE_PTY_DIR]
import { readFileSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fail, HttpError, readJson, send } from './http';
import { execLimits, runExec } from './exec';
import { baseEnv, sandboxUser } from './env';
import { agentTerms, loadPty, serveShells, Shells } from './shells';
import { EXEC_STREAM_PATH, serveExecStream } from './exec-stream';
import { LoginShellPool } from './login-pool';
import { AGENT_SESSION_FILE, eagerFeedback, type AgentSession, type ExecRequest } from './protocol';
import type { ExecResult } from '../providers/types';

export function runAgent(socket: string, ptyDir?: string): void {
  // What `ps` inside the sandbox shows (comm too): a sandbox process, not the host's node.
  process.title = 'onmemos-agent';
  let config: AgentSession | undefined;
  // Login shells for the first commands, started while the sandbox is still warm (see login-pool.ts).
  const pool = new LoginShellPool({ cwd: '/', env: baseEnv(sandboxUser()) });
  let shells: Shells | undefined;
  let noPty = false;
  const sessionFile = join(dirname(socket), AGENT_SESSION_FILE);
  /** Take the session (once): the login shells started for the warm sandbox are kept if they fit. */
  const configure = (c: Partial<AgentSession>): AgentSession | undefined => {
    if (config) return config;
    if (typeof c.cwd !== 'string' || !c.env || typeof c.env !== 'object') return undefined;
    config = { cwd: c.cwd, env: c.env, shell_linger_ms: Number(c.shell_linger_ms) || 600_000, scrollback_bytes: Number(c.scrollback_bytes) || 256 << 10 };
    pool.adopt(config);
    // Shells that did not fit were ended: start the session's own, ahead of its first command.
    setImmediate(() => pool.fill());
    return config;
  };
  /** The session once it was given (by file or request), else undefined: not launched yet. */
  const session = (): AgentSession | undefined => {
    if (config) return config;
    // Written in one write before the launch answered: a partial read (an inotify event during the
    // write) fails to parse and is read again at the next event or request.
    try { return configure(JSON.parse(readFileSync(sessionFile, 'utf8')) as Partial<AgentSession>); } catch { return undefined; }
  };
  /** The terminals, made at the first use (undefined without a session or without node-pty). */
  const terminals = (): Shells | undefined => {
    const c = session();
    if (shells || !c || noPty) return shells;
    try {
      loadPty(ptyDir);
      shells = new Shells(agentTerms(c.cwd), { lingerMs: c.shell_linger_ms, scrollbackBytes: c.scrollback_bytes, env: c.env });
    } catch { noPty = true; /* no node-pty here: the supervisor serves the shells */ }
    return shells;
  };
  /** One `execute` (POST /exec, or a line of the exec stream). */
  const command = async (r: ExecRequest): Promise<ExecResult> => {
    const c = session();
    if (!c) throw new HttpError(409, 'conflict', 'no session here yet');
    if (typeof r?.command !== 'string') throw new HttpError(400, 'invalid_request', 'command must be a string');
    const limits = execLimits(r);
    const started = performance.now();
    const prepared = pool.run(limits, r.env ?? {}, started);
    if (prepared) return prepared;
    return runExec({ file: '/bin/bash', args: ['-lc', r.command], cwd: c.cwd }, limits, { ...c.env, ...(r.env ?? {}) });
  };
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const key = `${req.method} ${req.url}`;
    if (key === 'GET /health') return send(res, 200, { status: config ? 'configured' : 'waiting', pid: process.pid });
    if (key === 'POST /warm') { await readJson(req); return send(res, 200, { ok: true }); }
    if (key === 'POST /configure') {
      if (!configure(await readJson<Partial<AgentSession>>(req))) throw new HttpError(400, 'invalid_request', 'cwd and env required');
      return send(res, 200, { ok: true });
    }
    if (key === 'POST /exec') return send(res, 200, await command(await readJson<ExecRequest>(req)));
    if (key === 'GET /shells') {
      const shells = terminals();
      if (!shells) throw new HttpError(409, 'conflict', 'no shells here');
      return send(res, 200, { shells: shells.list() });
    }
    if (key === 'POST /shutdown') {
      shells?.killAll();
      return send(res, 200, { ok: true });
    }
    throw new HttpError(404, 'not_found', `no route ${key}`);
  };
  const server = createServer((req, res) => {
    route(req, res).catch((e: Error) => fail(res, e, new HttpError(500, 'internal', e.message)));
  });
  server.keepAliveTimeout = 60_000;
  serveShells(server, terminals, { [EXEC_STREAM_PATH]: (_req, sock, head) => serveExecStream(sock, head, command) });
  try { unlinkSync(socket); } catch { /* fresh */ }
  // The session is read the moment it is put in place (inotify on the run dir), while
  // the launch's answer travels to the daemon: the first command does not wait for it.
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(socket), (_event, name) => {
      if (name !== AGENT_SESSION_FILE || !session()) return;
      watcher?.close();
    });
    watcher.on('error', () => watcher?.close());
  } catch { /* no inotify: read at the first request */ }
  server.listen(socket, () => {
    eagerFeedback();
    pool.fill();
    setImmediate(() => { try { loadPty(ptyDir); } catch { /* terminals() says so */ } });
    // Warm this module's command path (take a prepared shell, collect it; the pool refills after)
    // before a session's first command needs it: a fresh process runs it twice as slowly.
    void pool.run({ command: 'true', timeout_seconds: 5, max_output_bytes: 1024 }, {}, performance.now());
  });
  // PID 1 of the sandbox dying takes us along; SIGTERM (none is expected) ends us cleanly.
  process.on('SIGTERM', () => process.exit(0));
}
