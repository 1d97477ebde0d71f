import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from '../../../extension/api/connection';
import { DaemonManager } from '../../../extension/daemon/manager';
import { activate } from './env';

// "Stop Daemon" signals only this home's daemon: a lock naming another process (a reused pid) or
// a damaged lock (-1, which process.kill would send to every process of the user) signals nothing.
describe('stop daemon', () => {
  let home: string;
  let sleeper: ChildProcess;
  let manager: DaemonManager;

  before(async () => {
    const api = await activate();
    home = mkdtempSync(join(tmpdir(), 'onmemos-stop-'));
    sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    const connection = { settings: { ...api.container.connection.settings, daemonHome: home }, check: async () => 'noDaemon' } as unknown as Connection;
    manager = new DaemonManager(api.container.context, connection, api.container.secrets, api.container.log);
  });

  after(() => {
    manager.dispose();
    if (sleeper.exitCode === null) sleeper.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  });

  it('a lock naming a live non-daemon process (sleep): refused, the process lives on', async () => {
    writeFileSync(join(home, 'daemon.lock'), JSON.stringify({ pid: sleeper.pid, started_at: new Date().toISOString() }));
    assert.equal(manager.managedPid, undefined);
    await assert.rejects(manager.stop(), /nothing was signalled: process \d+ is not an OnMemOS daemon/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sleeper.exitCode, null);
    assert.equal(sleeper.signalCode, null);
  });

  it('a lock holding -1: refused without calling kill', async () => {
    writeFileSync(join(home, 'daemon.lock'), JSON.stringify({ pid: -1, started_at: 'x' }));
    await assert.rejects(manager.stop(), /nothing was signalled: -1 is not a process id/);
    assert.equal(sleeper.signalCode, null);
  });

  it('a lock naming a dead pid: nothing to stop', async () => {
    const gone = spawn('true');
    await new Promise((r) => gone.once('exit', r));
    writeFileSync(join(home, 'daemon.lock'), JSON.stringify({ pid: gone.pid, started_at: 'x' }));
    assert.equal(await manager.stop(), false);
  });
});
