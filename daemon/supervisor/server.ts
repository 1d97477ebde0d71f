// The per-shuttle supervisor (dist/supervisor.js): the local provider's counterpart of a pod.
// Spawned detached (its own session) by the daemon, it first idles in the warm pool listening on
// `<home>/sandboxes/.pool/<id>.sock`; POST /launch turns it into one shuttle: it moves its socket to
// `<home>/sandboxes/<name>/supervisor.sock`, starts the sandbox, writes state.json and from then on
// owns the sandbox and everything in it: the exec agent, which runs the commands and holds the
// ptys (agent.ts; the supervisor runs both itself when the agent cannot). It outlives the daemon;
// it ends the sandbox itself at expires_at (TTL), on POST /terminate, or when the sandbox dies. An
// idle pool member exits when the daemon that spawned it is gone.
//   node dist/supervisor.js --home DIR --pool-id ID --owner-pid PID [--prestart JSON]
// With --prestart {mode, userns, tools} an idle member already runs its sandbox (everything but the
// session's storage, see stage.ts) and the exec agent inside it, and says `ready` only then; a launch
// whose mount plan fits binds the session's storage into it (Sandbox.activate), else starts afresh.
// Its ready line then says what the daemon needs to do that itself (`ready <WarmMember json>`): a
// direct launch (providers/local/direct.ts) sets the sandbox up through the setup FIFOs, renames
// the scratch dir and writes state.json, then sends POST /adopt, and the supervisor takes the
// shuttle on from there (socket, shells, TTL) without being on the launch's path.
import { mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync, existsSync, appendFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fail, HttpError, readJson, send } from './http';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import type { MountOp } from '../providers/local/mounts';
import { MAX_SOCKET_PATH, poolDir, sandboxDir, SOCKET_NAME, STATE_NAME, storageRoot as storageRootOf } from '../providers/local/paths';
import { pidAlive } from '../providers/local/pool';
import { call } from '../providers/local/rpc';
import { agentBinds, basePlan, giveAgentSession, scratch, sessionCwd, sessionMounts, SETUP_IN, stageBinds, supervisorState, type Scratch } from './stage';
import { execLimits, runExec } from './exec';
import { sandboxEnv, sandboxUser } from './env';
import { AGENT_SESSION_FILE, type WarmMember, type Health, type LaunchRequest, type ExecRequest, type SandboxMode, type SupervisorState, type Tools } from './protocol';
import { Sandbox } from './sandbox';
import { sandboxTerms, serveShells, Shells } from './shells';

const { values: argv } = parseArgs({
  args: process.argv.slice(2),
  options: { home: { type: 'string' }, 'pool-id': { type: 'string' }, 'owner-pid': { type: 'string' }, prestart: { type: 'string' } },
});
const home = argv.home!;
const ownerPid = Number(argv['owner-pid']);
let socket = join(poolDir(home), `${argv['pool-id']}.sock`);
/** This member's scratch space until launch renames it to the sandbox dir. */
let work: Scratch = scratch(join(poolDir(home), `${argv['pool-id']}`));
const storageRoot = storageRootOf(home);

interface Prestarted { sandbox: Sandbox; mode: SandboxMode; base: string }
let prestarted: Prestarted | undefined;
let prestartError: string | undefined;

let status: Health['status'] = 'idle';
let launch: LaunchRequest | undefined;
let sandbox: Sandbox | undefined;
let shells: Shells | undefined;
let dir: string | undefined;
let cwd = '/';
let baseEnv: Record<string, string> = {};
let startedAt: string | undefined;

function log(event: string, fields: Record<string, unknown> = {}): void {
  if (!dir) return;
  try { appendFileSync(join(dir, 'supervisor.log'), `${JSON.stringify({ t: new Date().toISOString(), event, ...fields })}\n`); } catch { /* best effort */ }
}

function health(): Health {
  return {
    status, pid: process.pid, sandbox_name: launch?.spec.sandbox_name, session_id: launch?.spec.session_id,
    mode: launch?.mode, init_pid: sandbox?.initPid, init_start: sandbox?.initStart, expires_at: launch?.spec.expires_at, started_at: startedAt,
  };
}

function makeScratch(s: Scratch): void {
  for (const d of [s.home, s.root, s.run]) mkdirSync(d, { recursive: true, mode: 0o700 });
  mkdirSync(storageRoot, { recursive: true, mode: 0o700 });
}

/** node-pty's package directory as this supervisor resolves it, or undefined (the agent then serves no shells). */
const PTY_DIR = ((): string | undefined => {
  try { return dirname(require.resolve('node-pty/package.json')); } catch { return undefined; }
})();

