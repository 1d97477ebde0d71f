// Login shells made ahead of time. `execute` is `bash -lc <command>`, and most of its cost is the
// login shell starting (fork, exec, /etc/profile). The agent keeps a few `bash -l` processes that
// have already done that and wait on stdin for their command; a command is written to one, which
// runs it with `eval` in that same login shell and exits with its status: the same shell, the same
// profile, the same process group and pipes as `bash -lc`, without waiting for the start.
// A prepared shell is used only while the login files it read are unchanged (their mtimes are
// compared at take), so editing ~/.profile takes effect on the next command as with `bash -lc`.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { shq } from '../providers/local/mounts';
import { spawnCaptured, type Spawned } from './exec';

/**
 * Reads two NUL-terminated strings from stdin — exports, then the command — and runs the command in
 * this login shell, leaving no trace: BASH_EXECUTION_STRING is the command, as under `bash -lc`.
 */
const WAITER = 'IFS= read -r -d "" __onmemos_env && IFS= read -r -d "" __onmemos_cmd || exit 97; eval "$__onmemos_env"; '
  + 'BASH_EXECUTION_STRING=$__onmemos_cmd; eval "unset __onmemos_env __onmemos_cmd; $__onmemos_cmd"';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Prepared extends Spawned {
  signature: string;
}

export class LoginShellPool {
  private ready: Prepared[] = [];

  constructor(
    private readonly config: { cwd: string; env: Record<string, string> },
    private readonly size = 2,
  ) {}

  /** mtimes of the files a login shell reads (a change means prepared shells are stale). */
  private signature(): string {
    const home = this.config.env.HOME ?? '/root';
    return ['/etc/profile', '/etc/profile.d', '/etc/bash.bashrc', join(home, '.bash_profile'), join(home, '.bash_login'), join(home, '.profile'), join(home, '.bashrc')]
      .map((f) => { try { return statSync(f).mtimeMs; } catch { return 0; } }).join(',');
  }

  fill(): void {
    while (this.ready.length < this.size) {
      const signature = this.signature();
      const s = spawnCaptured({ file: '/bin/bash', args: ['-lc', WAITER], cwd: this.config.cwd }, this.config.env, 1 << 20, 'pipe') as Prepared;
      s.signature = signature;
      s.child.on('error', () => { this.ready = this.ready.filter((x) => x !== s); });
      s.child.on('exit', () => { this.ready = this.ready.filter((x) => x !== s); });
      s.child.stdin?.on('error', () => undefined);
      this.ready.push(s);
    }
  }

  /**
   * A prepared login shell now running `command` (with `env` exported first), or null when none
   * fits: the caller then spawns `bash -lc` itself.
   */
  take(command: string, env: Record<string, string>): Spawned | null {
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
    // Refill once this command is done: a new login shell starting would compete with it for CPU.
    s.child.once('exit', () => setImmediate(() => this.fill()));
    const exports = Object.entries(env).map(([k, v]) => `export ${k}=${shq(v)}\n`).join('');
    s.child.stdin!.end(`${exports}\0${command}\0`);
    return s;
  }

  close(): void {
    for (const s of this.ready) s.child.kill('SIGKILL');
    this.ready = [];
  }
}
