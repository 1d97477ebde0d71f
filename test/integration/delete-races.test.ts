// Deletes racing launches and creates, through the real daemon: a delete claims what it deletes
// (vault, user, workspace) in one write before anything goes, so a launch or create that arrives
// meanwhile is refused (409) and a refused delete changes nothing. And a refused launch leaves
// no vault or drive of its own behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDaemon, newUser, raw, removeHome, type RunningDaemon } from '../helpers/daemon';

let d: RunningDaemon;
before(async () => { d = await startDaemon(); });
after(async () => { assert.equal(await d.stop(), 0, 'clean shutdown (store verified)'); removeHome(d.home); });

/** Enough files that deleting the vault's directory takes a while (1-2 s here): the window the races need. */
const FILES = 40_000;
const vaultDir = (id: string) => join(d.home, 'storage', id);
function fill(id: string) {
  const dir = vaultDir(id);
  assert.ok(existsSync(dir), dir);
  const r = spawnSync('sh', ['-c', `cd "$1" && mkdir many && cd many && seq 1 ${FILES} | xargs touch`, 'sh', dir]);
  assert.equal(r.status, 0, String(r.stderr));
  writeFileSync(join(dir, 'marker.txt'), 'still here\n');
}

const as = (key: string) => (method: string, path: string, body?: unknown) => raw(`${path.startsWith('/admin') ? d.adminUrl : d.publicUrl}${path}`, {
  method, headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body),
});
const admin = (method: string, path: string, body?: unknown) => as(d.adminKey)(method, `/admin${path}`, body);

/** Every shuttle the daemon holds as pending or running. */
async function liveShuttles() {
  const r = await admin('GET', '/sessions');
  assert.equal(r.status, 200, r.text);
  return (r.json.sessions as { session_id: string; user_id: string; workspace_id: string; status: string }[]).filter((s) => s.status === 'running' || s.status === 'pending');
}
async function allStorage() {
  const r = await admin('GET', '/storage');
  assert.equal(r.status, 200, r.text);
  return r.json.resources as { resource_id: string; workspace_id: string; state: string }[];
}

/** Every directory under <home>/storage is a vault or drive the store holds (none left by a refused create or launch). */
async function assertNoOrphanDirs() {
  const ids = new Set((await allStorage()).map((r) => r.resource_id));
  assert.deepEqual(readdirSync(join(d.home, 'storage')).filter((n) => !ids.has(n)), []);
}

/** `first`, then `later` 15 ms on while `first` still runs (asserted): both answers. */
async function race<A, B>(first: () => Promise<A>, later: () => Promise<B>): Promise<[A, B]> {
  let firstDone = false;
  const a = first().finally(() => { firstDone = true; });
  await sleep(15);
  assert.equal(firstDone, false, 'the first request was still running when the second was sent (else this test exercises nothing)');
  const b = later();
  return [await a, await b];
}

test('a vault deleted while a launch picks it: the launch is 409, the delete finishes, no shuttle gets a deleted /workspace', async () => {
  const { passport, workspace } = await newUser(d);
  const pub = as(passport);
  const ws = workspace.workspace_id;
  const vault = (await pub('POST', '/v1/storage/buckets', { workspace_id: ws, name: 'big' })).json;
  fill(vault.resource_id);

  const [del, launch] = await race(() => pub('DELETE', `/v1/storage/${vault.resource_id}`), () => pub('POST', '/v1/sessions', { workspace_id: ws, vault_id: vault.resource_id }));
  assert.equal(launch.status, 409, launch.text);
  assert.match(launch.json.error.message, /vault big is being deleted/);
  assert.equal(del.status, 200, del.text);
  assert.equal((await pub('GET', `/v1/storage/${vault.resource_id}`)).status, 404);
  assert.equal(existsSync(vaultDir(vault.resource_id)), false);
  assert.deepEqual((await liveShuttles()).filter((s) => s.workspace_id === ws), []);
  // The same race with the workspace's default vault (auto_mount) instead of a named one.
  const def = (await pub('POST', '/v1/storage/buckets', { workspace_id: ws, name: 'home' })).json;
  assert.equal(def.is_default, true);
  fill(def.resource_id);
  const [del2, launch2] = await race(() => pub('DELETE', `/v1/storage/${def.resource_id}`), () => pub('POST', '/v1/sessions', { workspace_id: ws }));
  assert.equal(launch2.status, 409, launch2.text);
  assert.match(launch2.json.error.message, /default vault home is being deleted/);
  assert.equal(del2.status, 200, del2.text);
  assert.deepEqual((await liveShuttles()).filter((s) => s.workspace_id === ws), []);
});

test('a vault delete refused (attached to a live shuttle) changes nothing: row ready, data there, usable', async () => {
  const { passport, workspace } = await newUser(d);
  const pub = as(passport);
  const ws = workspace.workspace_id;
  const vault = (await pub('POST', '/v1/storage/buckets', { workspace_id: ws, name: 'kept' })).json;
  fill(vault.resource_id);
  const s = await pub('POST', '/v1/sessions', { workspace_id: ws, vault_id: vault.resource_id });
  assert.equal(s.status, 201, s.text);
  const id = s.json.session.session_id;

  const del = await pub('DELETE', `/v1/storage/${vault.resource_id}`);
  assert.equal(del.status, 409, del.text);
  const after = await pub('GET', `/v1/storage/${vault.resource_id}`);
  assert.equal(after.status, 200);
  assert.equal(after.json.state, 'ready');
  assert.equal(after.json.is_default, true);
  assert.equal(readFileSync(join(vaultDir(vault.resource_id), 'marker.txt'), 'utf8'), 'still here\n');
  assert.equal(readdirSync(join(vaultDir(vault.resource_id), 'many')).length, FILES);
  const exec = await pub('POST', `/v1/sessions/${id}/execute`, { command: 'cat /workspace/marker.txt && echo more > /workspace/new.txt && cat /workspace/new.txt' });
  assert.equal(exec.status, 200, exec.text);
  assert.equal(exec.json.stdout, 'still here\nmore\n');

  assert.equal((await pub('DELETE', `/v1/sessions/${id}`)).status, 200);
  assert.equal((await pub('DELETE', `/v1/storage/${vault.resource_id}`)).status, 200);
});

