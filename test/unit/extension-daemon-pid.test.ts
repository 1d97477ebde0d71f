import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkDaemonPid } from '../../extension/daemon/pid';

// Real processes: a `sleep` (a stale pid reused by something else) and a node running a
// dist/daemon.js with --home (what the extension starts), checked through /proc.
const dir = mkdtempSync(join(tmpdir(), 'onmemos-pid-'));
const home = join(dir, 'home');
mkdirSync(join(dir, 'ext', 'dist'), { recursive: true });
mkdirSync(home);
writeFileSync(join(dir, 'ext', 'dist', 'daemon.js'), 'setInterval(() => {}, 1000);\n');
const procs: ChildProcess[] = [];
const start = (cmd: string, args: string[], cwd = dir) => { const p = spawn(cmd, args, { cwd, stdio: 'ignore' }); procs.push(p); return p; };
const settle = () => new Promise((r) => setTimeout(r, 300));

after(() => {
  for (const p of procs) if (p.pid && p.exitCode === null) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('pids that must never be signalled: -1, 0, 1, non-integers, this process', () => {
  for (const pid of [-1, 0, 1, 1.5, NaN, '123', null, undefined, process.pid]) {
    assert.equal(checkDaemonPid(pid, home).ok, false, String(pid));
  }
});

test('a live sleep process is not the daemon', async () => {
  const sleep = start('sleep', ['30']);
  await settle();
  const r = checkDaemonPid(sleep.pid, home);
  assert.equal(r.ok, false);
  assert.ok(!r.ok && !r.gone && /not an OnMemOS daemon/.test(r.why), JSON.stringify(r));
});

test('node running dist/daemon.js with this home is; with another home, or a dead pid, is not', async () => {
  const ours = start(process.execPath, [join(dir, 'ext', 'dist', 'daemon.js'), '--home', home]);
  const relative = start(process.execPath, ['ext/dist/daemon.js', '--home=home']); // resolved from its cwd
  const other = start(process.execPath, [join(dir, 'ext', 'dist', 'daemon.js'), '--home', dir]);
  await settle();
  assert.deepEqual(checkDaemonPid(ours.pid, home), { ok: true, pid: ours.pid });
  assert.equal(checkDaemonPid(relative.pid, home).ok, true);
  const r = checkDaemonPid(other.pid, home);
  assert.ok(!r.ok && /another home/.test(r.why), JSON.stringify(r));
  ours.kill('SIGKILL');
  await new Promise((res) => ours.once('exit', res));
  const gone = checkDaemonPid(ours.pid, home);
  assert.ok(!gone.ok && gone.gone, JSON.stringify(gone));
});
