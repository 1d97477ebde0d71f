// Login shells made ahead of time. `execute` is `bash -lc <command>`, and most of its cost is the
// login shell starting (fork, exec, /etc/profile). The agent keeps a few `bash -l` processes that
// have already done that and wait on stdin for their command; a command is written to one, which
// runs it with `eval` in that same login shell and exits with its status: the same shell, the same
// profile, the same process group and pipes as `bash -lc`, without waiting for the start.
// A prepared shell is used only while the login files it read are unchanged (their mtimes are
// compared at take), so editing ~/.profile takes effect on the next command as with `bash -lc`.
// The agent starts its pool before the session is known (a warm sandbox: cwd /, the user's base
// environment). When the session comes (adopt), shells started that way stay usable only if the
// session adds nothing but its own ids (SESSION_KEYS) to that environment: they then change to the
// session's directory and export those ids before the command; a session with env of its own
// gets freshly started shells, so its login files see its environment exactly as `bash -lc` would.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { shq } from '../providers/local/mounts';
import { SESSION_KEYS } from './env';
import { collect, spawnCaptured, type Spawned } from './exec';
import type { ExecRequest } from './protocol';
import type { ExecResult } from '../providers/types';

/**
 * Reads two NUL-terminated strings from stdin — exports, then the command — and runs the command in
 * this login shell, leaving no trace: BASH_EXECUTION_STRING is the command, as under `bash -lc`.
 */
const WAITER = 'IFS= read -r -d "" __onmemos_env && IFS= read -r -d "" __onmemos_cmd || exit 97; eval "$__onmemos_env"; '
  + 'BASH_EXECUTION_STRING=$__onmemos_cmd; eval "unset __onmemos_env __onmemos_cmd; $__onmemos_cmd"';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Prepared extends Spawned {
  signature: string;
  /** Shell text run before the command (a shell started before the session: cd and the session's ids). */
  preface: string;
}

export interface LoginConfig {
  cwd: string;
  env: Record<string, string>;
}

/** How long after a command the pool is topped up while a prepared shell is left (see refillSoon). */
const REFILL_DELAY_MS = 100;
/** A command this soon after the one before is part of a burst (a script's commands): its refill is not put off. */
const BURST_MS = 250;

export class LoginShellPool {
  private ready: Prepared[] = [];
  private refillTimer: NodeJS.Timeout | undefined;
  private lastTakeAt = 0;

  constructor(
    private config: LoginConfig,
    private readonly size = 2,
    /** How long a lone command's refill waits (REFILL_DELAY_MS; a test on a loaded machine wants more room). */
    private readonly refillDelayMs = REFILL_DELAY_MS,
  ) {}

  /**
   * The session is known: keep the shells started for the warm sandbox when `session` only adds its
   * ids to their environment (they get a preface), else end them. Refills use `session` from now on.
   */
  adopt(session: LoginConfig): void {
    const before = this.config.env;
    const extra = Object.keys(session.env).filter((k) => !(k in before));
    const fits = Object.entries(before).every(([k, v]) => session.env[k] === v)
      && extra.every((k) => (SESSION_KEYS as readonly string[]).includes(k));
    const preface = `builtin cd -- ${shq(session.cwd)} || exit 1; unset OLDPWD\n${extra.map((k) => `export ${k}=${shq(session.env[k]!)}\n`).join('')}`;
    this.config = session;
    if (!fits) return this.close();
    for (const s of this.ready) s.preface = preface + s.preface;
  }

  /** mtimes of the files a login shell reads (a change means prepared shells are stale). */
  private signature(): string {
    const home = this.config.env.HOME ?? '/root';
    return ['/etc/profile', '/etc/profile.d', '/etc/bash.bashrc', join(home, '.bash_profile'), join(home, '.bash_login'), join(home, '.profile'), join(home, '.bashrc')]
      // (most of them do not exist: no exception per missing file, which costs more than the stat)
      .map((f) => { try { return statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0; } catch { return 0; } }).join(',');
  }

  fill(): void {
    while (this.ready.length < this.size) {
      const signature = this.signature();
      const s = spawnCaptured({ file: '/bin/bash', args: ['-lc', WAITER], cwd: this.config.cwd }, this.config.env, 1 << 20, 'pipe') as Prepared;
      s.signature = signature;
      s.preface = '';
      s.child.on('error', () => { this.ready = this.ready.filter((x) => x !== s); });
      s.child.on('exit', () => { this.ready = this.ready.filter((x) => x !== s); });
      s.child.stdin?.on('error', () => undefined);
      this.ready.push(s);
    }
  }

  /**
   * `req.command` (with `env` exported first) in a prepared login shell, its result collected, or
   * null when none fits: the caller then spawns `bash -lc` itself. The pool is topped up once the
   * result is ready, so that a new login shell's spawn (a fork of this process) and start do not
   * hold back the answer (refillSoon runs before the caller's continuation, and defers the spawn).
   */
  run(req: ExecRequest, env: Record<string, string>, started: number): Promise<ExecResult> | null {
    const taken = this.take(req.command, env);
    return taken && collect(taken.shell, req, started).finally(() => this.refillSoon(taken.burst));
  }

  /** A prepared login shell now running `command`, and whether it comes in a burst; null when none fits. */
  private take(command: string, env: Record<string, string>): { shell: Spawned; burst: boolean } | null {
    if (command.includes('\0') || Object.keys(env).some((k) => !ENV_NAME.test(k))) return null;
    const signature = this.signature();
    let s: Prepared | undefined;
    while ((s = this.ready.shift())) {
      if (s.signature === signature && s.child.exitCode === null && s.out.text() === '' && s.err.text() === '') break;
      s.child.kill('SIGKILL');
    }
    if (!s) {
      setImmediate(() => this.fill());
      return null;
    }
    const at = Date.now();
    const burst = at - this.lastTakeAt < BURST_MS;
    this.lastTakeAt = at;
    const exports = Object.entries(env).map(([k, v]) => `export ${k}=${shq(v)}\n`).join('');
    s.child.stdin!.end(`${s.preface}${exports}\0${command}\0`);
    return { shell: s, burst };
  }

  /**
   * Top the pool up after a command. After a lone command, while a prepared shell is left, a little
   * later (REFILL_DELAY_MS): a login shell starting (fork of this process, bash, /etc/profile: ~3 ms
   * of CPU) would otherwise compete with the command's answer on its way to the caller, and with the
   * caller's next request. In a burst of commands, or with none left, at once: the next command
   * must find a shell that is up.
   */
  private refillSoon(burst: boolean): void {
    if (!burst && this.ready.length) {
      if (!this.refillTimer) this.refillTimer = setTimeout(() => { this.refillTimer = undefined; this.fill(); }, this.refillDelayMs).unref();
      return;
    }
    clearTimeout(this.refillTimer);
    this.refillTimer = undefined;
    setImmediate(() => this.fill());
  }

  close(): void {
    clearTimeout(this.refillTimer);
    this.refillTimer = undefined;
    for (const s of this.ready) s.child.kill('SIGKILL');
    this.ready = [];
  }
}
