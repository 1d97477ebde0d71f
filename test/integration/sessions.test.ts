// Shuttles on the local provider, through the real daemon: the seed SDK's flow, execute, storage
// reuse, read-only mounts, TTL, terminate, and the daemon restart reconciliation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, newUser, raw, removeHome, type RunningDaemon } from '../helpers/daemon';
import { OnMemOSApiError } from '../../daemon/client';

let d: RunningDaemon;
before(async () => { d = await startDaemon({ env: { ONMEMOS_SWEEP_MS: '300', ONMEMOS_TEST_MINUTE_MS: '2000' } }); });
after(async () => { assert.equal(await d.stop(), 0, 'clean shutdown (store verified)'); removeHome(d.home); });

const isApiError = (status: number) => (e: unknown) => e instanceof OnMemOSApiError && e.status === status;

test('the seed SDK flow: vault + drive, launch by id, execute by query parameters, terminate, relaunch by name, data persists; another user sees none of it', async () => {
  const { client, passport, workspace } = await newUser(d);
  const ws = workspace.workspace_id;
  const vault = await client.createVault({ workspace_id: ws, name: 'project' });
  const drive = await client.createDrive({ workspace_id: ws, name: 'datasets' });

  const launch = await raw(`${d.publicUrl}/v1/sessions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': passport },
    body: JSON.stringify({ workspace_id: ws, template_id: 'dev', ttl_minutes: 30, vault_id: vault.resource_id, drive_id: drive.resource_id }),
  });
  assert.equal(launch.status, 201, launch.text);
  const s = launch.json.session;
  assert.equal(s.status, 'running');
  assert.equal(s.id, s.session_id);
  assert.equal(s.provider, 'local');
  assert.equal(s.k8s_namespace, workspace.k8s_namespace);
  assert.deepEqual(s.details, { k8s_ns: s.k8s_namespace, pod: s.pod_name });
  assert.equal(s.storage_config.bucket_name, 'project');
  assert.equal(s.storage_config.pvc_name, 'datasets');
  assert.deepEqual(s.storage_config.mounts.map((m: any) => [m.type, m.mount_path, m.access_mode]).sort(), [['bucket', '/workspace', 'RW'], ['filestore', '/data', 'RW']]);

  const exec = await raw(`${d.publicUrl}/v1/sessions/${s.id}/execute?command=${encodeURIComponent('echo hi > /workspace/hello.txt && echo 42 > /data/x && ls -la /workspace/')}&timeout=30&async_execution=false`, {
    method: 'POST', headers: { 'x-api-key': passport },
  });
  assert.equal(exec.status, 200, exec.text);
  assert.equal(exec.json.returncode, 0);
  assert.equal(exec.json.success, true);
  assert.match(exec.json.stdout, /hello\.txt/);
  assert.equal(exec.json.timed_out, false);

  assert.deepEqual(await client.terminateSession(s.id), { deleted: true });
  assert.equal((await client.getSession(s.id)).status, 'terminated');
  await assert.rejects(client.execute(s.id, 'true'), isApiError(409));

  const s2 = await client.createSession({ workspace_id: ws, vault_name: 'project', drive_name: 'datasets' });
  const r2 = await client.executeSeedStyle(s2.id, 'cat /workspace/hello.txt /data/x');
  assert.equal(r2.stdout, 'hi\n42\n');
  await client.terminateSession(s2.id);

  // a second user's passport sees none of it
  const other = await newUser(d);
  assert.deepEqual((await other.client.listSessions()).sessions, []);
  await assert.rejects(other.client.getSession(s.id), isApiError(404));
  await assert.rejects(other.client.execute(s2.id, 'id'), isApiError(404));
  await assert.rejects(other.client.getStorage(vault.resource_id), isApiError(404));
  await assert.rejects(other.client.createSession({ workspace_id: ws }), isApiError(404));
  await assert.rejects(other.client.createSession({ workspace_id: other.workspace.workspace_id, vault_id: vault.resource_id }), isApiError(404));
  assert.equal((await other.client.listStorage()).resources.length, 0);
});

test('execute: stdout, stderr, exit codes, env, timeout, output cap, JSON body form', async () => {
  const { client, workspace } = await newUser(d);
  const s = await client.createSession({ workspace_id: workspace.workspace_id });
  const r = await client.execute(s.id, 'echo out; echo err >&2; exit 3');
  assert.deepEqual([r.stdout, r.stderr, r.returncode, r.exit_code, r.success, r.timed_out], ['out\n', 'err\n', 3, 3, false, false]);
  assert.equal((await client.execute(s.id, 'echo $GREETING', { env: { GREETING: 'hej' } })).stdout, 'hej\n');
  const t0 = Date.now();
  const slow = await client.execute(s.id, 'sleep 31; echo never', { timeout_seconds: 1 });
  assert.equal(slow.timed_out, true);
  assert.equal(slow.success, false);
  assert.ok(Date.now() - t0 < 10_000, 'killed at the timeout');
  assert.equal((await client.execute(s.id, 'pgrep -f "^sleep 31" || echo none')).stdout.trim(), 'none', 'the timed-out tree is gone');
  const big = await client.execute(s.id, 'head -c 3000000 /dev/zero | tr "\\0" a');
  assert.equal(big.truncated, true);
  assert.ok(big.stdout.length <= 1024 * 1024);
  assert.equal((await client.execute(s.id, 'bash -c "exit 0"')).success, true);
  await assert.rejects(client.execute(s.id, ''), isApiError(400));
  const noCmd = await raw(`${d.publicUrl}/v1/sessions/${s.id}/execute`, { method: 'POST', headers: { 'x-api-key': (client as any).options.apiKey } });
  assert.equal(noCmd.status, 400);
  await client.terminateSession(s.id);
});

test('execute is a login shell every time: profile edits apply to the next command, env values are exact, stdin is empty', async () => {
  const { client, workspace } = await newUser(d);
  const s = await client.createSession({ workspace_id: workspace.workspace_id });
  assert.match((await client.execute(s.id, 'shopt -q login_shell && echo login; echo $0')).stdout, /^login\n(\/bin\/)?bash\n$/);
  await client.execute(s.id, 'echo "export FROM_PROFILE=yes" >> ~/.profile');
  for (let i = 0; i < 3; i++) assert.equal((await client.execute(s.id, 'echo ${FROM_PROFILE:-no}')).stdout, 'yes\n', `run ${i}`);
  const tricky = `it's "quoted" $HOME \\ \n ${'é'}`;
  assert.equal((await client.execute(s.id, 'printf %s "$V"', { env: { V: tricky } })).stdout, tricky);
  assert.equal((await client.execute(s.id, 'cat; echo end')).stdout, 'end\n');
  const probe = 'echo "${__onmemos_cmd-unset} ${__onmemos_env-unset}"; echo "$BASH_EXECUTION_STRING"';
  assert.equal((await client.execute(s.id, probe)).stdout, `unset unset\n${probe}\n`, 'no trace of the runner');
  await client.terminateSession(s.id);
});

test('the sandbox: host system read-only, private /tmp, the daemon home hidden, RO mounts refuse writes', async () => {
  const { client, workspace } = await newUser(d);
  const ws = workspace.workspace_id;
  const ro = await client.createVault({ workspace_id: ws, name: 'readonly', access_mode: 'RO', mount_path: '/ref' });
  const s = await client.createSession({ workspace_id: ws, vault_id: ro.resource_id });
  const w = await client.execute(s.id, 'touch /ref/x');
  assert.notEqual(w.returncode, 0);
  assert.match(w.stderr, /Read-only file system/);
  assert.notEqual((await client.execute(s.id, 'touch /usr/onmemos-should-fail')).returncode, 0);
  assert.notEqual((await client.execute(s.id, `cat ${d.home}/admin.key`)).returncode, 0, 'the admin key is not visible');
  assert.equal((await client.execute(s.id, 'echo x > /tmp/private && cat /tmp/private')).stdout, 'x\n');
  await client.terminateSession(s.id);
});

test('deleting storage attached to a live shuttle is 409; request_bucket creates one on demand', async () => {
  const { client, workspace } = await newUser(d);
  const ws = workspace.workspace_id;
  const s = await client.createSession({ workspace_id: ws, request_bucket: true, request_persistent_storage: true });
  assert.equal(s.storage_config.mounts.length, 2);
  const vaultId = s.storage_config.mounts.find((m) => m.type === 'bucket')!.resource_id;
  await assert.rejects(client.deleteStorage(vaultId), isApiError(409));
  await client.terminateSession(s.id);
  await client.deleteStorage(vaultId);
});

test('ttl_minutes really ends a shuttle (a minute is 2 s in this test daemon), and usage is metered', async () => {
  const { client, workspace, user } = await newUser(d);
  const s = await client.createSession({ workspace_id: workspace.workspace_id, ttl_minutes: 1 });
  assert.equal(Date.parse(s.expires_at) - Date.parse(s.created_at), 2000);
  assert.equal((await client.execute(s.id, 'echo alive')).stdout, 'alive\n');
  let status = s.status;
  for (let i = 0; i < 50 && status === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 200));
    status = (await client.getSession(s.id)).status;
  }
  assert.equal(status, 'expired');
  await assert.rejects(client.execute(s.id, 'true'), isApiError(409));
  const usage = await d.admin.usage(user.user_id);
  assert.equal(usage.length, 1);
  assert.equal(usage[0]!.session_id, s.id);
  assert.ok(usage[0]!.seconds >= 1 && usage[0]!.seconds <= 5, `metered ${usage[0]!.seconds} s`);
  assert.ok(usage[0]!.credits_charged > 0);
  assert.ok((await client.history()).transactions.some((t) => t.source === 'usage' && t.amount < 0));
});

