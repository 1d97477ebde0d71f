// Regression tests for what schemathesis (test/fuzz/run.mjs) found against the real daemon. Each
// test names the failure the fuzzer reported and asserts the documented behaviour.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { startDaemon, newUser, raw, removeHome, type RunningDaemon } from '../helpers/daemon';

let d: RunningDaemon;
before(async () => { d = await startDaemon(); });
after(async () => { assert.equal(await d.stop(), 0, 'SIGTERM exits 0'); removeHome(d.home); });

const UUID = /^[0-9a-f-]{36}$/;
function assertErrorShape(r: { status: number; json: any; headers: Headers }, status: number, code: string) {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(r.json?.error?.code, code, JSON.stringify(r.json));
  assert.equal(typeof r.json.error.message, 'string');
  assert.match(r.json.error.request_id, UUID);
  assert.equal(r.headers.get('x-request-id'), r.json.error.request_id);
  assert.deepEqual(Object.keys(r.json), ['error'], 'nothing but the error object');
}

/** One raw HTTP/1.1 exchange: for request heads fetch() would refuse to send. */
function rawHttp(url: string, head: string): Promise<{ status: number; headers: Headers; json: any }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname, () => sock.end(head));
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (c) => { data += c; });
    sock.on('error', reject);
    sock.on('close', () => {
      const [headText = '', body = ''] = data.split('\r\n\r\n');
      const [statusLine = '', ...lines] = headText.split('\r\n');
      const headers = new Headers(lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as [string, string]));
      let json: any;
      try { json = JSON.parse(body); } catch { json = undefined; }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, json });
    });
  });
}

test('fuzz: a path parameter longer than the router takes is 400 in the error shape (was 414 in Fastify\'s own shape, no request id)', async () => {
  const { passport } = await newUser(d);
  const long = 'a'.repeat(300);
  assertErrorShape(await raw(`${d.publicUrl}/v1/storage/${long}`, { method: 'DELETE', headers: { 'x-api-key': passport } }), 400, 'invalid_request');
  assertErrorShape(await raw(`${d.publicUrl}/v1/sessions/${long}/connect`, { headers: { 'x-api-key': passport } }), 400, 'invalid_request');
  assertErrorShape(await raw(`${d.adminUrl}/admin/users/${long}`, { headers: { 'x-api-key': d.adminKey } }), 400, 'invalid_request');
  // 129-200 characters reach the route and its schema: the same answer.
  assertErrorShape(await raw(`${d.publicUrl}/v1/sessions/${'a'.repeat(150)}`, { headers: { 'x-api-key': passport } }), 400, 'invalid_request');
  // the request is logged with its id like every other
  const r = await raw(`${d.publicUrl}/v1/sessions/${long}`, { headers: { 'x-api-key': passport } });
  await new Promise((res) => setTimeout(res, 100));
  assert.ok(d.logs.some((l) => l.includes(r.json.error.request_id) && l.includes('"status":400')), 'a log line with the request id');
});

test('fuzz: a path with bad percent-encoding is 400 in the error shape', async () => {
  const { passport } = await newUser(d);
  assertErrorShape(await raw(`${d.publicUrl}/v1/sessions/%E0%A4%A`, { headers: { 'x-api-key': passport } }), 400, 'invalid_request');
  assertErrorShape(await raw(`${d.adminUrl}/admin/workspaces/%zz`, { headers: { 'x-api-key': d.adminKey } }), 400, 'invalid_request');
});

test('fuzz: a 40 KB command in the query string (the seed SDK form) runs (was 431 from Node\'s 16 KiB header limit); an oversize head is 431 in the error shape', async () => {
  const { client, passport, workspace } = await newUser(d);
  const s = await client.createSession({ workspace_id: workspace.workspace_id });
  try {
    const word = 'x'.repeat(40_000);
    const r = await raw(`${d.publicUrl}/v1/sessions/${s.id}/execute?command=${encodeURIComponent(`echo ${word} | wc -c`)}&timeout=30`, {
      method: 'POST', headers: { 'x-api-key': passport },
    });
    assert.equal(r.status, 200, r.text.slice(0, 500));
    assert.equal(r.json.stdout.trim(), '40001');

    const huge = await rawHttp(d.publicUrl, `POST /v1/sessions/${s.id}/execute?command=${'a'.repeat(1_100_000)} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${passport}\r\n\r\n`);
    assertErrorShape(huge, 431, 'headers_too_large');
  } finally {
    await client.terminateSession(s.id);
  }
});

