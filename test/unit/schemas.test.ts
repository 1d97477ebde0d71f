import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountPathProblem, StorageName, CreateBucketBody, CreateSessionBody, ExecuteQuery } from '../../daemon/api/schemas';
import { redactUrl } from '../../daemon/log';

test('mount paths: absolute, no . or .. segments, not / nor system trees', () => {
  for (const ok of ['/workspace', '/data', '/home/me/project', '/mnt/a-b_c.d', '/workspace/', '/run/user', '/runner', '/run2/onmemos']) assert.equal(mountPathProblem(ok), null, ok);
  for (const bad of ['workspace', '/', '/a/../b', '/..', '/a/./b', '/a//b', '/proc/x', '/dev', '/sys/fs', '/a b', '/a;rm -rf', '/' + 'x'.repeat(300),
    '/run', '/run/', '/run/onmemos', '/run/onmemos/', '/run/onmemos/stage', '/run/onmemos/stage/x']) {
    assert.notEqual(mountPathProblem(bad), null, bad);
  }
});

test('storage names are lowercase DNS labels of 3-63 characters', () => {
  for (const ok of ['abc', 'my-vault', 'a1-b2', 'x'.repeat(63)]) assert.ok(StorageName.safeParse(ok).success, ok);
  for (const bad of ['ab', 'My-Vault', '-abc', 'abc-', 'a_b', 'a.b', 'x'.repeat(64), '', 'héllo']) assert.ok(!StorageName.safeParse(bad).success, bad);
});

test('bucket defaults follow the seed: 10 GB, auto-mount at /workspace, RW; dock_id is an alias', () => {
  const b = CreateBucketBody.parse({ dock_id: 'ws-1', name: 'abc' });
  assert.deepEqual({ ...b }, { dock_id: 'ws-1', name: 'abc', size_gb: 10, auto_mount: true, mount_path: '/workspace', access_mode: 'RW' });
  assert.ok(!CreateBucketBody.safeParse({ name: 'abc' }).success, 'a workspace is required');
  assert.ok(!CreateBucketBody.safeParse({ workspace_id: 'w', name: 'abc', size_gb: '10' }).success, 'wrong types are refused');
});

test('session requests: ttl bounds, env names, dock_id alias', () => {
  assert.equal(CreateSessionBody.parse({ dock_id: 'w' }).ttl_minutes, 60);
  assert.ok(!CreateSessionBody.safeParse({ workspace_id: 'w', ttl_minutes: 0 }).success);
  assert.ok(!CreateSessionBody.safeParse({ workspace_id: 'w', env: { 'BAD-NAME': 'x' } }).success);
});

test('execute query parameters are coerced as the seed SDK sends them', () => {
  assert.deepEqual(ExecuteQuery.parse({ command: 'ls', timeout: '30', async_execution: 'false' }), { command: 'ls', timeout: 30, async_execution: false });
  assert.ok(!ExecuteQuery.safeParse({ command: 'ls', timeout: '0' }).success);
  assert.ok(!ExecuteQuery.safeParse({ command: 'ls', timeout: '3601' }).success);
  for (const odd of ['0x10', '1e2', ' 5', '5.0', '']) assert.ok(!ExecuteQuery.safeParse({ command: 'ls', timeout: odd }).success, odd);
});

test('credential query parameters never reach a log line', () => {
  assert.equal(redactUrl('/v1/gke/shell/s1?k8s_ns=a&passport=onm_secret&pod=p'), '/v1/gke/shell/s1?k8s_ns=a&passport=***&pod=p');
  assert.equal(redactUrl('/x?token=eyJ.a.b'), '/x?token=***');
  assert.equal(redactUrl('/v1/sessions/s/execute?command=export%20TOKEN%3Dx&timeout=5'), '/v1/sessions/s/execute?command=***&timeout=5');
  assert.equal(redactUrl('/v1/storage'), '/v1/storage');
});