/** Start a sandbox on `base` plus the stage and agent binds; resolves once it (and its agent) run. */
async function startSandbox(mode: SandboxMode, userns: boolean, tools: Tools, base: MountOp[], hostname: string, warm: boolean): Promise<Sandbox> {
  const agent = agentBinds(process.execPath, __filename, PTY_DIR);
  const sb = await Sandbox.start({
    mode, userns, tools, hostname, newRoot: work.root, run: work.run,
    ops: [...base, ...stageBinds(work, storageRoot), ...agent.ops], agent: { node: agent.node, script: agent.script, pty: agent.pty },
  });
  // The agent boots Node (tens of ms): wait for it, so a launch never waits on it. Without it,
  // commands still run (the daemon falls back to the supervisor's nsenter path).
  const deadline = Date.now() + 10_000;
  while (sb.alive && Date.now() < deadline) {
    try { await call(work.agent, 'GET', '/health', undefined, 2000); break; } catch { await new Promise((r) => setTimeout(r, 5)); }
  }
  // One request with a body, as the first command's will be: a fresh process's first body read
  // costs ~1 ms more than the next one (stream code compiled and run for the first time). Only for
  // a warm sandbox: a launch that starts its own would wait for it.
  if (warm) await call(work.agent, 'POST', '/warm', { command: 'true', timeout_seconds: 60, max_output_bytes: 1 << 20 }, 2000).catch(() => undefined);
  return sb;
}

async function prestart(json: string): Promise<void> {
  const p = JSON.parse(json) as { mode: SandboxMode; userns: boolean; tools: Tools };
  makeScratch(work);
  const base = basePlan(home, work, sandboxUser().home, []);
  const sb = await startSandbox(p.mode, p.userns, p.tools, base, 'onmemos-warm', true);
  prestarted = { sandbox: sb, mode: p.mode, base: JSON.stringify(base) };
  // The agent's session file, empty until launch fills it (one write to a file that exists: creating
  // and renaming one costs ~0.5 ms here, on the launch path; see giveAgentSession).
  writeFileSync(join(work.run, AGENT_SESSION_FILE), '', { mode: 0o600 });
  sb.onExit(() => { if (status === 'idle') void shutdown('warm sandbox exited'); });
}

/**
 * The daemon set the warm sandbox up itself (providers/local/direct.ts: the one-process setup's
 * FIFO is gone once it began): the shuttle is the daemon's now, and this member waits for POST
 * /adopt — even when the daemon is gone meanwhile (its request may still be in the socket).
 */
function activatedElsewhere(): boolean {
  const p = prestarted;
  return !!p && p.sandbox.oneProcess && (p.sandbox.launched || !existsSync(join(p.sandbox.cfg.run, SETUP_IN)));
}

async function doLaunch(req: LaunchRequest): Promise<Health> {
  if (status !== 'idle' || activatedElsewhere()) throw new HttpError(409, 'conflict', 'this supervisor already runs a shuttle');
  const { spec } = req;
  const target = sandboxDir(home, spec.sandbox_name);
  if (existsSync(target)) throw new HttpError(409, 'conflict', `sandbox ${spec.sandbox_name} already exists`);
  if (join(target, SOCKET_NAME).length > MAX_SOCKET_PATH) throw new HttpError(400, 'invalid_request', `socket path too long: ${join(target, SOCKET_NAME)}`);
  status = 'running';
  launch = req;
  let reusedWarm = false;
  try {
    const mounts = sessionMounts(req, storageRoot);
    makeScratch(work);
    const base = basePlan(home, work, sandboxUser().home, mounts);
    const warm = prestarted;
    prestarted = undefined;
    reusedWarm = !!warm && warm.sandbox.alive && warm.mode === req.mode && warm.base === JSON.stringify(base);
    if (reusedWarm) sandbox = warm!.sandbox;
    else {
      if (warm) await warm.sandbox.kill();
      sandbox = await startSandbox(req.mode, req.userns, req.tools, base, spec.sandbox_name, false);
    }
    await sandbox.activate(spec.sandbox_name, mounts);
    // After the activation (not competing with it for the CPU); the agent reads it while this answer travels.
    const agentProblem = await giveAgentSession(req, work);
    if (agentProblem) log('agent_unavailable', { error: agentProblem });
    // The scratch (bound into the sandbox by inode) becomes the sandbox dir.
    renameSync(work.dir, target);
    return settle(req, new Date().toISOString(), { warm: reusedWarm, direct: false });
  } catch (err) {
    log('launch_failed', { error: String(err), prestart_error: prestartError });
    setImmediate(() => void shutdown('launch failed'));
    throw new HttpError(503, 'provider_unavailable', `cannot start the sandbox: ${(err as Error).message}`);
  }
}

