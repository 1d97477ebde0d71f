// A home reached through a symlink (on another disk, say) works like any other: the daemon uses its
// real path, so the sandboxes' binds and the hiding of the home inside them find it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { newUser, removeHome, startDaemon } from '../helpers/daemon';

test('a symlinked home: shuttles launch, run commands, and cannot see the home', async () => {
  // Under /var/tmp, which shuttles see (read-only), unlike /tmp: hiding the home is then real work.
  const dir = mkdtempSync('/var/tmp/onmemos-link-');
  const link = join(dir, 'home');
  const real = mkdtempSync(join(dir, 'real-'));
  symlinkSync(real, link);
  const d = await startDaemon({ home: link });
  try {
    const u = await newUser(d);
    const s = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
    const r = await u.client.execute(s.id, `echo ok; ls ${JSON.stringify(link)}/ 2>&1 | head -3; ls ${JSON.stringify(join(dir))}/real-*/admin.key 2>&1 | head -1`);
    assert.equal(r.returncode, 0, r.stderr);
    assert.match(r.stdout, /^ok\n/, r.stdout);
    assert.doesNotMatch(r.stdout, /admin\.key$|store|sandboxes/m, 'the daemon\'s home is hidden inside the shuttle');
    await u.client.terminateSession(s.id);
  } finally {
    await d.stop();
    // The warm pool's supervisors outlive the daemon (by design) and still write in the home: end
    // them (they name the real path) before removing it.
    removeHome(real);
    rmSync(dir, { recursive: true, force: true });
  }
});