test('no credits left: launching and executing are refused with 402', async () => {
  const { client, workspace, user } = await newUser(d);
  const s = await client.createSession({ workspace_id: workspace.workspace_id });
  const { credits } = await client.credits();
  const drained = await d.admin.deductCredits(user.user_id, credits, 'test', 'drain');
  assert.equal(drained.credits, 0);
  await assert.rejects(client.createSession({ workspace_id: workspace.workspace_id }), isApiError(402));
  await assert.rejects(client.execute(s.id, 'true'), isApiError(402));
  await d.admin.addCredits(user.user_id, 5);
  assert.equal((await client.execute(s.id, 'echo ok')).stdout, 'ok\n');
  await client.terminateSession(s.id);
});

test('a user\'s live shuttles are capped (ONMEMOS_MAX_SHUTTLES_PER_USER): the next launch is 429 saying so and creates nothing; concurrent launches cannot pass the cap together; other users are not affected', async () => {
  const capped = await startDaemon({ env: { ONMEMOS_MAX_SHUTTLES_PER_USER: '2' } });
  try {
    const a = await newUser(capped);
    const b = await newUser(capped);
    const ws = a.workspace.workspace_id;
    // Four at once with none live: exactly two start.
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => a.client.createSession({ workspace_id: ws })));
    const started = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ id: string }>).value);
    assert.equal(started.length, 2, JSON.stringify(results.map((r) => r.status)));
    for (const r of results) if (r.status === 'rejected') assert.ok(isApiError(429)(r.reason), String(r.reason));
    // The refusal says what to do, in the error shape, and creates nothing (not even the vault it asked for).
    const vaultsBefore = (await a.client.listStorage(ws)).resources.length;
    const refused = await raw(`${capped.publicUrl}/v1/sessions`, { method: 'POST', headers: { 'x-api-key': a.passport, 'content-type': 'application/json' }, body: JSON.stringify({ workspace_id: ws, request_bucket: true }) });
    assert.equal(refused.status, 429);
    assert.equal(refused.json.error.code, 'too_many_requests');
    assert.match(refused.json.error.message, /2 live shuttles.*terminate one/);
    assert.deepEqual(refused.json.error.details, { limit: 2, live: 2 });
    assert.equal((await a.client.listStorage(ws)).resources.length, vaultsBefore);
    assert.equal((await a.client.listSessions()).sessions.filter((s) => s.status === 'running').length, 2);
    // Another user has a cap of their own.
    const other = await b.client.createSession({ workspace_id: b.workspace.workspace_id });
    assert.equal(other.status, 'running');
    // Ending one frees a place.
    await a.client.terminateSession(started[0]!.id);
    const next = await a.client.createSession({ workspace_id: ws });
    assert.equal(next.status, 'running');
    for (const id of [started[1]!.id, next.id]) await a.client.terminateSession(id);
    await b.client.terminateSession(other.id);
  } finally {
    await capped.stop();
    removeHome(capped.home);
  }
});

test('a command running when its shuttle is terminated answers 409 saying so (not a 502 about a lost agent); the terminate answers 200', async () => {
  const { client, workspace } = await newUser(d);
  const s = await client.createSession({ workspace_id: workspace.workspace_id });
  const running = client.execute(s.id, 'sleep 5; echo never', { timeout_seconds: 20 });
  running.catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300));
  await client.terminateSession(s.id);
  await assert.rejects(running, (e: unknown) => e instanceof OnMemOSApiError && e.status === 409 && /was terminated while the command ran/.test(e.message));
  await assert.rejects(client.execute(s.id, 'true'), isApiError(409));
});
