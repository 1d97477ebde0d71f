// The namespace a shuttle lives in: started by bubblewrap (or util-linux `unshare` plus a setup
// script), kept alive by a tiny init. It starts in two steps, so a warm pool can hold a ready one:
//  1. start(): the mounts that do not depend on the session, the host's storage root staged at
//     /run/onmemos/stage, the exec agent (agent.ts) started without capabilities; the setup shell
//     then waits on its stdin, the only process with capabilities in the sandbox's user namespace.
//  2. activate(hostname, mounts): the per-session setup (hostname, storage binds from the stage,
//     unmount the stage, make / and the agent's socket dir read-only), then the init, with every
//     capability dropped and no_new_privs. Done by a perl process that is already waiting (stage.ts
//     perlSetupArgv) where perl is there, which then drops its privileges itself and stays as the
//     init; else by the setup shell, a program per step, which execs `setpriv` and a `sh` loop (INIT).
//     The perl process takes its line from a FIFO in the run dir, so the daemon can also activate a
//     warm sandbox directly (providers/local/direct.ts); the supervisor then sees `launched` here.
// Ptys (and the fallback exec path) enter with `nsenter` + `setpriv`, so root inside cannot remount
// the read-only host system writable.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { startTime } from '../providers/local/pool';
import { bwrapMountArgs, shq, unshareScript, type MountOp } from '../providers/local/mounts';
import { AGENT_SOCKET_INSIDE } from './protocol';
import { perlSetupArgv, sessionLines, SETUP_IN, setupLine, type SessionMount } from './stage';
import type { SandboxMode, Tools } from './protocol';
import type { Command } from './exec';

export interface SandboxConfig {
  mode: SandboxMode;
  /** bwrap only: also unshare the user namespace (always true for unshare mode). */
  userns: boolean;
  tools: Tools;
  ops: MountOp[];
  hostname: string;
  /** Host side of the run dir bound at /run/onmemos/run (the setup FIFOs are made there). */
  run: string;
  /** Host directory for the unshare mode's new root mount point. */
  newRoot: string;
  /** Start the exec agent: node binary, script and (for terminals) node-pty's directory as seen inside. */
  agent?: { node: string; script: string; pty?: string };
}

/** setpriv's arguments that drop every capability (bounding, inheritable, ambient) and set no_new_privs. */
const DROP_ARGS = ['--nnp', '--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all'];
/**
 * The whole environment of a host-side process that enters the sandbox (nsenter, then setpriv while
 * it still holds privileges): a user's env must never reach those. LD_PRELOAD, say, from a launch's
 * or a command's env would load a library of the user's (from their own vault) into nsenter on the
 * host, before it enters anything.
 */
export const HOST_ENV: Readonly<Record<string, string>> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
/**
 * Run inside the sandbox after setpriv, without privileges: the command's environment from fd 3
 * (NUL-terminated NAME=value; names are identifiers, checked by the API), in place of HOST_ENV; fd 3
 * closed; then the command. Nothing of the environment is in an argv (which any host user can read).
 */
const ENV_FROM_FD3 = 'unset PATH LANG SHLVL OLDPWD; while IFS= read -r -d "" kv; do export -- "$kv" || exit 126; done <&3; exec 3<&-; exec "$@"';
const drop = (setpriv: string) => `${shq(setpriv)} ${DROP_ARGS.join(' ')} --`;

/** The init the setup shell execs where there is no perl. */
const INIT = ['/bin/sh', '-c', 'trap "" HUP INT TERM; while :; do sleep 86400 & wait $!; done'];
const READY_TIMEOUT_MS = 15_000;

export class Sandbox {
  private exited = false;
  /** Set up by the one-process setup (perl): its line goes to the SETUP_IN FIFO, by whoever launches. */
  readonly oneProcess: boolean;
  private readonly exitWaiters: Array<() => void> = [];

