// The embedded `local` provider: a shuttle is a sandbox (bubblewrap, else util-linux unshare) owned
// by a detached per-session supervisor process (daemon/supervisor), which survives the daemon. What
// the provider keeps in memory is a shortcut only (the init of the shuttles it launched, for
// terminate): everything is found again from `<home>/sandboxes/<name>/`.
//
//   new LocalComputeProvider({ home, log?, supervisorScript?, nodePath?, sandbox?, poolSize?,
//                              shellLingerSeconds?, scrollbackBytes?, env? })
// Environment (read when the option is not given): ONMEMOS_SANDBOX=auto|bwrap|unshare,
// ONMEMOS_LOCAL_POOL_SIZE (idle supervisors kept warm, default 2; 0 disables),
// ONMEMOS_SHELL_LINGER_SECONDS (default 600), ONMEMOS_SHELL_SCROLLBACK_BYTES (default 262144).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rm, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mountPathProblem } from '../../client/rules';
import { normalize } from './mounts';
import { ApiError, badRequest, conflict, providerUnavailable } from '../../errors';
import type { Health, LaunchRequest, SupervisorState } from '../../supervisor/protocol';
import type { ComputeProvider, ExecOptions, ExecResult, LaunchSpec, Progress, SessionRef, ShellInfo, ShellSocket, ShellStream } from '../types';
import { agentSocketIn, agentSocketPath, endedDir, MAX_SOCKET_PATH, sandboxDir, sandboxesRoot, socketPath, statePath, storageDir } from './paths';
import { startTime, SupervisorPool, type Member } from './pool';
import { call, callOnce, SupervisorGone } from './rpc';
import { destinationsKey, fitsDirect, launchDirect, precomputeFits, WarmMemberGone } from './direct';
import { connectShellSocket, openShellStream, type ShellOptions } from './shell-client';
import { ExecStreams, lost, NoExecStream } from './exec-channel';
import { detect, type Capability, type SandboxChoice } from './tools';

export type LocalLog = (event: string, fields?: Record<string, unknown>) => void;
/** A structured logger (daemon/log.ts Logger fits) or a plain function. */
export type LocalLogger = LocalLog | {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
};

export interface LocalProviderOptions {
  /** The daemon's home ($ONMEMOS_HOME). */
  home: string;
  log?: LocalLogger;
  /** dist/supervisor.js; found next to this bundle (or in <repo>/dist when run from source). */
  supervisorScript?: string;
  /** Node binary for supervisors; default process.execPath. */
  nodePath?: string;
  sandbox?: SandboxChoice;
  poolSize?: number;
  shellLingerSeconds?: number;
  scrollbackBytes?: number;
  /** Environment to read settings and PATH (for finding bwrap/unshare/nsenter) from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** After terminate kills a sandbox directly, how long its supervisor has to end by itself (default 10 s). */
  supervisorExitMs?: number;
}

function findSupervisorScript(): string {
  const here = dirname(__filename);
  const candidates = [join(here, 'supervisor.js'), join(here, '..', '..', '..', 'dist', 'supervisor.js')];
  return candidates.find((c) => existsSync(c)) ?? candidates[0]!;
}

function intOr(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(n) && n >= 0 ? Math.floor(n) : fallback;
}

/** A shuttle this process launched: what spares terminate and the first command a round trip. */
interface Launched {
  /** The sandbox's init (host pid, start time): terminate kills it directly while it provably is that process. */
  pid?: number;
  start?: string;
  /** The kept-alive connection to its agent, made while it was a pool member (rpc.call's `connection`). */
  connection: string;
  /** A shell was opened on it: terminate must tell the agent (attached clients get exit 137). */
  shells: boolean;
  /** Launched directly (direct.ts): settles once its supervisor took it on (or could not). Requests to the supervisor wait for this. */
  adopted?: Promise<unknown>;
  /** Its supervisor (host pid, start time): killed by terminate if it has not ended `supervisorExitMs` after its sandbox. */
  supervisor: { pid: number; start?: string };
}

const notRunning = (ref: SessionRef) => conflict(`shuttle ${ref.sandbox_name} is not running`);

export class LocalComputeProvider implements ComputeProvider {
  readonly name = 'local' as const;
  readonly home: string;
  private readonly log: LocalLog;
  private readonly env: NodeJS.ProcessEnv;
  private readonly choice: SandboxChoice;
  private readonly linger: number;
  private readonly streams = new ExecStreams();
  private readonly supervisorExitMs: number;
  private readonly scrollback: number;
  private readonly pool: SupervisorPool;
  private cap: Capability | undefined;
  /** Shuttles this process launched (see Launched); after a restart nobody is here, and all is asked. */
  private readonly launchedHere = new Map<string, Launched>();
  /**
   * Storage destinations of recent launches (most recent last; at first none, the default vault's,
   * and vault plus drive): a joining pool member works out ahead whether they fit its warm sandbox.
   */
  private readonly recentDestinations = new Set([destinationsKey([]), destinationsKey(['/workspace']), destinationsKey(['/workspace', '/data'])]);

