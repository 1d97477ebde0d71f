// #3's "done when", with Node's own WebSocket client (not the `ws` package the other shell tests
// use): a terminal with onmemos.pty.v1, resize, vim, and the exit code (node-ws-client.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, newUser, removeHome } from '../helpers/daemon';

// Node 22 has WebSocket globally; Node 20 behind a flag.
const flags = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function' ? [] : ['--experimental-websocket'];

test('Node\'s built-in WebSocket client: a terminal follows a resize, runs vim, and reports exit 7', { skip: !existsSync('/usr/bin/vim') && 'vim is not installed' }, async () => {
  const d = await startDaemon();
  try {
    const u = await newUser(d);
    const s = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
    const url = `${d.publicUrl.replace(/^http/, 'ws')}/v1/sessions/${s.id}/shell?passport=${encodeURIComponent(u.passport)}&cols=80&rows=24`;
    const run = spawnSync(process.execPath, [...flags, join(__dirname, 'node-ws-client.mjs'), url], { encoding: 'utf8', timeout: 60_000 });
    const out = `${run.stdout}${run.stderr}`;
    assert.equal(run.status, 0, out);
    const r = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    assert.equal(r.protocol, 'onmemos.pty.v1');
    assert.equal(r.messages[0].type, 'hello');
    assert.match(r.messages[0].shell_id, /^sh-/);
    assert.deepEqual(r.messages.at(-1), { type: 'exit', code: 7 });
    assert.equal(r.close, 1000);
  } finally {
    await d.stop();
    removeHome(d.home);
  }
});
