// One `execute`: `bash -lc <command>` inside the sandbox, in its own process group, stdout and
// stderr captured separately and capped, the whole tree killed at the timeout. Run either by the
// in-sandbox agent (agent.ts: a plain spawn, already inside the namespaces without capabilities)
// or by the supervisor through nsenter + setpriv (Sandbox.enter), the fallback.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { readFileSync, readdirSync } from 'node:fs';
import { constants } from 'node:os';
import type { ExecResult } from '../providers/types';
import { TIMEOUT_EXIT_CODE, type ExecRequest } from './protocol';

/** After the command's shell exits, wait this long for background holders of its pipes. */
const DRAIN_MS = 50;

/** Host pids of every descendant of `pid` (needs /proc/<pid>/task/<tid>/children). */
export function descendants(pid: number, out: number[] = []): number[] {
  let tasks: string[];
  try { tasks = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of tasks) {
    let kids: string[];
    try { kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean); } catch { continue; }
    for (const k of kids) {
      const child = Number(k);
      out.push(child);
      descendants(child, out);
    }
  }
  return out;
}

/** SIGKILL a process group and every descendant of its leader (also those that left the group). */
export function killTree(pid: number): void {
  // No pid (a spawn that failed): -0 would be this process's own group.
  if (!(pid > 0)) return;
  const all = descendants(pid);
  try { process.kill(-pid, 'SIGKILL'); } catch { /* group gone */ }
  for (const p of [pid, ...all]) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
}

export class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(public cap: number) {}
  push(chunk: Buffer): void {
    const room = this.cap - this.size;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(part);
    this.size += part.length;
  }
  text(): string {
    let buf = Buffer.concat(this.chunks, this.size);
    if (this.truncated) buf = buf.subarray(0, utf8Boundary(buf));
    return buf.toString('utf8');
  }
}

/** Length of `buf` without a trailing incomplete UTF-8 sequence. */
export function utf8Boundary(buf: Buffer): number {
  let i = buf.length - 1;
  let back = 0;
  while (i >= 0 && back < 4 && (buf[i]! & 0xc0) === 0x80) { i--; back++; }
  if (i < 0) return buf.length;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return need > back + 1 ? i : buf.length;
}

export interface Command {
  file: string;
  args: string[];
  /** Working directory of the spawn itself (nsenter sets the sandbox one with --wdns). */
  cwd?: string;
  /**
   * Entering the sandbox from the host (Sandbox.enter): the spawn runs with this fixed environment,
   * and the command's own environment goes on fd 3, to be applied inside once privileges are gone.
   */
  entry?: { env: Record<string, string>; fd3: string };
}

/** stdio, env and the fd-3 write for spawning `cmd` with `env` (see Command.entry). */
export function spawnParts(cmd: Command, env: Record<string, string>, stdin: 'ignore' | 'pipe') {
  const stdio: Array<'ignore' | 'pipe'> = cmd.entry ? [stdin, 'pipe', 'pipe', 'pipe'] : [stdin, 'pipe', 'pipe'];
  return {
    stdio,
    env: cmd.entry ? cmd.entry.env : env,
    /** Call with the spawned child: hands it the command's environment on fd 3 (nothing without an entry). */
    handOver(child: { stdio: ReadonlyArray<unknown> }): void {
      const fd3 = child.stdio[3] as Writable | null | undefined;
      if (!cmd.entry || !fd3) return;
      fd3.on('error', () => undefined); // exited before reading it: its exit says so
      fd3.end(cmd.entry.fd3);
    },
  };
}

/** A spawned command with its output already being captured (see LoginShellPool: spawned early). */
export interface Spawned {
  child: ChildProcessByStdio<Writable | null, Readable, Readable>;
  out: Capture;
  err: Capture;
}

export function spawnCaptured(cmd: Command, env: Record<string, string>, maxOutputBytes: number, stdin: 'ignore' | 'pipe' = 'ignore'): Spawned {
  const parts = spawnParts(cmd, env, stdin);
  const child = spawn(cmd.file, cmd.args, { stdio: parts.stdio, detached: true, env: parts.env, cwd: cmd.cwd }) as Spawned['child'];
  parts.handOver(child);
  const out = new Capture(maxOutputBytes);
  const err = new Capture(maxOutputBytes);
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  return { child, out, err };
}

/** The request's limits with defaults (60 s, 1 MiB) for what is missing or not a number. */
export function execLimits(r: ExecRequest): ExecRequest {
  return { command: r.command, timeout_seconds: Number(r.timeout_seconds) || 60, max_output_bytes: Number(r.max_output_bytes) || 1 << 20 };
}

export function runExec(cmd: Command, req: ExecRequest, env: Record<string, string>): Promise<ExecResult> {
  const started = performance.now();
  return collect(spawnCaptured(cmd, env, req.max_output_bytes), req, started);
}

/** Wait for a spawned command: exit code, timeout tree-kill, captured output. */
export function collect({ child, out, err }: Spawned, req: ExecRequest, started: number): Promise<ExecResult> {
  out.cap = err.cap = req.max_output_bytes;
  return new Promise((resolve) => {
    let timedOut = false;
    let exitCode: number | null = child.exitCode;
    let done = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) killTree(child.pid);
    }, Math.max(1, req.timeout_seconds) * 1000);

    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({
        stdout: out.text(),
        stderr: err.text(),
        exit_code: timedOut ? TIMEOUT_EXIT_CODE : exitCode ?? 1,
        timed_out: timedOut,
        truncated: out.truncated || err.truncated,
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
      });
    };
    child.on('error', (e) => {
      err.push(Buffer.from(`onmemos: cannot start command: ${e.message}\n`));
      exitCode = 127;
      finish();
    });
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      exitCode = code ?? (signal ? 128 + (constants.signals[signal] ?? 9) : 1);
      // The pipes close when every holder is gone; a background job may keep them open.
      if (child.stdout.readableEnded && child.stderr.readableEnded) return finish();
      const t = setTimeout(finish, DRAIN_MS);
      let ended = 0;
      const onEnd = () => { if (++ended === 2) { clearTimeout(t); finish(); } };
      for (const s of [child.stdout, child.stderr]) {
        if (s.readableEnded) onEnd();
        else s.once('end', onEnd);
      }
    };
    if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
    else child.on('exit', onExit);
  });
}