  constructor(options: LocalProviderOptions) {
    this.home = options.home;
    const log = options.log;
    this.log = !log ? () => {} : typeof log === 'function' ? log
      : (event, fields) => (/failed|forced/.test(event) ? log.warn(event, fields) : log.info(event, fields));
    this.env = options.env ?? process.env;
    const choice = options.sandbox ?? (this.env.ONMEMOS_SANDBOX || 'auto');
    if (!['auto', 'bwrap', 'unshare'].includes(choice)) throw new Error(`ONMEMOS_SANDBOX must be auto, bwrap or unshare, not ${choice}`);
    this.choice = choice as SandboxChoice;
    this.supervisorExitMs = options.supervisorExitMs ?? 10_000;
    this.linger = options.shellLingerSeconds ?? intOr(this.env.ONMEMOS_SHELL_LINGER_SECONDS, 600);
    this.scrollback = Math.max(256 << 10, options.scrollbackBytes ?? intOr(this.env.ONMEMOS_SHELL_SCROLLBACK_BYTES, 256 << 10));
    const size = options.poolSize ?? intOr(this.env.ONMEMOS_LOCAL_POOL_SIZE, 2);
    const supervisorEnv: Record<string, string> = { PATH: this.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' };
    this.pool = new SupervisorPool({
      home: this.home, nodePath: options.nodePath ?? process.execPath,
      script: options.supervisorScript ?? findSupervisorScript(), env: supervisorEnv,
      prestart: () => (this.cap ? JSON.stringify(this.cap) : undefined),
      onJoin: (m) => {
        precomputeFits(this.home, m, this.recentDestinations);
        void this.streams.open(agentSocketIn(m.dir), m.agentConnection);
      },
    }, size, (e) => this.log('local.pool_spawn_failed', { error: String(e) }));
    SupervisorPool.sweep(this.home);
    // Scratch dirs a stopped daemon did not finish removing.
    rm(endedDir(this.home), { recursive: true, force: true }, () => undefined);
  }

  private async capability(): Promise<Capability> {
    this.cap = await detect(this.choice, this.env.PATH);
    return this.cap;
  }

  async check(): Promise<void> {
    await this.capability();
    this.pool.fill();
  }

  /** Fill the warm pool and wait until it is ready (benchmarks, tests). */
  async warm(): Promise<void> {
    await this.capability();
    await this.pool.warm();
  }

  async launch(spec: LaunchSpec, progress?: Progress): Promise<void> {
    const cap = await this.capability();
    const sock = socketPath(this.home, spec.sandbox_name);
    if (sock.length > MAX_SOCKET_PATH) throw badRequest(`home path too long for a Unix socket: ${sock}`);
    // Paths the API refuses; storage recorded before a rule existed is refused here, before a sandbox.
    for (const m of spec.mounts) {
      const problem = mountPathProblem(m.mount_path);
      if (problem) throw badRequest(`${m.name}: ${problem}`);
    }
    const sources: Record<string, string> = {};
    for (const m of spec.mounts) {
      const dir = storageDir(this.home, m.resource_id);
      mkdirSync(dir, { recursive: true });
      sources[m.resource_id] = dir;
    }
    const req: LaunchRequest = {
      spec, mode: cap.mode, userns: cap.userns, tools: cap.tools, sources,
      shell_linger_seconds: this.linger, scrollback_bytes: this.scrollback,
    };
    const key = destinationsKey(spec.mounts.map((m) => normalize(m.mount_path)));
    this.recentDestinations.delete(key);
    this.recentDestinations.add(key);
    if (this.recentDestinations.size > 4) this.recentDestinations.delete(this.recentDestinations.values().next().value!);
    // A warm member whose sandbox died just before (nothing happened to it yet): once more, on another.
    for (let tries = 2; ; tries--) {
      progress?.('starting supervisor');
      const member = await this.pool.take().finally(() => this.pool.refillSoon());
      progress?.(`creating ${cap.mode} sandbox`);
      try {
        return await this.launchOn(member, req);
      } catch (e) {
        if (e instanceof WarmMemberGone && tries > 1) continue;
        if (e instanceof SupervisorGone) throw providerUnavailable(`cannot start the sandbox: its supervisor went away (${e.reason})`);
        throw e;
      }
    }
  }

  private async launchOn(member: Member, req: LaunchRequest): Promise<void> {
    const name = req.spec.sandbox_name;
    if (fitsDirect(this.home, member, req)) {
      const d = await launchDirect(this.home, member, req, (event, fields) => this.log(event, fields));
      const mine: Launched = { pid: d.init_pid, start: d.init_start, connection: member.agentConnection, shells: false, adopted: d.adopted, supervisor: member };
      this.launchedHere.set(name, mine);
      void d.adopted.then((r) => {
        // Not when it was terminated meanwhile: its supervisor ended with the sandbox, nothing to adopt.
        if (r !== true && this.launchedHere.get(name) === mine) this.log('local.adopt_failed', { sandbox_name: name, error: String(r) });
      });
      this.log('local.launched', { sandbox_name: name, mode: req.mode, init_pid: d.init_pid, supervisor_pid: member.pid, direct: true });
      return;
    }
    const h = await call<Health>(member.socket, 'POST', '/launch', req);
    this.launchedHere.set(name, { pid: h.init_pid, start: h.init_start, connection: member.agentConnection, shells: false, supervisor: member });
    this.log('local.launched', { sandbox_name: name, mode: req.mode, init_pid: h.init_pid, supervisor_pid: h.pid });
  }

  async execute(session: SessionRef, options: ExecOptions): Promise<ExecResult> {
    const timeout = (options.timeout_seconds + 15) * 1000;
    // The agent over its exec stream, or POST /exec where it has none (one started by an older
    // daemon) — either way a command it may have run is never handed to the supervisor (502
    // agent_lost); the supervisor over HTTP.
    const byHttpOnce = (socket: string) => callOnce<ExecResult>(socket, 'POST', '/exec', options, timeout, (why) => lost(`went away before it answered (${why})`));
    return this.agentFirst(session, (socket, connection, agent) => (!agent ? call<ExecResult>(socket, 'POST', '/exec', options, timeout)
      : this.streams.exec(socket, connection, options, timeout).catch((e: unknown) => (e instanceof NoExecStream ? byHttpOnce(socket) : Promise.reject(e)))));
  }

  private readState(ref: SessionRef): SupervisorState | undefined {
    try { return JSON.parse(readFileSync(statePath(this.home, ref.sandbox_name), 'utf8')) as SupervisorState; } catch { return undefined; }
  }

  async terminate(session: SessionRef): Promise<void> {
    const name = session.sandbox_name;
    const mine = this.launchedHere.get(name);
    this.launchedHere.delete(name);
    const dir = sandboxDir(this.home, name);
    if (!existsSync(dir)) return;
    // Launched by this process, which opened no shell on it: nobody needs telling (an attached shell's
    // client gets exit 137 from the agent first), so SIGKILL the sandbox's PID 1 here — the kernel
    // ends every process of its PID namespace — when its start time shows the pid is still that
    // init. The supervisor sees its sandbox end and removes itself: a round trip to it (and waiting
    // while the kernel tears the sandbox down) is not on the terminate path.
    if (mine?.pid && mine.start && !mine.shells && startTime(mine.pid) === mine.start) {
      try { process.kill(mine.pid, 'SIGKILL'); } catch { /* ended meanwhile */ }
      // A supervisor that is stuck (stopped, its event loop blocked) would not notice: it is killed
      // if it is still that process a while later.
      const sup = mine.supervisor;
      setTimeout(() => {
        if (!sup.start || startTime(sup.pid) !== sup.start) return;
        try { process.kill(sup.pid, 'SIGKILL'); } catch { return; /* ended meanwhile */ }
        this.log('local.supervisor_killed', { sandbox_name: name, pid: sup.pid, why: `still running ${this.supervisorExitMs} ms after its sandbox was ended` });
      }, this.supervisorExitMs).unref();
    } else {
      try {
        await mine?.adopted;
        await call(socketPath(this.home, name), 'POST', '/terminate', undefined, 15_000);
      } catch (e) {
        // The supervisor is gone or stuck: kill what is left by pid, then remove the scratch space.
        const state = this.readState(session);
        if (state) {
          for (const pid of [state.pid, state.init_pid]) if (isSupervisorOrSandbox(pid)) {
            if (pid === state.init_pid && state.init_start && startTime(pid) !== state.init_start) continue;
            try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
          }
        }
        this.log('local.terminate_forced', { sandbox_name: name, error: String(e) });
      }
    }
    this.discard(dir, session.sandbox_name);
    this.log('local.terminated', { sandbox_name: session.sandbox_name });
  }

  /**
   * The scratch dir leaves `sandboxes/` at once (a rename: the name is free, nothing lists it) and is
   * removed in the background, off the terminate path and the event loop (what a stopped daemon
   * left in .ended is removed at the next start). The supervisor removes it too as it ends (by
   * its old name: whichever comes first wins).
   */
  private discard(dir: string, name: string): void {
    const ended = endedDir(this.home);
    const trash = `${ended}/${name}-${randomBytes(4).toString('hex')}`;
    try {
      mkdirSync(ended, { recursive: true, mode: 0o700 });
      renameSync(dir, trash);
    } catch {
      // Already gone (the supervisor was quicker), or .ended was being swept: remove it in place.
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
      return;
    }
    // A moment later: a recursive rm is many small fs calls on libuv's threadpool, which the store's
    // journal append right after a terminate would otherwise queue behind (2-5 ms measured).
    setTimeout(() => rm(trash, { recursive: true, force: true }, () => undefined), 500).unref();
  }

  async sweepOrphans(live: Set<string>): Promise<string[]> {
    let names: string[];
    try { names = readdirSync(sandboxesRoot(this.home)); } catch { return []; }
    const orphans = names.filter((n) => !n.startsWith('.') && !live.has(n));
    for (const name of orphans) {
      try {
        await this.terminate({ session_id: name, sandbox_name: name, namespace: '' });
      } catch (e) {
        this.log('local.orphan_not_ended', { sandbox_name: name, error: String(e) });
      }
    }
    return orphans;
  }

  async isAlive(session: SessionRef): Promise<boolean> {
    // Terminated here (its dir discarded): its supervisor may not have noticed yet, and a kept-alive
    // connection to it would still reach it.
    if (!existsSync(sandboxDir(this.home, session.sandbox_name))) return false;
    try {
      await this.launchedHere.get(session.sandbox_name)?.adopted;
      const h = await call<Health>(socketPath(this.home, session.sandbox_name), 'GET', '/health', undefined, 5000);
      return h.status === 'running' && h.sandbox_name === session.sandbox_name;
    } catch {
      return false;
    }
  }

  /** Shells live in the sandbox's agent; the supervisor serves them where the agent cannot (no node-pty). */
  openShell(session: SessionRef, options: ShellOptions): Promise<ShellStream> {
    return this.shellServer(session, (socket) => openShellStream(socket, options));
  }

  connectShell(session: SessionRef, options: ShellOptions): Promise<ShellSocket> {
    return this.shellServer(session, (socket) => connectShellSocket(socket, options));
  }

  private shellServer<T>(session: SessionRef, run: (socket: string) => Promise<T>): Promise<T> {
    // Before the shell exists: a terminate from now on tells the agent (its client gets exit 137).
    const mine = this.launchedHere.get(session.sandbox_name);
    if (mine) mine.shells = true;
    return this.agentFirst(session, run);
  }

  async listShells(session: SessionRef): Promise<ShellInfo[]> {
    return (await this.agentFirst(session, (socket, connection) => call<{ shells: ShellInfo[] }>(socket, 'GET', '/shells', undefined, 5000, connection))).shells;
  }

  /**
   * Commands and shells go to the sandbox's exec agent, and to the supervisor where the agent is not
   * there (gone, not configured: 409) or does not know the shell (404: the supervisor served it).
   */
  private async agentFirst<T>(session: SessionRef, run: (socket: string, connection: string | undefined, agent: boolean) => Promise<T>): Promise<T> {
    if (!existsSync(sandboxDir(this.home, session.sandbox_name))) throw notRunning(session);
    try {
      return await run(agentSocketPath(this.home, session.sandbox_name), this.launchedHere.get(session.sandbox_name)?.connection, true);
    } catch (e) {
      if (!(e instanceof SupervisorGone) && !(e instanceof ApiError && (e.status === 404 || e.status === 409))) throw e;
    }
    try {
      await this.launchedHere.get(session.sandbox_name)?.adopted;
      return await run(socketPath(this.home, session.sandbox_name), undefined, false);
    } catch (e) {
      if (e instanceof SupervisorGone) throw notRunning(session);
      throw e;
    }
  }

  async close(): Promise<void> {
    this.streams.close();
    await this.pool.close();
  }
}

/** Guard against pid reuse before SIGKILL: only our supervisor or a sandbox tool. */
function isSupervisorOrSandbox(pid: number): boolean {
  if (!pid) return false;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /supervisor|bwrap|unshare|sleep|\/bin\/sh|onmemos-init/.test(cmd);
  } catch {
    return false;
  }
}
