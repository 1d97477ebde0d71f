// After a daemon restart no record claims a sandbox that is gone, and live ones are found again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, newUser, removeHome } from '../helpers/daemon';
import { OnMemOSClient } from '../../daemon/client';
import { LocalComputeProvider } from '../../daemon/providers/local';
import { pidAlive } from '../../daemon/providers/local/pool';
import { sandboxDir, statePath } from '../../daemon/providers/local/paths';
import { spec, tempHome } from './local-provider.fixture';
import { Store } from '../../daemon/store';

test('daemon SIGKILLed; one shuttle\'s sandbox dies meanwhile: after restart it is ended, the other still runs and meters', async () => {
  const first = await startDaemon();
  const home = first.home;
  const u = await newUser(first);
  const live = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
  const doomed = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
  await u.client.execute(live.id, 'echo x > /tmp/marker');
  await first.kill();
  const state = JSON.parse(readFileSync(join(home, 'sandboxes', doomed.pod_name, 'state.json'), 'utf8'));
  process.kill(state.pid, 'SIGKILL'); // its supervisor (and with it the sandbox) is gone while the daemon is down
  await new Promise((r) => setTimeout(r, 500));

  const again = await startDaemon({ home });
  try {
    const c = new OnMemOSClient({ baseUrl: again.publicUrl, apiKey: u.passport });
    const d = await c.getSession(doomed.id);
    assert.equal(d.status, 'failed');
    assert.match(d.end_reason ?? '', /gone/);
    assert.ok(d.ended_at);
    const l = await c.getSession(live.id);
    assert.equal(l.status, 'running');
    assert.equal((await c.execute(live.id, 'cat /tmp/marker')).stdout, 'x\n', 'the same sandbox, not a new one');
    await c.terminateSession(live.id);
    const usage = await again.admin.usage(u.user.user_id);
    assert.deepEqual(usage.map((x) => x.session_id).sort(), [doomed.id, live.id].sort(), 'both were metered');
    assert.ok(again.logs.some((line) => line.includes('sessions reconciled')));
  } finally {
    assert.equal(await again.stop(), 0);
    removeHome(home);
  }
});

test('a sandbox no record names (its daemon stopped before the launch was recorded) is ended at the next start', async () => {
  const home = tempHome();
  // Started on this home with no record, as a daemon that died mid-launch leaves it.
  const provider = new LocalComputeProvider({ home, poolSize: 0 });
  const s = spec([]);
  await provider.check();
  await provider.launch(s);
  const state = JSON.parse(readFileSync(statePath(home, s.sandbox_name), 'utf8')) as { pid: number; init_pid: number };
  await provider.close();
  assert.ok(pidAlive(state.pid) && pidAlive(state.init_pid), 'it runs');

  const d = await startDaemon({ home });
  try {
    assert.ok(!existsSync(sandboxDir(home, s.sandbox_name)), 'its scratch dir is gone');
    const deadline = Date.now() + 5000;
    while ((pidAlive(state.pid) || pidAlive(state.init_pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!pidAlive(state.init_pid), 'its sandbox is gone');
    assert.ok(!pidAlive(state.pid), 'its supervisor is gone');
    assert.ok(d.logs.some((line) => line.includes('ended sandboxes no record names') && line.includes(s.sandbox_name)));
  } finally {
    assert.equal(await d.stop(), 0);
    removeHome(home);
  }
});

test('a launch answered "running" whose running record had not reached the disk before a SIGKILL is running after the restart', async () => {
  const first = await startDaemon();
  const home = first.home;
  const u = await newUser(first);
  const s = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
  assert.equal(s.status, 'running');
  await u.client.execute(s.id, 'echo x > /tmp/marker');
  await first.kill();
  // What the disk holds when the daemon dies between the answer and the group commit that carries
  // "running" (launch does not wait for it): the pending record, awaited before the answer.
  const store = await Store.open(home, undefined, { lock: false });
  const row = store.get('sessions', s.id)!;
  await store.write((_d, tx) => tx.put('sessions', { ...row, status: 'pending', started_at: null }));
  await store.close();

  const again = await startDaemon({ home });
  try {
    const c = new OnMemOSClient({ baseUrl: again.publicUrl, apiKey: u.passport });
    const back = await c.getSession(s.id);
    assert.equal(back.status, 'running', 'the live sandbox makes the pending record running');
    assert.equal((await c.execute(s.id, 'cat /tmp/marker')).stdout, 'x\n', 'the same sandbox, not a new one');
    await c.terminateSession(s.id);
    assert.equal((await again.admin.usage(u.user.user_id)).filter((x) => x.session_id === s.id).length, 1, 'metered once it ends');
  } finally {
    assert.equal(await again.stop(), 0);
    removeHome(home);
  }
});