  private constructor(
    readonly cfg: SandboxConfig,
    private readonly proc: ChildProcess,
    /** Host pid of PID 1 of the sandbox's PID namespace. */
    readonly initPid: number,
    /** Its start time, read while it is known to be that process (see startTime). */
    readonly initStart: string | undefined,
  ) {
    this.oneProcess = !!perlSetupArgv(cfg.tools.perl);
    proc.on('exit', () => {
      this.exited = true;
      for (const w of this.exitWaiters.splice(0)) w();
    });
    if (proc.exitCode !== null || proc.signalCode !== null) this.exited = true;
    proc.stdout!.on('data', (d: Buffer) => { this.out += d.toString(); this.poke(); });
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** The setup process said `launched` (here, or for a launch the daemon made directly). */
  get launched(): boolean {
    return this.out.includes('launched\n');
  }

  onExit(listener: () => void): void {
    if (this.exited) listener();
    else this.exitWaiters.push(listener);
  }

  /** The setup shell's script once its mounts are in place (both modes). */
  private static tail(cfg: SandboxConfig): string {
    const d = drop(cfg.tools.setpriv);
    const perl = perlSetupArgv(cfg.tools.perl);
    return [
      cfg.agent ? `${d} ${shq(cfg.agent.node)} ${shq(cfg.agent.script)} --agent ${AGENT_SOCKET_INSIDE}${cfg.agent.pty ? ` --pty ${shq(cfg.agent.pty)}` : ''} </dev/null >/dev/null 2>&1 &` : ':',
      // perl says `ready` itself, once its FIFOs are there.
      ...(perl
        ? [`exec ${perl.map(shq).join(' ')}`]
        : [
          'echo ready',
          // Lines until `go`; stdin ending first means the supervisor is gone: end, do not launch.
          'go=; while IFS= read -r l; do [ "$l" = go ] && { go=1; break; }; eval "$l" || { echo "onmemos: setup failed: $l" >&2; exit 1; }; done; [ -n "$go" ] || exit 1',
          'echo launched',
          `exec ${d} ${INIT.map(shq).join(' ')} </dev/null`,
        ]),
    ].join('\n');
  }

  static async start(cfg: SandboxConfig): Promise<Sandbox> {
    const hostname = cfg.hostname.slice(0, 63);
    let proc: ChildProcess;
    if (cfg.mode === 'bwrap') {
      if (!cfg.tools.bwrap) throw new Error('bwrap not found');
      // --cap-add ALL: the setup shell keeps capabilities in the sandbox's user namespace (for the
      // per-session mounts); everything it starts drops them. --as-pid-1: our command is PID 1, so
      // when it dies the kernel ends every process in the namespace (bubblewrap's own reaper would
      // outlive it while the agent or a nohup job is left, and hold the sandbox open).
      const ns = ['--unshare-pid', '--as-pid-1', '--unshare-ipc', '--unshare-uts', '--hostname', hostname, '--new-session', '--die-with-parent', '--cap-add', 'ALL'];
      if (cfg.userns) ns.push('--unshare-user', '--uid', String(process.getuid!()), '--gid', String(process.getgid!()));
      proc = spawn(cfg.tools.bwrap, [...ns, '--info-fd', '3', ...bwrapMountArgs(cfg.ops, { remountRo: false }), '--chdir', '/', '--',
        '/bin/sh', '-c', Sandbox.tail(cfg)],
      { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    } else {
      if (!cfg.tools.unshare) throw new Error('unshare not found');
      const script = `hostname ${shq(hostname)} 2>/dev/null || true\n${unshareScript(cfg.ops, cfg.newRoot, INIT, Sandbox.tail(cfg))}`;
      // setpriv --pdeathsig: if the supervisor dies, unshare dies, and --kill-child takes PID 1 with it.
      proc = spawn(cfg.tools.setpriv, ['--pdeathsig', 'KILL', '--', cfg.tools.unshare, '--user', '--map-root-user',
        '--mount', '--pid', '--uts', '--ipc', '--fork', '--kill-child=KILL', '--propagation', 'private', '/bin/sh', '-c', script],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    }
    proc.stdin!.on('error', () => { /* the sandbox went away: 'exit' reports it */ });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => { if (stderr.length < 8192) stderr += d.toString(); });
    let info = '';
    if (cfg.mode === 'bwrap') (proc.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => { info += d.toString(); });

    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => fail(new Error('sandbox did not start in time')), READY_TIMEOUT_MS);
      const fail = (err: Error) => {
        done();
        try { proc.kill('SIGKILL'); } catch { /* gone */ }
        reject(err);
      };
      const onExit = (code: number | null) => fail(new Error(`sandbox (${cfg.mode}) exited with ${code}: ${stderr.trim().slice(-2000)}`));
      const infoStream = cfg.mode === 'bwrap' ? (proc.stdio[3] as NodeJS.ReadableStream) : undefined;
      // Ready when the init said so and (bwrap) the info fd gave the init's host pid: the two pipes
      // are read independently, in either order.
      const check = () => {
        if (!out.includes('ready\n') || (cfg.mode === 'bwrap' && !/"child-pid":\s*\d+/.test(info))) return;
        done();
        resolve();
      };
      const onOut = (d: Buffer) => {
        out += d.toString();
        check();
      };
      // Only this wait's own listeners go: the Sandbox watches the same process for its exit
      // afterwards (removing every 'exit' listener here, on any later output, blinded it).
      const done = () => {
        clearTimeout(timer);
        proc.off('error', fail);
        proc.off('exit', onExit);
        proc.stdout!.off('data', onOut);
        infoStream?.off('data', check);
      };
      proc.on('error', fail);
      proc.on('exit', onExit);
      infoStream?.on('data', check);
      proc.stdout!.on('data', onOut);
    });

    let initPid: number;
    if (cfg.mode === 'bwrap') {
      const m = /"child-pid":\s*(\d+)/.exec(info);
      if (!m) throw new Error(`bwrap gave no child pid: ${info}`);
      initPid = Number(m[1]);
    } else {
      const children = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim().split(/\s+/);
      initPid = Number(children[0]);
      if (!initPid) throw new Error('unshare: no namespace init found');
    }
    return new Sandbox(cfg, proc, initPid, startTime(initPid));
  }

