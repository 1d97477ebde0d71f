import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Session, StorageResource, Workspace } from '../../extension/api/types';
import type { Snapshot } from '../../extension/model';
import { childrenOf, itemFor, parentOf, shuttleItem, storageDescription, storageItem, timeLeft, type Node } from '../../extension/views/items';

const ws = (id: string, name: string): Workspace => ({
  workspace_id: id, user_id: 'u1', name, resource_package: 'dev-small', description: '', k8s_namespace: `ns-${id}`, ksa_name: 'k', gsa_email: 'g',
  identity_state: 'ready', created_at: '2026-01-01T00:00:00Z', defaults: { bucket_id: null, filestore_id: null },
});
const res = (id: string, wsId: string, name: string, over: Partial<StorageResource> = {}): StorageResource => ({
  resource_id: id, name, storage_type: 'bucket', size_gb: 10, workspace_id: wsId, auto_mount: true, mount_path: '/workspace',
  access_mode: 'RW', is_default: false, state: 'ready', created_at: '2026-01-01T00:00:00Z', ...over,
});
const sess = (id: string, wsId: string, status: Session['status'], over: Partial<Session> = {}): Session => ({
  id, session_id: id, workspace_id: wsId, user: 'u1', user_id: 'u1', provider: 'local', template: 'default', status,
  k8s_namespace: 'ns', pod_name: `pod-${id}`, details: { k8s_ns: 'ns', pod: `pod-${id}` },
  storage_config: { mounts: [] }, ttl_minutes: 60, created_at: '2026-01-01T00:00:00Z', expires_at: '2026-01-01T01:00:00Z',
  ended_at: null, end_reason: null, ...over,
});
const snap = (p: Partial<Snapshot>): Snapshot => ({ workspaces: [], storage: [], sessions: [], fetchedAt: 1, ...p });

test('storage descriptions say default, size, mount path, access and manual mount', () => {
  assert.equal(storageDescription(res('r', 'w', 'a', { is_default: true })), 'default · 10 GB · /workspace · read-write');
  assert.equal(storageDescription(res('r', 'w', 'a', { access_mode: 'RO', auto_mount: false, mount_path: '/data' })), '10 GB · /data · read-only · manual mount');
});

test('storage contextValues drive the menus: kind, default, auto-mount', () => {
  assert.equal(storageItem(res('r', 'w', 'a', { is_default: true })).contextValue, 'storage.vault.default.auto');
  assert.equal(storageItem(res('r', 'w', 'a', { storage_type: 'filestore', auto_mount: false })).contextValue, 'storage.drive.nondefault.manual');
  assert.match('storage.vault.nondefault.auto', /^storage\.\w+\.nondefault/); // the setDefault when-clause
  assert.doesNotMatch('storage.vault.default.auto', /^storage\.\w+\.nondefault/);
});

test('a default vault gets a star, a drive a database icon', () => {
  assert.equal(storageItem(res('r', 'w', 'a', { is_default: true })).icon.id, 'star-full');
  assert.equal(storageItem(res('r', 'w', 'a', { storage_type: 'filestore' })).icon.id, 'database');
});

test('shuttles: status icon and contextValue, time left, mounts as children', () => {
  const now = Date.parse('2026-01-01T00:30:00Z');
  const s = sess('s1', 'w1', 'running', { storage_config: { mounts: [{ resource_id: 'r1', type: 'bucket', name: 'v', mount_path: '/workspace', access_mode: 'RW' }] } });
  const item = shuttleItem(s, undefined, now);
  assert.equal(item.contextValue, 'shuttle.running');
  assert.equal(item.icon.id, 'vm-running');
  assert.equal(item.description, 'running · 30 min left');
  assert.ok(item.collapsible);
  const kids = childrenOf('shuttles', { kind: 'shuttle', session: s }, snap({ sessions: [s] }));
  assert.equal(kids.length, 1);
  assert.equal(itemFor(kids[0]!, snap({ storage: [res('r1', 'w1', 'myvault')] })).description, 'myvault · read-write');
  assert.equal(timeLeft('2026-01-01T03:00:00Z', now), '3 h left');
  assert.equal(timeLeft('2026-01-01T00:00:00Z', now), 'expired');
});

test('ended shuttles are not listed', () => {
  const s = snap({ sessions: [sess('a', 'w', 'running'), sess('b', 'w', 'terminated'), sess('c', 'w', 'expired')] });
  assert.deepEqual(childrenOf('shuttles', undefined, s).map((n) => (n as { session: Session }).session.id), ['a']);
});

test('storage views are flat for one workspace, grouped by workspace for several', () => {
  const one = snap({ workspaces: [ws('w1', 'one')], storage: [res('b', 'w1', 'bbb'), res('a', 'w1', 'aaa', { is_default: true }), res('d', 'w1', 'drv', { storage_type: 'filestore' })] });
  assert.deepEqual(childrenOf('vaults', undefined, one).map((n) => itemFor(n, one).label), ['aaa', 'bbb']); // default first
  assert.deepEqual(childrenOf('drives', undefined, one).map((n) => itemFor(n, one).label), ['drv']);
  const two = snap({ workspaces: [ws('w1', 'one'), ws('w2', 'two')], storage: [res('a', 'w1', 'aaa'), res('b', 'w2', 'bbb')] });
  const groups = childrenOf('vaults', undefined, two);
  assert.deepEqual(groups.map((n) => itemFor(n, two).contextValue), ['group.vaults', 'group.vaults']);
  const inTwo = childrenOf('vaults', groups[1], two);
  assert.deepEqual(inTwo.map((n) => itemFor(n, two).label), ['bbb']);
  assert.deepEqual(parentOf(inTwo[0]!, two), groups[1]);
  assert.deepEqual(childrenOf('drives', undefined, two), []); // empty view -> welcome content
});

test('workspace rows count live shuttles, vaults and drives', () => {
  const s = snap({ workspaces: [ws('w1', 'one')], storage: [res('a', 'w1', 'aaa'), res('d', 'w1', 'ddd', { storage_type: 'filestore' })], sessions: [sess('x', 'w1', 'running'), sess('y', 'w1', 'terminated')] });
  const item = itemFor({ kind: 'workspace', workspace: s.workspaces[0]! } as Node, s);
  assert.equal(item.description, '1 shuttle · 1 vault · 1 drive');
  assert.match(item.tooltip, /ns-w1/);
});

test('tooltips escape markdown in user-chosen names', () => {
  const w = { ...ws('w1', 'a*b_[x](y)'), name: 'a*b_[x](y)' };
  const item = itemFor({ kind: 'workspace', workspace: w }, snap({ workspaces: [w] }));
  assert.match(item.tooltip, /a\\\*b\\_\\\[x\\\]\\\(y\\\)/);
});