for (const what of ['user', 'workspace'] as const) {
  test(`deleting a ${what} while a launch and a drive create arrive: both refused (409), nothing of it is left running or stored`, async () => {
    const { user, passport, workspace } = await newUser(d);
    const pub = as(passport);
    const ws = workspace.workspace_id;
    const vault = (await pub('POST', '/v1/storage/buckets', { workspace_id: ws, name: 'big' })).json;
    fill(vault.resource_id); // its delete is the slow part of the user's / workspace's

    const path = what === 'user' ? `/users/${user.user_id}` : `/workspaces/${ws}`;
    const [del, [launch, launchOnDemand, drive]] = await race(() => admin('DELETE', path), () => Promise.all([
      pub('POST', '/v1/sessions', { workspace_id: ws }),
      pub('POST', '/v1/sessions', { workspace_id: ws, request_bucket: true, request_persistent_storage: true }),
      pub('POST', '/v1/storage/filestores', { workspace_id: ws, name: 'late' }),
    ]));
    for (const r of [launch, launchOnDemand, drive]) {
      assert.equal(r.status, 409, r.text);
      assert.match(r.json.error.message, /is being deleted/);
    }
    assert.equal(del.status, 200, del.text);

    assert.equal((await admin('GET', path)).status, 404);
    assert.deepEqual((await liveShuttles()).filter((s) => s.user_id === user.user_id || s.workspace_id === ws), [], `no shuttle of a deleted ${what}`);
    assert.deepEqual((await allStorage()).filter((r) => r.workspace_id === ws), [], `no vault or drive of a deleted ${what}`);
    await assertNoOrphanDirs();
    if (what === 'workspace') {
      // The user is untouched: a new workspace and shuttle work.
      const w2 = await admin('POST', '/workspaces', { user_id: user.user_id, name: 'again' });
      assert.equal(w2.status, 201, w2.text);
      const s = await pub('POST', '/v1/sessions', { workspace_id: w2.json.workspace.workspace_id });
      assert.equal(s.status, 201, s.text);
      assert.equal((await pub('DELETE', `/v1/sessions/${s.json.session.session_id}`)).status, 200);
    }
  });

  test(`deleting a ${what} with a live shuttle is 409 and changes nothing`, async () => {
    const { user, passport, workspace } = await newUser(d);
    const pub = as(passport);
    const ws = workspace.workspace_id;
    const vault = (await pub('POST', '/v1/storage/buckets', { workspace_id: ws, name: 'data' })).json;
    const s = await pub('POST', '/v1/sessions', { workspace_id: ws });
    assert.equal(s.status, 201, s.text);
    const path = what === 'user' ? `/users/${user.user_id}` : `/workspaces/${ws}`;
    const del = await admin('DELETE', path);
    assert.equal(del.status, 409, del.text);
    // Not marked: new things can still be added to it, the storage is ready.
    assert.equal((await pub('GET', `/v1/storage/${vault.resource_id}`)).json.state, 'ready');
    const drive = await pub('POST', '/v1/storage/filestores', { workspace_id: ws, name: 'more' });
    assert.equal(drive.status, 201, drive.text);
    const s2 = await pub('POST', '/v1/sessions', { workspace_id: ws });
    assert.equal(s2.status, 201, s2.text);
    for (const x of [s, s2]) assert.equal((await pub('DELETE', `/v1/sessions/${x.json.session.session_id}`)).status, 200);
    assert.equal((await admin('DELETE', path)).status, 200);
    assert.deepEqual((await allStorage()).filter((r) => r.workspace_id === ws), []);
  });
}

test('a launch refused for overlapping mounts creates no vault; a launch that succeeds makes its on-demand vault the default', async () => {
  const { passport, workspace } = await newUser(d);
  const pub = as(passport);
  const ws = workspace.workspace_id;
  const drive = await pub('POST', '/v1/storage/filestores', { workspace_id: ws, name: 'home', mount_path: '/workspace' });
  assert.equal(drive.status, 201, drive.text);
  for (let i = 0; i < 3; i++) {
    const r = await pub('POST', '/v1/sessions', { workspace_id: ws, request_bucket: true });
    assert.equal(r.status, 409, r.text);
    assert.match(r.json.error.message, /overlap/);
  }
  const listing = (await pub('GET', `/v1/storage?workspace_id=${ws}`)).json;
  assert.deepEqual(listing.resources.map((r: { name: string }) => r.name), ['home']);
  assert.deepEqual(listing.defaults, { bucket_id: null, filestore_id: drive.json.resource_id });
  await assertNoOrphanDirs();

  // DESIGN.md: the first bucket of a workspace becomes its default, an on-demand one too.
  const { passport: p2, workspace: w2 } = await newUser(d);
  const pub2 = as(p2);
  const ok = await pub2('POST', '/v1/sessions', { workspace_id: w2.workspace_id, request_bucket: true });
  assert.equal(ok.status, 201, ok.text);
  const l2 = (await pub2('GET', `/v1/storage?workspace_id=${w2.workspace_id}`)).json;
  assert.equal(l2.resources.length, 1);
  assert.equal(l2.defaults.bucket_id, l2.resources[0].resource_id);
  assert.equal((await pub2('DELETE', `/v1/sessions/${ok.json.session.session_id}`)).status, 200);
});