/** How long after POST /adopt arrived the shuttle is taken on (see route). */
const ADOPT_DELAY_MS = 50;

/** POST /adopt: the shuttle the daemon launched on this member's warm sandbox (see activatedElsewhere). */
function doAdopt(body: { launch?: LaunchRequest; started_at?: string }): Health {
  const req = body.launch;
  if (!req?.spec || typeof body.started_at !== 'string') throw new HttpError(400, 'invalid_request', 'launch and started_at required');
  if (status !== 'idle' || !prestarted || !activatedElsewhere()) throw new HttpError(409, 'conflict', 'no sandbox of this supervisor was launched');
  // The daemon moved the scratch dir to the sandbox's and wrote the agent's session and state.json
  // there, naming this supervisor: an adopt for any other dir is refused.
  let state: Partial<SupervisorState> = {};
  try { state = JSON.parse(readFileSync(join(sandboxDir(home, req.spec.sandbox_name), STATE_NAME), 'utf8')) as SupervisorState; } catch { /* checked below */ }
  if (state.pid !== process.pid) throw new HttpError(409, 'conflict', `sandbox ${req.spec.sandbox_name} is not this supervisor's`);
  status = 'running';
  launch = req;
  sandbox = prestarted.sandbox;
  prestarted = undefined;
  try {
    return settle(req, body.started_at, { warm: true, direct: true });
  } catch (err) {
    // Half taken on (terminated meanwhile, say): end it rather than run on unwatched.
    log('adopt_failed', { error: String(err) });
    setImmediate(() => void shutdown('adopt failed'));
    throw new HttpError(503, 'provider_unavailable', `cannot take the shuttle on: ${(err as Error).message}`);
  }
}

/**
 * The shuttle from here on, its sandbox set up and its scratch dir renamed to `<home>/sandboxes/<name>`:
 * the socket moves there too, the shells and the TTL are armed, state.json is written (by the daemon
 * already, after a direct launch).
 */
function settle(req: LaunchRequest, started: string, how: { warm: boolean; direct: boolean }): Health {
  const { spec } = req;
  const target = sandboxDir(home, spec.sandbox_name);
  work = scratch(target);
  dir = target;
  const newSocket = join(target, SOCKET_NAME);
  renameSync(socket, newSocket);
  socket = newSocket;
  cwd = sessionCwd(req);
  baseEnv = sandboxEnv(spec, sandboxUser());
  startedAt = started;
  if (!PTY_DIR) log('agent_unavailable', { error: 'node-pty is not installed: the supervisor serves the shells' });
  shells = new Shells(sandboxTerms(sandbox!, cwd), { lingerMs: req.shell_linger_seconds * 1000, scrollbackBytes: req.scrollback_bytes, env: baseEnv });
  if (!how.direct) {
    writeFileSync(join(target, `${STATE_NAME}.tmp`), JSON.stringify(supervisorState(home, req, process.pid, sandbox!.initPid, sandbox!.initStart, started)));
    renameSync(join(target, `${STATE_NAME}.tmp`), join(target, STATE_NAME));
  }
  sandbox!.onExit(() => { if (status === 'running') void shutdown('sandbox exited'); });
  armTtl(Date.parse(spec.expires_at));
  log('launched', { mode: req.mode, init_pid: sandbox!.initPid, ...how });
  return health();
}

function armTtl(at: number): void {
  if (!Number.isFinite(at)) return;
  const left = at - Date.now();
  if (left <= 0) return void shutdown('ttl');
  setTimeout(() => armTtl(at), Math.min(left, 2 ** 31 - 1));
}

