// Exactly one daemon owns a home. The lock file holds the owner's pid; a second daemon refuses to
// start and names the holder; a lock whose pid is dead (daemon killed with SIGKILL) is recovered.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync, renameSync } from 'node:fs';
import { join } from 'node:path';

export class HomeLockedError extends Error {
  constructor(readonly holder: LockInfo, path: string) {
    super(`another onmemos daemon (pid ${holder.pid}, started ${holder.started_at}) owns ${path}; ` +
      'stop it first, or use a different --home');
  }
}

export interface LockInfo {
  pid: number;
  started_at: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A recycled pid that is not a node process is not our daemon.
  try {
    return /node|daemon/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

export function acquireHomeLock(home: string): { release(): void; recoveredFrom?: LockInfo } {
  const path = join(home, 'daemon.lock');
  const me: LockInfo = { pid: process.pid, started_at: new Date().toISOString() };
  let recoveredFrom: LockInfo | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return {
        recoveredFrom,
        release() {
          try {
            const holder = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
            if (holder.pid === process.pid) unlinkSync(path);
          } catch { /* already gone */ }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder: LockInfo;
    try {
      holder = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    } catch {
      holder = { pid: -1, started_at: 'unknown' }; // torn lock file from a crash mid-write: stale
    }
    if (holder.pid > 0 && holder.pid !== process.pid && alive(holder.pid)) throw new HomeLockedError(holder, path);
    // Stale: move it aside atomically so two recovering daemons cannot both delete a fresh lock.
    try {
      renameSync(path, `${path}.stale-${process.pid}`);
      unlinkSync(`${path}.stale-${process.pid}`);
      recoveredFrom = holder;
    } catch { /* another process recovered it first; retry */ }
  }
  throw new Error(`could not acquire ${path}`);
}