test('fuzz: asynchronous execution answers only the documented job fields (user_id leaked into 202 and job responses)', async () => {
  const { client, passport, workspace } = await newUser(d);
  const s = await client.createSession({ workspace_id: workspace.workspace_id });
  try {
    const spec = (await raw(`${d.publicUrl}/openapi.json`)).json;
    const documented = (status: string, path: string, method: string) =>
      Object.keys(spec.paths[path][method].responses[status].content['application/json'].schema.properties).sort();

    const started = await raw(`${d.publicUrl}/v1/sessions/${s.id}/execute?command=${encodeURIComponent('echo hi')}&async_execution=true`, {
      method: 'POST', headers: { 'x-api-key': passport },
    });
    assert.equal(started.status, 202, started.text);
    assert.deepEqual(Object.keys(started.json).sort(), documented('202', '/v1/sessions/{session_id}/execute', 'post'));
    assert.ok(!('user_id' in started.json));

    let job: any;
    for (let i = 0; i < 100; i++) {
      job = (await raw(`${d.publicUrl}/v1/sessions/${s.id}/jobs/${started.json.job_id}`, { headers: { 'x-api-key': passport } })).json;
      if (job.status !== 'running') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(job.status, 'succeeded');
    assert.equal(job.result.stdout, 'hi\n');
    assert.deepEqual(Object.keys(job).sort(), documented('200', '/v1/sessions/{session_id}/jobs/{job_id}', 'get'));
  } finally {
    await client.terminateSession(s.id);
  }
});

test('fuzz: the OpenAPI document states what the refinements require (generated bodies were mostly rejected)', async () => {
  const spec = (await raw(`${d.publicUrl}/openapi.json`)).json;
  const body = (path: string) => spec.paths[path].post.requestBody.content['application/json'].schema;
  for (const path of ['/v1/storage/buckets', '/v1/storage/filestores', '/v1/sessions']) {
    assert.deepEqual(body(path).anyOf, [{ required: ['workspace_id'] }, { required: ['dock_id'] }], path);
  }
  const mount = body('/v1/storage/buckets').properties.mount_path;
  assert.equal(mount.maxLength, 255);
  const re = new RegExp(mount.pattern);
  assert.ok(re.test('/workspace/a_b-1.x') && !re.test('relative') && !re.test('/with space'));
  // every operation documents the 431 the HTTP parser can answer
  for (const [path, ops] of Object.entries<any>(spec.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      if (path !== '/openapi.json') assert.ok(op.responses['431'], `${method} ${path} documents 431`);
    }
  }
});

test('fuzz: an email with more than 64 characters before the @ is refused 400 (was accepted: 201)', async () => {
  const local = 'a'.repeat(65);
  const r = await raw(`${d.adminUrl}/admin/users`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': d.adminKey }, body: JSON.stringify({ email: `${local}@example.com` }) });
  assertErrorShape(r, 400, 'invalid_request');
  assert.ok(!(await d.admin.listUsers()).some((u) => u.email.startsWith(local)), 'nothing was created');
  const ok = await raw(`${d.adminUrl}/admin/users`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': d.adminKey }, body: JSON.stringify({ email: `${'a'.repeat(64)}@example.com` }) });
  assert.equal(ok.status, 201, ok.text);
});

test('fuzz: the OpenAPI document says async_execution is a boolean (it promised any string) and PATCH bodies need a field', async () => {
  const pub = (await raw(`${d.publicUrl}/openapi.json`)).json;
  const exec = pub.paths['/v1/sessions/{session_id}/execute'].post.parameters.find((p: any) => p.name === 'async_execution');
  assert.deepEqual(exec.schema, { type: 'boolean' });
  const { passport } = await newUser(d);
  for (const bad of ['', 'x']) {
    const r = await raw(`${d.publicUrl}/v1/sessions/nope/execute?command=true&async_execution=${bad}`, { method: 'POST', headers: { 'x-api-key': passport } });
    assertErrorShape(r, 400, 'invalid_request');
  }
  const patchStorage = pub.paths['/v1/storage/{resource_id}'].patch.requestBody.content['application/json'].schema;
  assert.deepEqual(patchStorage.anyOf.map((a: any) => a.required[0]).sort(), ['access_mode', 'auto_mount', 'is_default', 'mount_path']);
  const admin = (await raw(`${d.adminUrl}/openapi.json`)).json;
  const patchUser = admin.paths['/admin/users/{user_id}'].patch.requestBody.content['application/json'].schema;
  assert.deepEqual(patchUser.anyOf, [{ required: ['name'] }, { required: ['user_type'] }]);
});

/** Pids of this daemon's idle warm-pool supervisors (their command line names the home and a pool id). */
function poolMembers(home: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      return argv.includes('--pool-id') && argv[argv.indexOf('--home') + 1] === home ? [Number(p)] : [];
    } catch { return []; }
  });
}

