// The exec agent: a small long-lived process started once inside each sandbox, already in its
// namespaces with every capability dropped and no_new_privs set (the sandbox starts it through
// `setpriv`), so a command is one plain spawn of `bash -lc` — no nsenter and setpriv per command.
// The daemon talks to it directly over `<sandbox dir>/run/agent.sock` (the directory is bound into
// the sandbox at /run/onmemos/run and made read-only before any command runs, so nothing inside can
// replace the socket). The supervisor configures it once at launch.
// It also owns the shuttle's terminals (shells.ts, agentTerms): ptys it opens itself, from the
// sandbox's own devpts, served as WebSockets on the same socket.
//   GET  /health                               -> {status: "configured" | "waiting", pid}
//   POST /configure {cwd, env, shell_linger_ms, scrollback_bytes}
//                                              -> {ok: true, shells: boolean}   (the supervisor, once)
//   POST /exec      ExecRequest                -> ExecResult   (409 until configured)
//   GET  /shells                               -> {shells: ShellInfo[]}   (409 without shells)
//   GET  /shell?cols&rows[&attach=ID]          -> WebSocket upgrade (shells.ts serveShells)
//   POST /shutdown                             -> end every shell with 137 (the shuttle ends)
//   node supervisor.js --agent SOCKET [--pty NODE_PTY_DIR]
import { unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fail, HttpError, readJson, send } from './http';
import { collect, execLimits, runExec } from './exec';
import { baseEnv, sandboxUser } from './env';
import { agentTerms, loadPty, serveShells, Shells } from './shells';
import { LoginShellPool } from './login-pool';
import type { ExecRequest } from './protocol';

export const AGENT_SOCKET_INSIDE = '/run/onmemos/run/agent.sock';

export function runAgent(socket: string, ptyDir?: string): void {
  // What `ps` inside the sandbox shows (comm too): a sandbox process, not the host's node.
  process.title = 'onmemos-agent';
  let config: { cwd: string; env: Record<string, string> } | undefined;
  // Login shells for the first commands, started while the sandbox is still warm (see login-pool.ts).
  const pool = new LoginShellPool({ cwd: '/', env: baseEnv(sandboxUser()) });
  let shells: Shells | undefined;
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const key = `${req.method} ${req.url}`;
    if (key === 'GET /health') return send(res, 200, { status: config ? 'configured' : 'waiting', pid: process.pid });
    if (key === 'POST /configure') {
      const c = await readJson<{ cwd?: unknown; env?: unknown; shell_linger_ms?: unknown; scrollback_bytes?: unknown }>(req);
      if (typeof c.cwd !== 'string' || !c.env || typeof c.env !== 'object') {
        throw new HttpError(400, 'invalid_request', 'cwd and env required');
      }
      config = { cwd: c.cwd, env: c.env as Record<string, string> };
      pool.adopt(config);
      try {
        loadPty(ptyDir);
        shells ??= new Shells(agentTerms(config.cwd), {
          lingerMs: Number(c.shell_linger_ms) || 600_000, scrollbackBytes: Number(c.scrollback_bytes) || 256 << 10, env: config.env,
        });
      } catch { /* no node-pty here: the supervisor serves the shells */ }
      send(res, 200, { ok: true, shells: !!shells });
      return void setImmediate(() => pool.fill());
    }
    if (key === 'POST /exec') {
      if (!config) throw new HttpError(409, 'conflict', 'agent not configured yet');
      const r = await readJson<ExecRequest>(req);
      if (typeof r.command !== 'string') throw new HttpError(400, 'invalid_request', 'command must be a string');
      const limits = execLimits(r);
      const started = performance.now();
      const prepared = pool.take(r.command, r.env ?? {});
      if (prepared) return send(res, 200, await collect(prepared, limits, started));
      return send(res, 200, await runExec({ file: '/bin/bash', args: ['-lc', r.command], cwd: config.cwd }, limits, { ...config.env, ...(r.env ?? {}) }));
    }
    if (key === 'GET /shells') {
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
  serveShells(server, () => shells);
  try { unlinkSync(socket); } catch { /* fresh */ }
  // Warm the spawn path and this module's JIT before a session's first command needs them.
  server.listen(socket, () => {
    pool.fill();
    setImmediate(() => { try { loadPty(ptyDir); } catch { /* configure says so */ } });
    void runExec({ file: '/bin/bash', args: ['-c', 'true'], cwd: '/' }, { command: 'true', timeout_seconds: 5, max_output_bytes: 1024 }, { PATH: '/usr/bin:/bin' });
  });
  // PID 1 of the sandbox dying takes us along; SIGTERM (none is expected) ends us cleanly.
  process.on('SIGTERM', () => process.exit(0));
}
