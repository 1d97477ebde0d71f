// Deletes claim first (services over a real store, stand-in providers whose steps can be held):
// a failed vault delete puts its state back; a launch refused after it created its on-demand
// vault or drive removes them again (and the default they took); a launch or create refused for
// a user or workspace being deleted changes nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Store } from '../../daemon/store';
import { createServices } from '../../daemon/services';
import type { ServiceContext } from '../../daemon/services/context';
import type { ComputeProvider, StorageProvider } from '../../daemon/providers/types';
import { ApiError } from '../../daemon/errors';

/** A promise to hold a provider step on, and its release. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => { open = r; });
  return { opened, open };
}

async function setup() {
  const home = mkdtempSync(join(tmpdir(), 'onmemos-unit-'));
  const store = await Store.open(home, undefined, { lock: false });
  const backings = new Set<string>();
  const hold: { create?: Promise<void>; delete?: Promise<void>; failDelete?: Error } = {};
  const storage: StorageProvider = {
    ensureWorkspace: async () => ({}),
    deleteWorkspace: async () => {},
    createResource: async (_w, r) => { await hold.create; backings.add(r.resource_id); return { backing_name: r.name }; },
    deleteResource: async (_w, r) => { await hold.delete; if (hold.failDelete) throw hold.failDelete; backings.delete(r.resource_id); },
  };
  const launched: string[] = [];
  const compute = {
    name: 'local', check: async () => {}, launch: async (spec: { sandbox_name: string }) => { launched.push(spec.sandbox_name); }, terminate: async () => {},
  } as unknown as ComputeProvider;
  const ctx = {
    config: { provider: 'local', minuteMs: 60_000, maxOutputBytes: 1 << 20 }, log: { info() {}, warn() {}, error() {} }, store, compute, storage,
  } as unknown as ServiceContext;
  const svc = createServices(ctx);
  const [user] = await svc.users.create({ email: 'a@example.com', user_type: 'pro' });
  const w = await svc.workspaces.create({ user_id: user.user_id, name: 'dev', resource_package: 'dev-small', description: '' });
  const launchReq = { ttl_minutes: 5, env: {}, request_bucket: false, bucket_size_gb: 1, request_persistent_storage: false, persistent_storage_size_gb: 1 };
  return {
    store, svc, user, w, hold, backings, launched, launchReq,
    async done() { await store.close(); rmSync(home, { recursive: true, force: true }); },
  };
}

const status = (n: number, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof ApiError, String(e));
  assert.equal(e.status, n, e.message);
  if (message) assert.match(e.message, message);
  return true;
};

test('a vault delete that fails puts the vault back to ready; launches refused it only while the delete ran', async () => {
  const t = await setup();
  try {
    const v = await t.svc.storage.create(t.w, { name: 'data', storage_type: 'bucket', size_gb: 1, auto_mount: true, mount_path: '/workspace', access_mode: 'RW' });
    const g = gate();
    t.hold.delete = g.opened;
    t.hold.failDelete = new Error('disk on fire');
    const removing = t.svc.storage.remove(v.resource_id);
    await new Promise((r) => setImmediate(r));
    assert.equal(t.store.get('storage_resources', v.resource_id)?.state, 'deleting');
    await assert.rejects(t.svc.sessions.launch(t.user.user_id, t.w, { ...t.launchReq, vault_id: v.resource_id }), status(409, /vault data is being deleted/));
    await assert.rejects(t.svc.sessions.launch(t.user.user_id, t.w, t.launchReq), status(409, /default vault data is being deleted/));
    await assert.rejects(t.svc.storage.patch(t.user.user_id, v.resource_id, { auto_mount: false }), status(409));
    g.open();
    await assert.rejects(removing, /disk on fire/);
    assert.equal(t.store.get('storage_resources', v.resource_id)?.state, 'ready');
    assert.equal(t.store.get('workspaces', t.w.workspace_id)?.defaults.bucket_id, v.resource_id);
    const s = await t.svc.sessions.launch(t.user.user_id, t.w, t.launchReq);
    assert.deepEqual(s.mounts.map((m) => m.resource_id), [v.resource_id]);
    assert.equal(t.store.data.sessions.filter((x) => x.status !== 'running').length, 0, 'the refused launches recorded nothing');
  } finally {
    await t.done();
  }
});

test('a launch refused at its record (a vault it names deleted meanwhile) removes the drive it created, and the default it took', async () => {
  const t = await setup();
  try {
    const v = await t.svc.storage.create(t.w, { name: 'data', storage_type: 'bucket', size_gb: 1, auto_mount: true, mount_path: '/workspace', access_mode: 'RW' });
    const g = gate();
    t.hold.create = g.opened; // the on-demand drive's backing is being made...
    const launching = t.svc.sessions.launch(t.user.user_id, t.w, { ...t.launchReq, vault_id: v.resource_id, request_persistent_storage: true });
    await new Promise((r) => setImmediate(r));
    t.hold.create = undefined;
    await t.svc.storage.remove(v.resource_id); // ...while the vault it named is deleted
    g.open();
    await assert.rejects(launching, status(409, /vault data was deleted while the shuttle launched/));
    assert.deepEqual(t.store.data.storage_resources, []);
    assert.deepEqual([...t.backings], []);
    assert.deepEqual(t.store.get('workspaces', t.w.workspace_id)?.defaults, { bucket_id: null, filestore_id: null });
    assert.deepEqual(t.store.data.sessions, []);
    assert.deepEqual(t.launched, []);
  } finally {
    await t.done();
  }
});

test('a workspace delete while a launch creates its on-demand vault and drive: the launch is 409 and leaves nothing; a failed delete takes its mark back', async () => {
  const t = await setup();
  try {
    const g = gate();
    t.hold.create = g.opened;
    const launching = t.svc.sessions.launch(t.user.user_id, t.w, { ...t.launchReq, request_bucket: true, request_persistent_storage: true });
    await new Promise((r) => setImmediate(r));
    t.hold.create = undefined;
    const del = gate();
    let listed: string[] = [];
    const removing = t.svc.workspaces.remove(t.w.workspace_id, async (ids) => { listed = ids; await del.opened; throw new Error('storage down'); });
    await new Promise((r) => setImmediate(r));
    assert.ok(t.store.get('workspaces', t.w.workspace_id)?.deleting_at);
    await assert.rejects(t.svc.storage.create(t.w, { name: 'late', storage_type: 'filestore', size_gb: 1, auto_mount: true, mount_path: '/data', access_mode: 'RW' }), status(409, /being deleted/));
    g.open(); // the vault's backing is made; its row is refused
    await assert.rejects(launching, status(409, /workspace .* is being deleted/));
    assert.deepEqual(t.store.data.storage_resources, []);
    assert.deepEqual([...t.backings], [], 'the backings of the refused vault and drive are gone');
    assert.deepEqual(t.store.data.sessions, []);
    assert.deepEqual(listed, []);
    del.open();
    await assert.rejects(removing, /storage down/);
    assert.equal(t.store.get('workspaces', t.w.workspace_id)?.deleting_at, undefined, 'the mark is taken back');
    const s = await t.svc.sessions.launch(t.user.user_id, t.w, { ...t.launchReq, request_bucket: true });
    assert.equal(s.status, 'running');
    assert.equal(t.store.get('workspaces', t.w.workspace_id)?.defaults.bucket_id, s.mounts[0]!.resource_id, 'the first vault becomes the default');
  } finally {
    await t.done();
  }
});

test('a user being deleted: launches, workspaces, vaults refused (409); once deleted, 404', async () => {
  const t = await setup();
  try {
    const del = gate();
    const removing = t.svc.users.remove(t.user.user_id, async () => { await del.opened; });
    await new Promise((r) => setImmediate(r));
    await assert.rejects(t.svc.sessions.launch(t.user.user_id, t.w, t.launchReq), status(409, /user is being deleted/));
    await assert.rejects(t.svc.workspaces.create({ user_id: t.user.user_id, name: 'other', resource_package: 'dev-small', description: '' }), status(409));
    await assert.rejects(t.svc.storage.create(t.w, { name: 'late', storage_type: 'bucket', size_gb: 1, auto_mount: true, mount_path: '/workspace', access_mode: 'RW' }), status(409));
    del.open();
    await removing;
    assert.deepEqual(t.store.data.workspaces, []);
    await assert.rejects(t.svc.workspaces.create({ user_id: t.user.user_id, name: 'other', resource_package: 'dev-small', description: '' }), status(404));
    await assert.rejects(t.svc.storage.create(t.w, { name: 'late', storage_type: 'bucket', size_gb: 1, auto_mount: true, mount_path: '/workspace', access_mode: 'RW' }), status(404));
    assert.deepEqual(t.store.data.storage_resources, []);
    assert.deepEqual([...t.backings], []);
    assert.deepEqual(t.store.data.sessions, []);
  } finally {
    await t.done();
  }
});
