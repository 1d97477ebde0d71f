// Is this pid the OnMemOS daemon of this home? Asked before "Stop Daemon" signals anything: a pid
// from daemon.lock or from globalState may be stale and reused by another process, and a lock
// holding -1 (or 0) would make process.kill signal every process of the user (or the group).
// The check reads the process's command line (/proc on Linux, ps elsewhere): node running
// dist/daemon.js with this home (`--home`, else ONMEMOS_HOME, else ~/.onmemos, as daemon/config.ts).
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

// gone: no such process (a stale record, nothing to stop); otherwise why names what is wrong.
export type PidCheck = { ok: true; pid: number } | { ok: false; why: string; gone?: boolean };

export interface ProcessInfo {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
}

export function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a, i, all) => a || i < all.length - 1);
    let cwd: string | undefined;
    try { cwd = readlinkSync(`/proc/${pid}/cwd`); } catch { /* not ours to read */ }
    let env: Record<string, string> | undefined;
    try {
      env = {};
      for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
        const i = kv.indexOf('=');
        if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
      }
    } catch { env = undefined; }
    return { argv, cwd, env };
  } catch { /* no such process, or no /proc */ }
  if (process.platform === 'linux' || process.platform === 'win32') return undefined;
  try {
    // Without /proc: the command line only (arguments with spaces are ambiguous; --home must then be given).
    const line = execFileSync('ps', ['-ww', '-o', 'args=', '-p', String(pid)], { encoding: 'utf8', timeout: 3000 }).trim();
    return line ? { argv: line.split(/\s+/) } : undefined;
  } catch { return undefined; }
}

function samePath(a: string, b: string): boolean {
  const real = (p: string) => { try { return realpathSync(p); } catch { return resolve(p); } };
  return real(a) === real(b);
}

export function checkDaemonPid(pid: unknown, home: string, read: (pid: number) => ProcessInfo | undefined = readProcess): PidCheck {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 1) return { ok: false, why: `${JSON.stringify(pid)} is not a process id` };
  if (pid === process.pid) return { ok: false, why: `pid ${pid} is this editor's own process` };
  const info = read(pid);
  if (!info || !info.argv.length) return { ok: false, why: `no process ${pid} is running (or its command line cannot be read)`, gone: true };
  const script = info.argv.findIndex((a, i) => i > 0 && basename(a) === 'daemon.js' && basename(dirname(a)) === 'dist');
  if (script < 0) return { ok: false, why: `process ${pid} is not an OnMemOS daemon (${info.argv.join(' ').slice(0, 120)})` };
  const args = info.argv.slice(script + 1);
  let given: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--home') given = args[i + 1];
    else if (args[i]!.startsWith('--home=')) given = args[i]!.slice('--home='.length);
  }
  let theirs: string | undefined;
  if (given !== undefined) theirs = info.cwd ? resolve(info.cwd, given) : given;
  else if (info.env) theirs = info.env.ONMEMOS_HOME ? resolve(info.cwd ?? '/', info.env.ONMEMOS_HOME) : join(info.env.HOME || homedir(), '.onmemos');
  if (!theirs) return { ok: false, why: `cannot tell which home the daemon ${pid} serves` };
  if (!samePath(theirs, home)) return { ok: false, why: `process ${pid} is the OnMemOS daemon of another home (${theirs})` };
  return { ok: true, pid };
}
