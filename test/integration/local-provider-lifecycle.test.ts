// Lifecycle of local shuttles across daemons: a shuttle launched by a daemon process that is then
// killed with SIGKILL keeps running and is found by a new provider; a dead supervisor is reported
// dead; TTL ends a shuttle by itself; idle pool members leave with their daemon; and a machine that
// cannot make namespaces gets a 503 with what to install.
import assert from 'node:assert/strict';
import { removeHome } from '../helpers/daemon';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalComputeProvider } from '../../daemon/providers/local';
import { poolDir, sandboxDir, statePath } from '../../daemon/providers/local/paths';
import { which } from '../../daemon/providers/local/tools';
import type { LaunchSpec } from '../../daemon/providers/types';
import { ensureSupervisorBuilt, eventually, mount, pidAlive, providerProcess, spec, tempHome } from './local-provider.fixture';

/** A throwaway "daemon": a node process that launches `s` (and warms a pool), says so, then waits to be killed. */
function daemonProcess(home: string, s: LaunchSpec): Promise<{ pid: number; pool: string[] }> {
  const child = providerProcess(home, 2, `
    await p.launch(${JSON.stringify(s)});
    await p.execute(${JSON.stringify(s)}, { command: 'nohup sh -c "sleep 2; echo survived > /workspace/after-kill.txt" >/dev/null 2>&1 &', timeout_seconds: 10, max_output_bytes: 100 });
    await p.warm();
    process.stdout.write('launched\\n');
    setInterval(() => {}, 1000);`);
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`daemon process exited ${code}`)));
    child.stdout.on('data', (d: Buffer) => {
      if (!d.toString().includes('launched')) return;
      child.removeAllListeners('exit');
      const pool = readdirSync(poolDir(home)).filter((n) => n.endsWith('.sock'));
      resolve({ pid: child.pid!, pool });
    });
  });
}