test('fuzz: a launch after the warm pool\'s members died still starts a shuttle (was 503 "supervisor ... is gone: ECONNREFUSED")', async () => {
  const e = await startDaemon();
  try {
    const { client, workspace } = await newUser(e);
    await client.terminateSession((await client.createSession({ workspace_id: workspace.workspace_id })).id);
    let members: number[] = [];
    for (let i = 0; i < 200 && members.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      members = poolMembers(e.home);
    }
    assert.ok(members.length >= 1, 'the pool refilled');
    for (const pid of members) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const s = await client.createSession({ workspace_id: workspace.workspace_id });
    assert.equal(s.status, 'running');
    assert.equal((await client.execute(s.id, 'echo alive')).stdout, 'alive\n');
    await client.terminateSession(s.id);
  } finally {
    assert.equal(await e.stop(), 0);
    removeHome(e.home);
  }
});

test('fuzz: a name longer than its documented maxLength is 400 even when trimming would fit it (was accepted: trim ran before the length check)', async () => {
  const u = await d.admin.createUser({ email: 'trim-max@example.com' });
  const name = `\re${'*'.repeat(199)}`; // 201 characters; 200 once trimmed
  const h = { 'x-api-key': d.adminKey, 'content-type': 'application/json' };
  assertErrorShape(await raw(`${d.adminUrl}/admin/users/${u.user_id}`, { method: 'PATCH', headers: h, body: JSON.stringify({ name }) }), 400, 'invalid_request');
  assertErrorShape(await raw(`${d.adminUrl}/admin/products`, { method: 'POST', headers: h, body: JSON.stringify({ name: ` ${'p'.repeat(100)}`, credits: 1 }) }), 400, 'invalid_request');
  assert.equal((await d.admin.getUser(u.user_id)).name, u.name, 'nothing changed');
  // Surrounding whitespace within the limit is still trimmed away.
  const ok = await raw(`${d.adminUrl}/admin/users/${u.user_id}`, { method: 'PATCH', headers: h, body: JSON.stringify({ name: '  Ada  ' }) });
  assert.equal(ok.status, 200);
  assert.equal(ok.json.user.name, 'Ada');
});

test('fuzz: a NUL in a command or env value is 400 saying so, by query, body, launch env and the shell\'s line protocol (was 500: "args[1] must be a string without null bytes")', async () => {
  const { client, passport, workspace } = await newUser(d);
  const s = await client.createSession({ workspace_id: workspace.workspace_id });
  const headers = { 'x-api-key': passport, 'content-type': 'application/json' };
  try {
    const byQuery = await raw(`${d.publicUrl}/v1/sessions/${s.id}/execute?command=${encodeURIComponent('echo a\0b')}`, { method: 'POST', headers: { 'x-api-key': passport } });
    assertErrorShape(byQuery, 400, 'invalid_request');
    assert.match(byQuery.json.error.message, /NUL/);
    const byBody = await raw(`${d.publicUrl}/v1/sessions/${s.id}/execute`, { method: 'POST', headers, body: JSON.stringify({ command: 'echo a\u0000b' }) });
    assertErrorShape(byBody, 400, 'invalid_request');
    const envValue = await raw(`${d.publicUrl}/v1/sessions/${s.id}/execute`, { method: 'POST', headers, body: JSON.stringify({ command: 'echo $X', env: { X: 'a\u0000b' } }) });
    assertErrorShape(envValue, 400, 'invalid_request');
    const launch = await raw(`${d.publicUrl}/v1/sessions`, { method: 'POST', headers, body: JSON.stringify({ workspace_id: workspace.workspace_id, env: { X: 'a\u0000b' } }) });
    assertErrorShape(launch, 400, 'invalid_request');
    // The OpenAPI document says so (the fuzzer then generates commands that can run).
    const spec = (await raw(`${d.publicUrl}/openapi.json`)).json;
    const body = spec.paths['/v1/sessions/{session_id}/execute'].post.requestBody.content['application/json'].schema;
    const command = body.properties?.command ?? body.anyOf?.find((x: any) => x.properties)?.properties.command;
    assert.ok(command.pattern && !new RegExp(command.pattern).test('a\0b') && new RegExp(command.pattern).test('ls -la'), JSON.stringify(command));
    // The line protocol goes around the schemas: an error message, and the shell stays usable.
    const { openWs } = await import('../helpers/ws');
    const sh = await openWs(`${d.publicUrl.replace(/^http/, 'ws')}/v1/sessions/${s.id}/shell?passport=${passport}`);
    sh.send(JSON.stringify({ type: 'command', command: 'echo a\u0000b' }));
    sh.send(JSON.stringify({ type: 'command', command: 'echo fine' }));
    await sh.waitFor(() => sh.messages.some((m) => m.type === 'output' && m.content === 'fine\n'), 'the next command');
    const error = sh.messages.find((m) => m.type === 'error');
    assert.match(error?.content ?? '', /NUL/);
    sh.ws.close();
    assert.equal((await client.execute(s.id, 'echo ok')).stdout, 'ok\n');
  } finally {
    await client.terminateSession(s.id);
  }
});
