// Acknowledged writes survive kill -9; one daemon per home; a stale lock is recovered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startDaemon, tempHome, removeHome, DAEMON } from '../helpers/daemon';

test('kill -9 during 16 concurrent writers: every acknowledged write is there after restart', async () => {
  const home = tempHome();
  const d = await startDaemon({ home });
  const acknowledged: string[] = [];
  let stop = false;
  const writer = async (w: number) => {
    for (let i = 0; !stop; i++) {
      try {
        const u = await d.admin.createUser({ email: `w${w}-${i}@example.com` });
        acknowledged.push(u.user_id);
      } catch {
        return; // the daemon died under us: this write was never acknowledged
      }
    }
  };
  const writers = Array.from({ length: 16 }, (_, w) => writer(w));
  // Kill mid-way: once a good number of writes are acknowledged, while all 16 writers are still going.
  while (acknowledged.length < 200) await new Promise((r) => setTimeout(r, 5));
  await d.kill();
  stop = true;
  await Promise.all(writers);
  assert.ok(acknowledged.length >= 200);
  JSON.parse(readFileSync(join(home, 'store.json'), 'utf8')); // parses

  const again = await startDaemon({ home }); // also proves the stale lock of the killed daemon is recovered
  const ids = new Set((await again.admin.listUsers()).map((u) => u.user_id));
  const missing = acknowledged.filter((id) => !ids.has(id));
  assert.deepEqual(missing, [], `${missing.length} of ${acknowledged.length} acknowledged users lost`);
  assert.ok(again.logs.some((l) => l.includes('recovered stale home lock')));
  await again.stop();
  removeHome(home);
});

test('a second daemon on the same home is refused, naming the holder', async () => {
  const d = await startDaemon();
  const r = spawnSync(process.execPath, [DAEMON, '--home', d.home, '--admin-port', '0', '--public-port', '0'], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(r.status, 3);
  assert.match(r.stderr, new RegExp(`another onmemos daemon \\(pid ${d.proc.pid}`));
  assert.equal(r.stdout, '', 'no ready line');
  // the first one is unharmed
  assert.equal((await d.admin.health()).status, 'healthy');
  assert.equal(await d.stop(), 0);
  removeHome(d.home);
});

test('the admin key can come from ONMEMOS_INTERNAL_API_KEY; bad flags exit non-zero with a message', async () => {
  const key = 'k'.repeat(40);
  const d = await startDaemon({ env: { ONMEMOS_INTERNAL_API_KEY: key } });
  assert.equal((await d.admin.listUsers()).length, 0);
  await d.stop();
  removeHome(d.home);
  const r = spawnSync(process.execPath, [DAEMON, '--admin-port', 'nope'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /admin port must be a port number/);
});
