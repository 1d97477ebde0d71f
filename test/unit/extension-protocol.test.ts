import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainError, isConnectionError } from '../../extension/api/errors';
import { isLocalUrl, normalizeUrl, readSettings } from '../../extension/config';
import { parseReadyLine } from '../../extension/daemon/ready';
import { parseServerControl, reconnectDelay, resizeMessage, shellUrl } from '../../extension/terminals/protocol';
import { METHODS, parseFromWebview, parseToWebview } from '../../webview/protocol';
import { OnMemOSApiError } from '../../daemon/client';

test('webview messages: ready, well-formed requests pass; anything else is dropped', () => {
  assert.deepEqual(parseFromWebview({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseFromWebview({ type: 'request', requestId: 7, method: 'users.create', params: { email: 'a@b.c', user_type: 'pro' } }),
    { type: 'request', requestId: 7, method: 'users.create', params: { email: 'a@b.c', user_type: 'pro' } });
  const bad = [
    null, 'x', [], { type: 'request' },
    { type: 'request', requestId: '1', method: 'users.list', params: {} },
    { type: 'request', requestId: 1.5, method: 'users.list', params: {} },
    { type: 'request', requestId: 1, method: 'users.drop', params: {} },
    { type: 'request', requestId: 1, method: 'users.create', params: { email: 5 } },
    { type: 'request', requestId: 1, method: 'users.create', params: { email: 'a@b.c', user_type: 'root' } },
    { type: 'request', requestId: 1, method: 'credits.add', params: { user_id: 'u', amount: -5 } },
    { type: 'request', requestId: 1, method: 'credits.add', params: { user_id: 'u', amount: Infinity } },
    { type: 'request', requestId: 1, method: 'workspaces.create', params: { user_id: 'u' } },
    { type: 'request', requestId: 1, method: 'passports.use', params: { passport: '' } },
  ];
  for (const m of bad) assert.equal(parseFromWebview(m), undefined, JSON.stringify(m));
});

test('only the checked params go on: extra keys from a webview never reach the admin API', () => {
  const r = parseFromWebview({ type: 'request', requestId: 3, method: 'passports.create',
    params: { user_id: 'u', name: 'laptop', permissions: ['admin'], expires_at: '2099-01-01T00:00:00Z' } });
  assert.deepEqual(r, { type: 'request', requestId: 3, method: 'passports.create', params: { user_id: 'u', name: 'laptop' } });
  const w = parseFromWebview({ type: 'request', requestId: 4, method: 'workspaces.create', params: { user_id: 'u', name: 'dev', workspace_id: 'ws-theirs', resource_package: 'huge' } });
  assert.deepEqual(w && w.type === 'request' ? w.params : undefined, { user_id: 'u', name: 'dev' });
  const l = parseFromWebview({ type: 'request', requestId: 5, method: 'users.list', params: { anything: 1 } });
  assert.deepEqual(l && l.type === 'request' ? l.params : undefined, {});
});

test('every method has a params check (an unknown one would be rejected)', () => {
  for (const m of METHODS) {
    const r = parseFromWebview({ type: 'request', requestId: 1, method: m, params: {} });
    // Methods without required params accept {}, the others reject it: either way, no throw.
    assert.ok(r === undefined || r.type === 'request');
  }
});

test('host messages: init and responses', () => {
  assert.equal(parseToWebview({ type: 'init', adminUrl: 'http://x', publicUrl: 'http://y', hasAdminKey: true, daemonUp: true })?.type, 'init');
  assert.equal(parseToWebview({ type: 'response', requestId: 1, ok: false, error: { message: 'm' } })?.type, 'response');
  assert.equal(parseToWebview({ type: 'response', requestId: 'x', ok: true }), undefined);
});

test('pty protocol: control messages, resize, URLs, backoff', () => {
  assert.deepEqual(parseServerControl('{"type":"hello","shell_id":"sh1"}'), { type: 'hello', shell_id: 'sh1' });
  assert.deepEqual(parseServerControl('{"type":"exit","code":3}'), { type: 'exit', code: 3 });
  assert.deepEqual(parseServerControl('{"type":"error","message":"gone"}'), { type: 'error', message: 'gone' });
  assert.equal(parseServerControl('not json'), undefined);
  assert.equal(parseServerControl('{"type":"output"}'), undefined);
  assert.equal(resizeMessage(80.7, 0), '{"type":"resize","cols":80,"rows":1}');
  assert.equal(shellUrl('http://127.0.0.1:8080', 'se/1'), 'ws://127.0.0.1:8080/v1/sessions/se%2F1/shell?mode=pty');
  assert.equal(shellUrl('https://h/base/', 's', 'sh1'), 'wss://h/base/v1/sessions/s/shell?mode=pty&attach=sh1');
  assert.equal(reconnectDelay(0), 250);
  assert.equal(reconnectDelay(10), 4000);
  assert.equal(reconnectDelay(12), undefined);
});

test('errors name what happened and what to do', () => {
  const inUse = explainError('Delete vault “v”', new OnMemOSApiError(409, 'resource_in_use', 'vault is attached to running session s1'));
  assert.match(inUse.message, /Terminate the shuttles that use it/);
  const dup = explainError('Create vault “v”', new OnMemOSApiError(409, 'conflict', 'a vault named v already exists'));
  assert.match(dup.message, /Choose another name/);
  const unreachable = new OnMemOSApiError(0, 'unreachable', 'cannot reach the OnMemOS daemon');
  assert.ok(isConnectionError(unreachable));
  assert.equal(explainError('Refresh', unreachable).action?.command, 'onmemos.daemon.start');
  assert.equal(explainError('Launch', new OnMemOSApiError(401, 'unauthorized', 'bad passport')).action?.command, 'onmemos.passport.set');
  assert.ok(!isConnectionError(new OnMemOSApiError(0, 'aborted', 'cancelled')));
  const capped = explainError('Launch a shuttle', new OnMemOSApiError(429, 'too_many_requests', 'this user has 20 live shuttles, the most allowed; terminate one (DELETE /v1/sessions/{id})', { limit: 20, live: 20 }));
  assert.match(capped.message, /20 live shuttles.*terminate one/);
  assert.doesNotMatch(capped.message, /Wait a moment/);
  assert.match(explainError('Refresh', new OnMemOSApiError(429, 'too_many_requests', 'too many failed authentications', { retry_after_seconds: 30 })).message, /Wait a moment/);
});

test('settings and the daemon ready line', () => {
  const s = readSettings({ get: <T>(k: string) => ({ adminUrl: ' http://127.0.0.1:9001/ ', publicUrl: 'bogus', pollIntervalSeconds: 2 } as Record<string, unknown>)[k] as T });
  assert.equal(s.adminUrl, 'http://127.0.0.1:9001');
  assert.equal(s.publicUrl, 'http://127.0.0.1:8080');
  assert.equal(s.pollIntervalMs, 2000);
  assert.equal(s.autoStart, true);
  assert.equal(normalizeUrl('', 'http://d'), 'http://d');
  assert.ok(isLocalUrl('http://localhost:1'));
  assert.ok(!isLocalUrl('http://10.0.0.1:1'));
  assert.deepEqual(parseReadyLine('onmemos daemon ready admin=http://127.0.0.1:1 public=http://127.0.0.1:2'), { admin: 'http://127.0.0.1:1', public: 'http://127.0.0.1:2' });
  assert.equal(parseReadyLine('{"msg":"daemon started"}'), undefined);
});
