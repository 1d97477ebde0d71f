// The agent's prepared login shells (supervisor/login-pool.ts), with real bash processes: when the
// pool is topped up after a command.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LoginShellPool } from '../../daemon/supervisor/login-pool';
import type { Spawned } from '../../daemon/supervisor/exec';

/** Prepared login shells of this process that have not been given a command yet (they wait in `read`). */
function waiting(): number {
  let out = '';
  try { out = execFileSync('ps', ['--ppid', String(process.pid), '-o', 'args='], { encoding: 'utf8' }); } catch { /* none: ps exits 1 */ }
  return out.split('\n').filter((l) => l.includes('__onmemos_env')).length;
}

const exited = (s: Spawned) => new Promise<void>((r) => (s.child.exitCode !== null ? r() : s.child.once('exit', () => r())));
const turn = () => new Promise((r) => setImmediate(r));

describe('login shell pool', () => {
  const home = mkdtempSync(join(tmpdir(), 'onmemos-login-pool-'));
  const pool = new LoginShellPool({ cwd: home, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home } }, 2);
  after(() => {
    pool.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('tops up a little after a command while a shell is left, and at once when none is', async () => {
    pool.fill();
    assert.equal(waiting(), 2);

    const first = pool.take('echo one', {});
    assert.ok(first);
    await exited(first);
    await turn();
    assert.equal(first.out.text(), 'one\n');
    // One prepared shell is left: no login shell starts right behind the command's answer.
    assert.equal(waiting(), 1, 'not refilled at once while one is left');

    const second = pool.take('echo two', {});
    assert.ok(second);
    await exited(second);
    await turn();
    assert.equal(second.out.text(), 'two\n');
    // None left: the next command must not wait for a login shell to start.
    assert.equal(waiting(), 2, 'refilled at once when empty');

    const third = pool.take('echo three', {});
    assert.ok(third);
    await exited(third);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(waiting(), 2, 'refilled after the delay');
  });
});