describe('local shuttles across daemon restarts', () => {
  let home: string;
  before(() => {
    ensureSupervisorBuilt();
    home = tempHome();
  });
  after(() => removeHome(home));

  it('survives its daemon being SIGKILLed; a new provider finds it, runs commands, terminates it', async () => {
    const s = spec([mount('vault-live', '/workspace')]);
    const daemon = await daemonProcess(home, s);
    assert.equal(daemon.pool.length, 2, 'two idle supervisors were warm');
    process.kill(daemon.pid, 'SIGKILL');

    const restarted = new LocalComputeProvider({ home, poolSize: 0 });
    assert.equal(await restarted.isAlive(s), true);
    // The command started before the kill finishes afterwards.
    await eventually(() => existsSync(join(home, 'storage', 'vault-live', 'after-kill.txt')), 'background command output', 5000);
    const r = await restarted.execute(s, { command: 'cat /workspace/after-kill.txt; hostname', timeout_seconds: 10, max_output_bytes: 1000 });
    assert.equal(r.stdout, `survived\n${s.sandbox_name}\n`);
    // Idle pool members belong to the dead daemon: they leave by themselves.
    await eventually(() => readdirSync(poolDir(home)).filter((n) => n.endsWith('.sock')).length === 0, 'pool members to exit', 5000);
    await restarted.terminate(s);
    assert.equal(await restarted.isAlive(s), false);
    assert.ok(!existsSync(sandboxDir(home, s.sandbox_name)));
    await restarted.close();
  });

  it('reports a shuttle whose supervisor died as not alive, and still cleans it up', async () => {
    const provider = new LocalComputeProvider({ home, poolSize: 0 });
    const s = spec([]);
    await provider.launch(s);
    const state = JSON.parse(readFileSync(statePath(home, s.sandbox_name), 'utf8')) as { pid: number; init_pid: number };
    process.kill(state.pid, 'SIGKILL');
    await eventually(() => !pidAlive(state.init_pid), 'the sandbox to die with its supervisor', 5000);
    assert.equal(await provider.isAlive(s), false);
    await assert.rejects(provider.execute(s, { command: 'true', timeout_seconds: 5, max_output_bytes: 10 }), { status: 409 });
    await provider.terminate(s);
    assert.ok(!existsSync(sandboxDir(home, s.sandbox_name)));
    await provider.close();
  });

  it('when the sandbox\'s command dies, nothing in it survives (not the agent, not a nohup job)', async () => {
    const provider = new LocalComputeProvider({ home, poolSize: 0 });
    const s = spec([]);
    await provider.launch(s);
    const r = await provider.execute(s, { command: 'nohup sleep 305 >/dev/null 2>&1 & echo started', timeout_seconds: 10, max_output_bytes: 100 });
    assert.equal(r.stdout, 'started\n');
    const state = JSON.parse(readFileSync(statePath(home, s.sandbox_name), 'utf8')) as { pid: number; init_pid: number };
    const ns = readlinkSync(`/proc/${state.init_pid}/ns/pid`);
    const inSandbox = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p) && p !== String(state.init_pid)).filter((p) => {
      try { return readlinkSync(`/proc/${p}/ns/pid`) === ns; } catch { return false; }
    });
    const cmdline = (p: string) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(); } catch { return ''; } };
    const running = inSandbox().map(cmdline);
    assert.ok(running.some((c) => c.startsWith('onmemos-agent')), `the agent runs: ${JSON.stringify(running)}`);
    assert.ok(running.includes('sleep 305'), `the nohup job runs: ${JSON.stringify(running)}`);
    // The sandbox's command (its PID 1, the init) dies on its own, whatever else runs in it.
    const command = [String(state.init_pid), ...inSandbox()].find((p) => {
      try { return /^NSpid:.*\s1$/m.test(readFileSync(`/proc/${p}/status`, 'utf8')); } catch { return false; }
    });
    assert.ok(command, 'the init runs');
    process.kill(Number(command), 'SIGKILL');
    await eventually(() => !pidAlive(state.pid), 'the supervisor to end the shuttle', 5000);
    await eventually(() => inSandbox().length === 0 && !pidAlive(state.init_pid), 'every process of the sandbox to be gone', 3000);
    await provider.terminate(s);
    await provider.close();
  });

  it('ends a shuttle at expires_at (TTL) even with no daemon asking', async () => {
    const provider = new LocalComputeProvider({ home, poolSize: 0 });
    const s = spec([], { ttl_minutes: 1, expires_at: new Date(Date.now() + 4000).toISOString() }); // margin for a slow launch on a loaded machine
    await provider.launch(s);
    const state = JSON.parse(readFileSync(statePath(home, s.sandbox_name), 'utf8')) as { pid: number; init_pid: number };
    assert.equal(await provider.isAlive(s), true);
    await provider.close();
    await eventually(() => !existsSync(sandboxDir(home, s.sandbox_name)), 'TTL to remove the sandbox', 12000);
    assert.equal(await provider.isAlive(s), false);
    // The supervisor removes the sandbox dir first and exits ~20 ms later (server.ts shutdown).
    await eventually(() => !pidAlive(state.pid) && !pidAlive(state.init_pid), 'the supervisor and its sandbox to exit', 3000);
  });
});

describe('local provider refuses honestly where no sandbox can be made', () => {
  let dir: string;
  before(() => {
    dir = tempHome();
    mkdirSync(join(dir, 'bin'));
    // nsenter and setpriv are there; the sandbox tools are missing or broken.
    for (const tool of ['nsenter', 'setpriv']) symlinkSync(which(tool, process.env.PATH)!, join(dir, 'bin', tool));
    writeFileSync(join(dir, 'bin', 'bwrap'), '#!/bin/sh\necho "bwrap: No permissions to creating new namespace" >&2\nexit 1\n');
    chmodSync(join(dir, 'bin', 'bwrap'), 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ONMEMOS_SANDBOX=unshare without unshare: check and launch answer 503 naming bubblewrap', async () => {
    const provider = new LocalComputeProvider({ home: join(dir, 'home'), env: { PATH: join(dir, 'bin'), ONMEMOS_SANDBOX: 'unshare' } });
    await assert.rejects(provider.check(), (e: { status: number; code: string; message: string }) =>
      e.status === 503 && e.code === 'provider_unavailable' && /apt-get install bubblewrap/.test(e.message));
    const s = spec([]);
    await assert.rejects(provider.launch(s), { status: 503 });
    assert.ok(!existsSync(sandboxDir(join(dir, 'home'), s.sandbox_name)), 'nothing was started');
    await provider.close();
  });

  it('a bwrap that cannot make namespaces is probed, not trusted', async () => {
    const provider = new LocalComputeProvider({ home: join(dir, 'home'), env: { PATH: join(dir, 'bin') }, sandbox: 'bwrap' });
    await assert.rejects(provider.check(), (e: { status: number; message: string; details?: { problems?: string[] } }) =>
      e.status === 503 && /No permissions to creating new namespace/.test(String(e.details?.problems)));
    await provider.close();
  });
});