  private out = '';
  private poke: () => void = () => {};

  /**
   * Set the session up in the sandbox's privileged setup process, then let it become the
   * unprivileged init. Resolves once it said `launched`; rejects (and the sandbox is gone) on failure.
   */
  activate(hostname: string, mounts: SessionMount[]): Promise<void> {
    const lines = this.oneProcess ? [] : sessionLines(hostname, mounts);
    if (lines.some((l) => l.includes('\n') || l === 'go')) throw new Error('bad setup line');
    const input = this.oneProcess ? setupLine(hostname, mounts) : `${lines.join('\n')}\ngo\n`;
    return new Promise<void>((resolve, reject) => {
      let stderr = '';
      this.proc.stderr!.on('data', (d: Buffer) => { if (stderr.length < 8192) stderr += d.toString(); });
      const timer = setTimeout(() => finish(new Error('sandbox setup did not finish in time')), READY_TIMEOUT_MS);
      let settled = false;
      // Once: the exit waiter stays registered after success, and a later exit must not 'fail' a
      // launch that finished (nor SIGKILL pids that may by then belong to someone else).
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.poke = () => {};
        if (err) { void this.kill(); reject(err); } else resolve();
      };
      this.poke = () => { if (this.launched) finish(); };
      this.onExit(() => finish(new Error(`sandbox setup failed: ${stderr.trim().slice(-2000)}`)));
      if (this.oneProcess) {
        try { writeSetupLine(this.cfg.run, input); } catch (e) { return finish(e as Error); }
      } else this.proc.stdin!.end(input);
      this.poke();
    });
  }

  /**
   * What runs `argv` inside the sandbox, in `cwd`, without capabilities, with exactly `env`: spawn
   * it with spawnParts (exec.ts), which gives the host side HOST_ENV and hands `env` over on fd 3.
   */
  enter(cwd: string, argv: string[], env: Record<string, string>): Required<Pick<Command, 'file' | 'args' | 'entry'>> {
    const { nsenter, setpriv } = this.cfg.tools;
    const userns = this.cfg.mode === 'unshare' || this.cfg.userns;
    const vars = Object.entries(env);
    if (vars.some(([k, v]) => k.includes('=') || `${k}${v}`.includes('\0'))) throw new Error('an env name or value cannot hold NUL, nor a name "="');
    const block = vars.map(([k, v]) => `${k}=${v}\0`).join('');
    return {
      file: nsenter,
      args: ['-t', String(this.initPid), ...(userns ? ['-U', '--preserve-credentials'] : []), '-m', '-p', '-u', '-i',
        `--wdns=${cwd}`, '--', setpriv, ...DROP_ARGS, '--', '/bin/bash', '-c', ENV_FROM_FD3, 'onmemos-env', ...argv],
      entry: { env: { ...HOST_ENV }, fd3: block },
    };
  }

  /** Kill everything in the sandbox: PID 1 of its namespace dying takes every process with it. */
  async kill(wait = true): Promise<void> {
    // Ended (killed from outside, say): its pids are reaped and may belong to someone else by now.
    if (this.exited) return;
    for (const pid of [this.initPid, this.proc.pid]) {
      try { if (pid) process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    if (!wait) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      this.onExit(() => { clearTimeout(timer); resolve(); });
    });
  }
}

/**
 * Hand the one-process setup its line (stage.ts SETUP_IN in the sandbox's run dir, host side). The
 * FIFO is open in the waiting setup process, so opening it does not block; without a reader (that
 * process is gone) the open fails (ENXIO) instead of waiting. The line is far below the FIFO's
 * buffer, so one write takes it whole.
 */
export function writeSetupLine(runDir: string, line: string): void {
  const fd = openSync(join(runDir, SETUP_IN), constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    if (writeSync(fd, line) !== Buffer.byteLength(line)) throw new Error('setup line cut short');
  } finally {
    closeSync(fd);
  }
}
