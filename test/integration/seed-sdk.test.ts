// The seed's Python SDK flow (requests, unchanged paths and shapes) against the real daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startDaemon, removeHome } from '../helpers/daemon';

const hasRequests = spawnSync('python3', ['-c', 'import requests']).status === 0;

test('a script written for the seed Python SDK runs unchanged', { skip: !hasRequests && process.env.CI !== 'true' ? 'python3 requests missing: pip install requests' : false }, async () => {
  const d = await startDaemon();
  try {
    const out = execFileSync('python3', [join(__dirname, 'seed_sdk_flow.py'), d.adminUrl, d.publicUrl, d.adminKey], { encoding: 'utf8', timeout: 120_000 });
    const r = JSON.parse(out.trim().split('\n').at(-1)!);
    assert.equal(r.returncode, 0);
    assert.match(r.ls, /^total \d+\n/);
    assert.match(r.ls, / f\n/);
    assert.equal(r.reuse, 'from-sdk\ndrive-ok\n');
    assert.equal(r.token_expires_in, 300);
    assert.deepEqual(r.defaults, { bucket_id: r.vault_id, filestore_id: r.drive_id });
    assert.equal(r.count, 2);
    assert.deepEqual(r.foreign, [404, 404, 404]);
    assert.equal(r.other_count, 0);
    assert.ok(r.credits > 50);
  } finally {
    assert.equal(await d.stop(), 0);
    removeHome(d.home);
  }
});
