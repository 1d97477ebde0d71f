// The admin and public APIs over real HTTP against the real daemon process (no sessions here:
// see sessions.test.ts). Every route's success and its errors; bad input changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, newUser, raw, removeHome, type RunningDaemon } from '../helpers/daemon';
import { OnMemOSApiError } from '../../daemon/client';

let d: RunningDaemon;
before(async () => { d = await startDaemon(); });
after(async () => { assert.equal(await d.stop(), 0, 'SIGTERM exits 0'); removeHome(d.home); });

const json = (key: string) => ({ 'content-type': 'application/json', 'x-api-key': key });
const isApiError = (status: number, code?: string) => (e: unknown) =>
  e instanceof OnMemOSApiError && e.status === status && (!code || e.code === code);

test('health endpoints need no credentials', async () => {
  assert.deepEqual((await raw(`${d.adminUrl}/admin/health`)).json, { status: 'healthy', server: 'admin', version: '0.1.0' });
  const pub = await raw(`${d.publicUrl}/health`);
  assert.equal(pub.json.status, 'healthy');
  assert.equal(pub.json.server, 'public');
  assert.equal(pub.json.version, '0.1.0');
});

test('admin key: generated 0600 at first start, required, compared exactly; a passport is not one', async () => {
  assert.equal(statSync(join(d.home, 'admin.key')).mode & 0o777, 0o600);
  assert.equal((await raw(`${d.adminUrl}/admin/users`)).status, 401);
  const wrong = await raw(`${d.adminUrl}/admin/v1/admin/users`, { headers: { 'x-api-key': d.adminKey + 'x' } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error.code, 'unauthorized');
  const { passport } = await newUser(d);
  assert.equal((await raw(`${d.adminUrl}/admin/users`, { headers: { 'x-api-key': passport } })).status, 401);
  assert.equal((await raw(`${d.publicUrl}/v1/sessions`, { headers: { 'x-api-key': d.adminKey } })).status, 401, 'the admin key is not a passport');
  assert.equal((await raw(`${d.adminUrl}/admin/users`, { headers: { 'x-api-key': d.adminKey } })).status, 200);
});

test('users: created 201 in the seed wrapper, idempotent by email (200), listed, patched, deleted', async () => {
  const r1 = await raw(`${d.adminUrl}/admin/v1/admin/users`, { method: 'POST', headers: json(d.adminKey), body: JSON.stringify({ email: 'Ada@Example.com', name: 'Ada' }) });
  assert.equal(r1.status, 201);
  assert.equal(r1.json.user.email, 'ada@example.com');
  assert.equal(r1.json.user.user_type, 'pro');
  assert.ok(r1.json.user.credits > 0, 'a signup grant');
  const r2 = await raw(`${d.adminUrl}/admin/users`, { method: 'POST', headers: json(d.adminKey), body: JSON.stringify({ email: 'ada@example.com' }) });
  assert.equal(r2.status, 200);
  assert.equal(r2.json.user.user_id, r1.json.user.user_id);
  const id = r1.json.user.user_id;
  assert.ok((await d.admin.listUsers()).some((u) => u.user_id === id));
  assert.equal((await d.admin.patchUser(id, { user_type: 'enterprise' })).user_type, 'enterprise');
  assert.equal((await d.admin.getUser(id)).name, 'Ada');
  for (const n of ['one', 'two', 'three']) {
    await d.admin.createPassport({ user_id: id, name: `pp-${n}` });
    await d.admin.createWorkspace({ user_id: id, name: `ws-${n}` });
  }
  await d.admin.deleteUser(id);
  await assert.rejects(d.admin.getUser(id), isApiError(404, 'not_found'));
  // Everything of the user goes with it (adjacent rows too).
  assert.deepEqual(await d.admin.listPassports(id), []);
  assert.deepEqual(await d.admin.listWorkspaces(id), []);
});

test('passports: secret returned once as passport_key and passport, hashed at rest, revocable, expirable', async () => {
  const user = await d.admin.createUser({ email: 'pp@example.com' });
  const p = await d.admin.createPassport({ user_id: user.user_id, name: 'laptop' });
  assert.equal(p.passport_key, p.passport);
  assert.equal(p.name, 'laptop');
  assert.ok(p.passport_key.startsWith(p.key_prefix));
  const listed = await d.admin.listPassports(user.user_id);
  assert.equal(listed.length, 1);
  assert.ok(!JSON.stringify(listed).includes(p.passport_key), 'no secret in lists');
  const store = readFileSync(join(d.home, 'store.json'), 'utf8');
  assert.ok(!store.includes(p.passport_key), 'no clear passport in the store');
  const c = d.publicClient(p.passport_key);
  assert.deepEqual(await c.workspaces(), { workspaces: [] });
  // Authorization: Bearer works as well as X-API-Key
  assert.equal((await raw(`${d.publicUrl}/v1/workspaces`, { headers: { authorization: `Bearer ${p.passport_key}` } })).status, 200);
  await d.admin.revokePassport(p.passport_id);
  await assert.rejects(c.workspaces(), isApiError(401));
  assert.equal((await d.admin.listPassports(user.user_id))[0]!.state, 'revoked');

  const soon = await d.admin.createPassport({ user_id: user.user_id, expires_at: new Date(Date.now() + 1500).toISOString() });
  await d.publicClient(soon.passport_key).workspaces();
  await new Promise((r) => setTimeout(r, 1700));
  await assert.rejects(d.publicClient(soon.passport_key).workspaces(), (e: unknown) => e instanceof OnMemOSApiError && e.status === 401 && /expired/.test(e.message));
  await assert.rejects(d.admin.createPassport({ user_id: user.user_id, expires_at: '2001-01-01T00:00:00Z' }), isApiError(400));
  await assert.rejects(d.admin.createPassport({ user_id: 'user_nope' }), isApiError(404));
});

test('credits: add, balance, history; usage listing', async () => {
  const { user, client } = await newUser(d);
  const start = (await client.credits()).credits;
  const r = await d.admin.addCredits(user.user_id, 25.5, 'test', 'top-up');
  assert.deepEqual(r, { ok: true, user_id: user.user_id, credits: start + 25.5 });
  const h = await client.history();
  assert.equal(h.transactions.at(-1)!.amount, 25.5);
  assert.equal(h.transactions.at(-1)!.balance, start + 25.5);
  assert.equal((await client.summary()).total_added, start + 25.5);
  await assert.rejects(d.admin.addCredits(user.user_id, -5), isApiError(400));
  await assert.rejects(d.admin.addCredits(user.user_id, 0), isApiError(400));
  // Below the ledger's 4 decimals: it would be recorded as 0.
  await assert.rejects(d.admin.addCredits(user.user_id, 0.00001), isApiError(400));
  assert.deepEqual(await d.admin.usage(user.user_id), []);
});

test('admin: ends any user\'s shuttle; an unknown one is 404', async () => {
  const { client, workspace } = await newUser(d);
  const s = await client.createSession({ workspace_id: workspace.workspace_id });
  assert.deepEqual(await d.admin.terminateAnySession(s.id), { deleted: true });
  assert.equal((await client.getSession(s.id)).status, 'terminated');
  assert.deepEqual(await d.admin.terminateAnySession(s.id), { deleted: true }, 'ending an ended one changes nothing');
  await assert.rejects(d.admin.terminateAnySession('shuttle-nope'), isApiError(404));
});

test('credits: a charge beyond the balance is recorded as what was applied; the ledger adds up to the balance', async () => {
  const { user, client } = await newUser(d);
  const start = (await client.credits()).credits;
  assert.deepEqual(await d.admin.deductCredits(user.user_id, start + 5000, 'admin', 'drain'), { ok: true, user_id: user.user_id, credits: 0 });
  await d.admin.addCredits(user.user_id, 10, 'admin', 'top-up');
  const last = (await client.history()).transactions.slice(-2);
  assert.deepEqual(last.map((t) => [t.amount, t.balance]), [[-start, 0], [10, 10]]);
  assert.match(last[0]!.description, new RegExp(`^drain \\(asked -${start + 5000}; the balance stops at 0\\)$`));
  const sum = await client.summary();
  assert.equal(sum.credits, 10);
  assert.equal(sum.total_added - sum.total_charged, sum.credits);
});

test('catalog: product, price, purchase order adds credits', async () => {
  const { user, client } = await newUser(d);
  const before = (await client.credits()).credits;
  const product = await d.admin.createProduct({ name: 'Starter', credits: 50 });
  const price = await d.admin.createPrice({ product_id: product.product_id, amount_cents: 900 });
  const po = await d.admin.createPurchaseOrder(user.user_id, price.price_id);
  assert.equal(po.credits, before + 50);
  assert.ok((await d.admin.purchaseOrders()).some((o) => o.order_id === po.purchase_order.order_id));
  assert.ok((await d.admin.products()).some((p) => p.product_id === product.product_id));
  assert.ok((await d.admin.prices()).some((p) => p.price_id === price.price_id));
  await assert.rejects(d.admin.createPrice({ product_id: 'prod_nope', amount_cents: 1 }), isApiError(400));
});

test('workspaces: created in the wrapper with namespace and identity names; duplicates 409; listed per user', async () => {
  const user = await d.admin.createUser({ email: 'ws@example.com' });
  const w = await d.admin.createWorkspace({ user_id: user.user_id, name: 'Main', workspace_id: 'team-main' });
  assert.equal(w.workspace_id, 'team-main');
  assert.equal(w.k8s_namespace, 'onm-team-main');
  assert.match(w.gsa_email, /^onm-[0-9a-f]{12}@.+\.iam\.gserviceaccount\.com$/);
  assert.equal(w.identity_state, 'ready');
  await assert.rejects(d.admin.createWorkspace({ user_id: user.user_id, name: 'Main' }), isApiError(409));
  await assert.rejects(d.admin.createWorkspace({ user_id: user.user_id, name: 'Other', workspace_id: 'team-main' }), isApiError(409));
  await assert.rejects(d.admin.createWorkspace({ user_id: 'user_nope', name: 'x' }), isApiError(404));
  assert.deepEqual((await d.admin.listWorkspaces(user.user_id)).map((x) => x.workspace_id), ['team-main']);
  const id = await d.admin.ensureIdentity('team-main');
  assert.equal(id.identity.state, 'ready');
  assert.equal((await d.admin.getWorkspace('team-main')).name, 'Main');
  await d.admin.deleteWorkspace('team-main');
  await assert.rejects(d.admin.getWorkspace('team-main'), isApiError(404));
});

test('storage: first vault and drive become defaults; names validated; duplicates 409; patch, defaults, delete', async () => {
  const { workspace, client } = await newUser(d);
  const ws = workspace.workspace_id;
  const v1 = await client.createVault({ workspace_id: ws, name: 'code' });
  assert.deepEqual(
    { type: v1.storage_type, size: v1.size_gb, mount: v1.mount_path, mode: v1.access_mode, auto: v1.auto_mount, def: v1.is_default, bucket: v1.bucket_name },
    { type: 'bucket', size: 10, mount: '/workspace', mode: 'RW', auto: true, def: true, bucket: 'code' });
  const v2 = await client.createVault({ workspace_id: ws, name: 'second', mount_path: '/srv/two' });
  assert.equal(v2.is_default, false);
  const r = await raw(`${d.publicUrl}/v1/storage/filestores`, { method: 'POST', headers: json((client as any).options.apiKey), body: JSON.stringify({ dock_id: ws, name: 'data', size_gb: 20 }) });
  assert.equal(r.status, 201);
  assert.equal(r.json.storage_type, 'filestore');
  assert.equal(r.json.mount_path, '/data');
  assert.equal(r.json.is_default, true);
  const listing = await client.listStorage(ws);
  assert.deepEqual(listing.defaults, { bucket_id: v1.resource_id, filestore_id: r.json.resource_id });
  assert.equal(listing.resources.length, 3);
  await assert.rejects(client.createVault({ workspace_id: ws, name: 'code' }), isApiError(409));
  await assert.rejects(client.createVault({ workspace_id: ws, name: 'Bad_Name' }), isApiError(400));
  await assert.rejects(client.createVault({ workspace_id: ws, name: 'okname', mount_path: '/a/../etc' }), isApiError(400));
  await assert.rejects(client.createVault({ workspace_id: ws, name: 'okname', mount_path: 'relative' }), isApiError(400));
  // Over the local sandbox's own machinery (its storage stage would stay visible): refused.
  await assert.rejects(client.createVault({ workspace_id: ws, name: 'okname', mount_path: '/run/onmemos/stage' }), isApiError(400));
  await assert.rejects(client.patchStorage(v2.resource_id, { mount_path: '/run' }), isApiError(400));
  await assert.rejects(client.createVault({ workspace_id: 'ws-nope', name: 'okname' }), isApiError(404));
  const patched = await client.patchStorage(v2.resource_id, { is_default: true, access_mode: 'RO', mount_path: '/srv/ro' });
  assert.deepEqual([patched.is_default, patched.access_mode, patched.mount_path], [true, 'RO', '/srv/ro']);
  assert.equal((await client.getStorage(v1.resource_id)).is_default, false);
  const defs = await client.setDefaults(ws, { bucket_id: v1.resource_id });
  assert.equal(defs.defaults.bucket_id, v1.resource_id);
  await assert.rejects(client.setDefaults(ws, { bucket_id: r.json.resource_id }), isApiError(409));
  await client.deleteStorage(v1.resource_id);
  assert.equal((await client.listStorage(ws)).defaults.bucket_id, v2.resource_id, 'the remaining vault is promoted to default');
  await assert.rejects(client.getStorage(v1.resource_id), isApiError(404));
});

test('bad input gets a 4xx in the error shape and changes nothing', async () => {
  const { workspace, passport, client } = await newUser(d);
  // Compare everything but passports' last-use times (authenticating a request records them).
  const snapshot = () => readFileSync(join(d.home, 'store.json'), 'utf8').replace(/"last_used_at":("[^"]*"|null)/g, '');
  await client.workspaces();
  const before = snapshot();
  const cases: Array<[string, string, string | Buffer, number]> = [
    ['POST', '/v1/storage/buckets', '{"workspace_id": ', 400],
    ['POST', '/v1/storage/buckets', JSON.stringify({ workspace_id: workspace.workspace_id, name: 123 }), 400],
    ['POST', '/v1/storage/buckets', JSON.stringify({ workspace_id: workspace.workspace_id, name: 'abc', size_gb: -1 }), 400],
    ['POST', '/v1/storage/buckets', JSON.stringify({ workspace_id: workspace.workspace_id, name: 'abc', access_mode: 'rw' }), 400],
    ['POST', '/v1/storage/buckets', JSON.stringify([1, 2]), 400],
    ['POST', '/v1/storage/filestores', JSON.stringify({ workspace_id: workspace.workspace_id, name: 'abc', mount_path: '/data/../../etc' }), 400],
    ['POST', '/v1/sessions', JSON.stringify({ workspace_id: workspace.workspace_id, ttl_minutes: 'ten' }), 400],
    ['POST', '/v1/sessions', JSON.stringify({ workspace_id: workspace.workspace_id, template: 'nope' }), 400],
    ['POST', '/v1/storage/buckets', Buffer.alloc(1024 * 1024 + 10, 'a'), 413],
  ];
  for (const [method, path, body, status] of cases) {
    const r = await raw(d.publicUrl + path, { method, headers: json(passport), body });
    assert.equal(r.status, status, `${method} ${path} ${String(body).slice(0, 60)} → ${r.status} ${r.text.slice(0, 200)}`);
    assert.equal(typeof r.json?.error?.code, 'string');
    assert.equal(typeof r.json?.error?.message, 'string');
  }
  const admin413 = await raw(`${d.adminUrl}/admin/users`, { method: 'POST', headers: json(d.adminKey), body: JSON.stringify({ email: 'x@y.z', name: 'n'.repeat(1024 * 1024) }) });
  assert.equal(admin413.status, 413);
  assert.ok(snapshot() === before, 'bad input changed the store');
  assert.equal((await client.listStorage(workspace.workspace_id)).resources.length, 0);
});

test('unknown routes get a JSON 404 on both listeners', async () => {
  for (const url of [`${d.publicUrl}/v2/nothing`, `${d.adminUrl}/admin/nothing`, `${d.publicUrl}/v1/sessions/x/y/z`]) {
    const r = await raw(url, { headers: { 'x-api-key': d.adminKey } });
    assert.equal(r.status, 404, url);
    assert.equal(r.json.error.code, 'not_found');
    assert.ok(r.headers.get('x-request-id'));
  }
});

test('GET /openapi.json on both listeners documents every route with its schemas', async () => {
  const pub = (await raw(`${d.publicUrl}/openapi.json`)).json;
  assert.equal(pub.openapi, '3.1.0');
  for (const p of ['/v1/sessions', '/v1/sessions/{session_id}/execute', '/v1/storage/buckets', '/v1/storage/workspaces/{workspace_id}/defaults', '/v1/billing/credits', '/v1/templates']) {
    assert.ok(pub.paths[p], `public ${p}`);
  }
  const exec = pub.paths['/v1/sessions/{session_id}/execute'].post;
  assert.deepEqual(exec.parameters.map((x: any) => x.name).sort(), ['async_execution', 'command', 'session_id', 'timeout']);
  assert.equal(pub.paths['/v1/storage/buckets'].post.requestBody.content['application/json'].schema.properties.name.pattern, '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$');
  const admin = (await raw(`${d.adminUrl}/openapi.json`)).json;
  for (const p of ['/admin/users', '/admin/v1/admin/users', '/admin/v1/admin/passports', '/admin/v1/admin/credits/add', '/admin/workspaces/ensure-identity']) {
    assert.ok(admin.paths[p], `admin ${p}`);
  }
  assert.ok(!admin.paths['/v1/sessions'], 'each listener documents its own routes');
});

test('gc is for the gke provider; the local one answers 400 saying why', async () => {
  const r = await raw(`${d.adminUrl}/admin/gc`, { method: 'POST', headers: { 'x-api-key': d.adminKey } });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /reconciles/);
});

test('templates and my workspaces', async () => {
  const { client, workspace } = await newUser(d);
  const t = await client.templates();
  assert.ok(t.templates.some((x) => x.id === 'dev'));
  assert.deepEqual((await client.workspaces()).workspaces.map((w) => w.workspace_id), [workspace.workspace_id]);
});

test('logs carry request ids and never a secret', async () => {
  const { passport } = await newUser(d);
  await raw(`${d.publicUrl}/v1/workspaces?passport=${passport}`, { headers: { 'x-api-key': passport } });
  await new Promise((r) => setTimeout(r, 100));
  const all = d.logs.join('\n');
  assert.ok(all.includes('"req_id"'));
  assert.ok(!all.includes(passport), 'passport in logs');
  assert.ok(!all.includes(d.adminKey), 'admin key in logs');
});
