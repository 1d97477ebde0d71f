// The line protocol's limits, over a real WebSocket to the real daemon: a command is capped at the
// API's length, only so many may wait behind the running one, and nothing left waiting runs after
// the socket closes. Before these, a client could queue 1 MiB commands without end (the daemon
// ran out of heap) and a closed shell went on running what it had left behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, newUser, removeHome, type RunningDaemon } from '../helpers/daemon';
import { openWs } from '../helpers/ws';

const MAX_COMMAND = 65536; // ExecuteQuery's command limit in daemon/api/schemas.ts
const MAX_WAITING = 16; // daemon/shell/line.ts

// A small heap makes an unbounded backlog fatal within this test, as it was with the default heap
// for a client with more to send.
let d: RunningDaemon;
before(async () => { d = await startDaemon({ nodeArgs: ['--max-old-space-size=96'] }); });
after(async () => { assert.equal(await d.stop(), 0, 'clean shutdown (store verified)'); removeHome(d.home); });

async function lineShell() {
  const u = await newUser(d);
  const s = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
  const sh = await openWs(`${d.publicUrl.replace(/^http/, 'ws')}/v1/sessions/${s.id}/shell`, { headers: { authorization: `Bearer ${u.passport}` } });
  await sh.waitFor(() => sh.messages.some((m) => m.type === 'prompt'), 'first prompt');
  const command = (command: string) => sh.send(JSON.stringify({ type: 'command', command }));
  const count = (pred: (m: any) => boolean) => sh.messages.filter(pred).length;
  return { ...u, s, sh, command, count };
}

test('a command over the API\'s length is an error in the line protocol\'s shape; the shell stays usable, and a command at the limit runs', async () => {
  const { s, sh, command, count } = await lineShell();
  command(`echo ${'a'.repeat(MAX_COMMAND)}`);
  await sh.waitFor(() => count((m) => m.type === 'error') === 1, 'the error');
  const err = sh.messages.find((m) => m.type === 'error');
  assert.match(err.content, new RegExp(`${MAX_COMMAND}`), err.content);
  assert.equal(err.session_id, s.id);
  assert.equal(typeof err.timestamp, 'string');
  const prompts = count((m) => m.type === 'prompt');
  const atLimit = `: ${'b'.repeat(MAX_COMMAND - ': ; echo at-limit'.length)}; echo at-limit`;
  assert.equal(atLimit.length, MAX_COMMAND);
  command(atLimit);
  await sh.waitFor(() => count((m) => m.type === 'prompt') === prompts + 1, 'the prompt after the command at the limit');
  assert.ok(sh.messages.some((m) => m.type === 'output' && m.content === 'at-limit\n'), JSON.stringify(sh.messages.slice(-3)));
  assert.equal(count((m) => m.type === 'error'), 1, 'one error only');
  assert.equal(sh.ws.readyState, sh.ws.OPEN);
  sh.ws.close();
});

test('a flood while a command runs: 16 wait and run, the rest (and every 1 MiB command) are errors; the daemon lives and the shell stays usable', async () => {
  const { sh, command, count } = await lineShell();
  command('sleep 10');
  // First the most a command may be, 16 + 40 of them (all arrive within the sleep), then ~1 MiB
  // ones: kept, 200 of them would be 200 MB, twice this daemon's heap.
  const extra = 40;
  for (let i = 0; i < MAX_WAITING + extra; i++) command(`: ${'y'.repeat(MAX_COMMAND - 16)}; echo n${i}`);
  const big = 200;
  for (let i = 0; i < big; i++) command(`echo ${'x'.repeat(1024 * 1024 - 64)}`);
  const tooLong = (m: any) => m.type === 'error' && /invalid command/.test(m.content);
  const full = (m: any) => m.type === 'error' && /already waiting/.test(m.content);
  await sh.waitFor(() => count(tooLong) + count(full) === big + extra, 'an error for each command refused', 60_000);
  assert.equal(count(tooLong), big);
  assert.equal(count(full), extra);
  // The sleep, then the 16 that waited, each answered with its output and a prompt.
  await sh.waitFor(() => count((m) => m.type === 'prompt') === 1 + 1 + MAX_WAITING, 'a prompt per command run', 60_000);
  const outputs = sh.messages.filter((m) => m.type === 'output' && /^n\d+\n$/.test(m.content)).map((m) => m.content.trim());
  assert.deepEqual(outputs, Array.from({ length: MAX_WAITING }, (_, i) => `n${i}`), 'the first 16, in order');
  command('echo still-here');
  await sh.waitFor(() => sh.messages.some((m) => m.type === 'output' && m.content === 'still-here\n'), 'a command after the flood');
  assert.equal(d.proc.exitCode, null, 'the daemon is alive');
  sh.ws.close();
});

test('closing the socket drops what waits: the running command may finish, nothing queued starts', async () => {
  const { s, client, sh, command, count } = await lineShell();
  // The shuttle's /tmp outlives a command: what the shell writes there, execute sees.
  command('touch /tmp/control');
  await sh.waitFor(() => count((m) => m.type === 'prompt') === 2, 'the control command\'s prompt');
  command('sleep 2');
  for (let i = 0; i < 4; i++) command(`touch /tmp/queued-${i}`);
  sh.ws.close();
  await sh.closed;
  await new Promise((r) => setTimeout(r, 4000)); // the sleep is over; a queued touch would have run
  const r = await client.execute(s.id, 'ls /tmp');
  assert.equal(r.exit_code, 0, r.stderr);
  const files = r.stdout.split('\n').filter(Boolean);
  assert.ok(files.includes('control'), `the control file is there: ${files.join(' ')}`);
  assert.deepEqual(files.filter((f) => f.startsWith('queued-')), [], 'no queued command ran after close');
});