let shuttingDown: Promise<void> | undefined;
function shutdown(reason: string): Promise<void> {
  shuttingDown ??= (async () => {
    log('terminate', { reason });
    const wasRunning = status === 'running';
    status = 'terminating';
    shells?.killAll();
    // The agent's shells get their exit event (137) before the sandbox goes (a dead agent cannot send it).
    if (wasRunning && sandbox?.alive) await call(work.agent, 'POST', '/shutdown', undefined, 300).catch(() => undefined);
    // SIGKILL to the sandbox's PID 1 is final (the kernel takes every process in it along): answer
    // then, and clean up after the answer went out.
    await sandbox?.kill(false);
    await prestarted?.sandbox.kill(false);
    setImmediate(() => {
      rmSync(dir ?? work.dir, { recursive: true, force: true });
      if (!dir) try { unlinkSync(socket); } catch { /* gone */ }
      server.close();
      setTimeout(() => process.exit(0), 20).unref();
    });
  })();
  return shuttingDown;
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://supervisor');
  const key = `${req.method} ${url.pathname}`;
  if (key === 'GET /health') return send(res, 200, health());
  if (key === 'POST /launch') return send(res, 200, await doLaunch(await readJson<LaunchRequest>(req)));
  if (key === 'POST /adopt') {
    const body = await readJson<{ launch?: LaunchRequest; started_at?: string }>(req);
    // Nothing waits for this answer on a launch's path (the daemon answered the launch once the
    // request was sent; its own later requests here wait for it): taken on a moment later, this
    // process's first run of the code (~3 ms of CPU, measured) does not compete with the launch's
    // answer and the shuttle's first command on a busy machine.
    await delay(ADOPT_DELAY_MS);
    return send(res, 200, doAdopt(body));
  }
  if (key === 'POST /exit' && status === 'idle') {
    send(res, 200, { ok: true });
    return void shutdown('exit requested');
  }
  if (key === 'POST /terminate') {
    await shutdown('terminate requested');
    return send(res, 200, { ok: true });
  }
  if (status !== 'running' || !sandbox || !shells) throw new HttpError(409, 'conflict', `shuttle is ${status}`);
  if (key === 'POST /exec') {
    const body = await readJson<ExecRequest>(req);
    if (typeof body.command !== 'string') throw new HttpError(400, 'invalid_request', 'command must be a string');
    const env = { ...baseEnv, ...(body.env ?? {}) };
    return send(res, 200, await runExec(sandbox.enter(cwd, ['/bin/bash', '-lc', body.command], env), execLimits(body), env));
  }
  if (key === 'GET /shells') return send(res, 200, { shells: shells.list() });
  throw new HttpError(404, 'not_found', `no route ${key}`);
}

const server = createServer((req, res) => {
  route(req, res).catch((err: unknown) => {
    if (!(err instanceof HttpError)) log('error', { error: String((err as Error)?.stack ?? err) });
    fail(res, err, new HttpError(500, 'internal', String((err as Error)?.message ?? err)));
  });
});
server.keepAliveTimeout = 60_000;

// Shells come here only where the agent cannot serve them (no node-pty in it, or it is gone): say so once.
let servingShells = false;
serveShells(server, () => {
  if (status !== 'running') return undefined;
  if (!servingShells) log('shells_from_supervisor', { reason: 'the exec agent serves no shells (no node-pty in the sandbox, or it is gone)' });
  servingShells = true;
  return shells;
});

mkdirSync(poolDir(home), { recursive: true, mode: 0o700 });
try { unlinkSync(socket); } catch { /* fresh */ }
server.listen(socket, () => {
  const ready = () => {
    // With a warm sandbox the daemon can set up itself (the one-process setup), what it needs for that.
    const p = prestarted;
    const warm: WarmMember | undefined = p?.sandbox.oneProcess
      ? { init_pid: p.sandbox.initPid, init_start: p.sandbox.initStart, mode: p.mode, base: p.base } : undefined;
    process.stdout.write(warm ? `ready ${JSON.stringify(warm)}\n` : 'ready\n');
    process.stdout.end?.();
    // Warm the spawn path (and its JIT) while idle, so a shuttle's first command is not the slow one.
    spawn('/bin/true', [], { stdio: ['ignore', 'pipe', 'pipe'], detached: true }).on('error', () => {});
  };
  if (!argv.prestart) return ready();
  // A warm sandbox that cannot start is no reason to fail: launch starts one itself (and says why).
  prestart(argv.prestart).catch((e: unknown) => { prestartError = String(e); }).finally(ready);
});

// An idle pool member belongs to one daemon: it leaves when that daemon (or its socket) is gone.
// Once the daemon set its sandbox up (activatedElsewhere) it waits for POST /adopt instead, for a
// while: a daemon killed right after its launch answered may have left the request in the socket.
const ADOPT_WAIT_MS = 30_000;
let activatedAt: number | undefined;
const watchdog = setInterval(() => {
  if (status !== 'idle') return clearInterval(watchdog);
  if (activatedElsewhere()) {
    activatedAt ??= Date.now();
    if (Date.now() - activatedAt > ADOPT_WAIT_MS) void shutdown('launched by the daemon but never adopted');
    return;
  }
  if (!pidAlive(ownerPid) || !existsSync(socket)) void shutdown('owner gone');
}, 1000);
watchdog.unref();
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void shutdown(sig));
