// Spawning supervisors, and a small warm pool of idle ones: a Node process takes ~40–80 ms to
// boot (and load node-pty), several times a bare bubblewrap sandbox, so launches take a ready one
// and the pool refills in the background. Idle members exit by themselves when their daemon is gone.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { agentSocketIn, poolDir } from './paths';
import { call } from './rpc';
import type { WarmMember } from '../../supervisor/protocol';

export interface SpawnOptions {
  home: string;
  nodePath: string;
  script: string;
  /** Environment for the supervisor (kept small: no daemon secrets). */
  env: Record<string, string>;
  /** The sandbox capability as JSON once known: idle members then pre-start their sandbox with it. */
  prestart?: () => string | undefined;
  /** A member is about to join the pool (idle work for the launch that will take it). */
  onJoin?: (m: Member) => void;
}

const READY_TIMEOUT_MS = 15_000;
const REFILL_DELAY_MS = 50;

/** An idle supervisor: its socket and pid, and its scratch dir (the sandbox dir once launched). */
export interface Member {
  socket: string;
  pid: number;
  /** Its process's start time (startTime): the pid is still this supervisor while they match. */
  start?: string;
  dir: string;
  /** Name of the kept-alive connection to its sandbox's agent (rpc.call's `connection`; the socket: agentSocketIn(dir)), opened when it joined. */
  agentConnection: string;
  /** Its warm sandbox, when the daemon can set it up directly (see direct.ts). */
  warm?: WarmMember;
  /** Whether launches with these storage destinations fit the warm sandbox (direct.ts precomputeFits). */
  fits?: { at: number; answers: Map<string, boolean> };
}

/** Start one idle supervisor, detached in its own session; resolves once it listens. */
export function spawnSupervisor(opts: SpawnOptions): Promise<Member> {
  const dir = poolDir(opts.home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const id = randomBytes(6).toString('hex');
  const socket = join(dir, `${id}.sock`);
  const prestart = opts.prestart?.();
  const args = [opts.script, '--home', opts.home, '--pool-id', id, '--owner-pid', String(process.pid), ...(prestart ? ['--prestart', prestart] : [])];
  const child = spawn(opts.nodePath, args, {
    detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env, cwd: '/',
  });
  return new Promise<Member>((resolve, reject) => {
    let out = '';
    let err = '';
    let warm: WarmMember | undefined;
    const timer = setTimeout(() => done(new Error('supervisor did not start in time')), READY_TIMEOUT_MS);
    const done = (e?: Error) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stdout!.destroy();
      child.stderr!.destroy();
      child.unref();
      if (e) {
        try { child.kill('SIGKILL'); } catch { /* gone */ }
        reject(e);
      } else resolve({ socket, pid: child.pid!, start: startTime(child.pid!), dir: join(dir, id), agentConnection: `agent:${id}`, warm });
    };
    child.on('error', (e) => done(e));
    child.on('exit', (code) => done(new Error(`supervisor exited (${code}) before it was ready: ${err.trim().slice(-2000)}`)));
    child.stderr!.on('data', (d: Buffer) => { if (err.length < 8192) err += d.toString(); });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      // `ready`, or `ready <json>` with a warm sandbox the daemon can set up itself.
      const line = /^ready(?: (.*))?\n/m.exec(out);
      if (!line) return;
      try { warm = line[1] ? JSON.parse(line[1]) as WarmMember : undefined; } catch { warm = undefined; }
      done();
    });
  });
}

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22): with the pid, its identity. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The process exists (EPERM: it does, and is not ours to signal). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class SupervisorPool {
  private readonly ready: Member[] = [];
  private readonly waiters: Array<(joined: boolean) => void> = [];
  private filling = 0;
  private closed = false;
  private refillTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SpawnOptions, private readonly size: number, private readonly onError: (e: unknown) => void) {}

  /** Remove sockets of pool members whose process is gone (a daemon killed earlier left them). */
  static sweep(home: string): void {
    const dir = poolDir(home);
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.sock')) continue;
      const path = join(dir, name);
      // A live member answers; a dead one's socket refuses. Either way an old member's owner is gone
      // and it exits by itself within a second: only dead sockets need removing.
      call(path, 'GET', '/health', undefined, 2000).catch(() => { try { unlinkSync(path); } catch { /* raced */ } });
    }
  }

  /** A ready idle supervisor: from the pool when one is warm, else a fresh one (no warm sandbox). */
  async take(): Promise<Member> {
    for (;;) {
      while (this.ready.length) {
        const m = this.ready.shift()!;
        // A member can die while idle (killed, its warm sandbox gone) and leave its socket file behind:
        // check it is still there rather than hand a dead one to a launch (503). An idle member exits
        // when its warm sandbox does, so a live pid means a usable member.
        if (existsSync(m.socket) && pidAlive(m.pid)) return m;
      }
      // Launches faster than the pool refills: a member already booting is ready sooner than a new
      // cold one (and starting both would make them compete for the CPU).
      if (!this.filling || this.closed || !(await this.nextMember())) break;
    }
    return spawnSupervisor({ ...this.opts, prestart: undefined });
  }

  /** Resolves true when a booting member joined the pool, false when none did (failed, closed). */
  private nextMember(): Promise<boolean> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(joined: boolean): void {
    for (const w of this.waiters.splice(0)) w(joined);
  }

  /**
   * Refill after the launch that took a member has finished, a little later: booting Node costs
   * ~50 ms of CPU, which would otherwise compete with that launch and the first commands.
   */
  refillSoon(delayMs = REFILL_DELAY_MS): void {
    if (this.closed || this.refillTimer) return;
    this.refillTimer = setTimeout(() => { this.refillTimer = undefined; this.fill(); }, delayMs);
    this.refillTimer.unref();
  }

  /** Top the pool up in the background. */
  fill(): void {
    while (!this.closed && this.ready.length + this.filling < this.size) {
      this.filling++;
      spawnSupervisor(this.opts).then(async (m) => {
        if (this.closed) return void call(m.socket, 'POST', '/exit').catch(() => {});
        // One request now opens the kept-alive connection and warms the member's request path, so
        // the launch that takes it does not pay for either; the same for its agent (the shuttle's
        // first command).
        await call(m.socket, 'GET', '/health', undefined, 5000).catch(() => undefined);
        await call(agentSocketIn(m.dir), 'GET', '/health', undefined, 5000, m.agentConnection).catch(() => undefined);
        this.opts.onJoin?.(m);
        this.ready.push(m);
      }, this.onError).finally(() => {
        this.filling--;
        this.wake(this.ready.length > 0);
      });
    }
  }

  /** Resolves once the pool is full (benchmarks and tests use it to measure a warm launch). */
  async warm(timeoutMs = 20_000): Promise<void> {
    this.fill();
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && this.ready.length < this.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake(false);
    if (this.refillTimer) clearTimeout(this.refillTimer);
    const members = this.ready.splice(0);
    await Promise.all(members.map((m) => call(m.socket, 'POST', '/exit', undefined, 2000).catch(() => {})));
  }
}
