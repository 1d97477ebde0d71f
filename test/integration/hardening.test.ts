// Hardening, against the real daemon: CORS stays closed, the WebSocket Origin is checked, the admin
// listener binds loopback unless told otherwise, no secret reaches any log line or file of a full
// run, and hostile-but-valid names and paths never reach a shell unquoted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, newUser, raw, removeHome, tempHome, type RunningDaemon } from '../helpers/daemon';
import { openWs, refusal } from '../helpers/ws';
import { PTY_SUBPROTOCOL } from '../../daemon/client';
import { TokenService } from '../../daemon/auth/tokens';
import { loadTokenSecret } from '../../daemon/auth/keys';

const wsBase = (d: RunningDaemon) => d.publicUrl.replace(/^http/, 'ws');
const hostOf = (url: string) => new URL(url).hostname;
const portOf = (url: string) => Number(new URL(url).port);

/** Every operation of a listener's OpenAPI document, path parameters filled with `id`. */
async function operations(base: string, id: string) {
  const spec = (await raw(`${base}/openapi.json`)).json;
  return Object.entries<Record<string, unknown>>(spec.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path: path.replace(/\{[^}]+\}/g, id) })));
}

function corsHeaders(h: Headers): string[] {
  const out: string[] = [];
  h.forEach((_v, k) => { if (k.toLowerCase().startsWith('access-control-')) out.push(k); });
  return out;
}

function tcpConnects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 2000 }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
    s.on('timeout', () => { s.destroy(); resolve(false); });
  });
}

test('CORS is closed: no Access-Control-* header on any operation of either listener, preflights are not answered', async () => {
  const d = await startDaemon();
  try {
    const { passport, workspace } = await newUser(d);
    const origin = 'https://evil.example';
    const listeners = [
      { base: d.adminUrl, key: d.adminKey, ops: await operations(d.adminUrl, workspace.workspace_id) },
      { base: d.publicUrl, key: passport, ops: await operations(d.publicUrl, workspace.workspace_id) },
    ];
    let checked = 0;
    for (const { base, key, ops } of listeners) {
      assert.ok(ops.length > 10, 'the documents list the operations');
      for (const { method, path } of ops) {
        const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
        // never DELETE the fixtures: a bogus id gives the same route and the same headers
        const p = method === 'DELETE' ? path.replace(workspace.workspace_id, 'nope') : path;
        const r = await fetch(base + p, { method, headers: { origin, 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) }, body });
        await r.arrayBuffer();
        const cors = corsHeaders(r.headers);
        assert.deepEqual(cors, [], `${method} ${p} answered ${r.status} with ${cors.join(', ')}`);
        const pre = await fetch(base + p, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'x-api-key, content-type' },
        });
        const preBody = await pre.json() as { error?: { code?: string } };
        assert.deepEqual(corsHeaders(pre.headers), [], `OPTIONS ${p}`);
        assert.equal(pre.status, 404, `OPTIONS ${p} is not a route`);
        assert.equal(preBody.error?.code, 'not_found');
        checked++;
      }
    }
    assert.ok(checked > 40, `checked ${checked} operations`);
  } finally {
    await d.stop();
    removeHome(d.home);
  }
});

test('WebSocket Origin: a foreign or opaque origin is refused 403 before any credential is looked at; no Origin, the daemon\'s own and ONMEMOS_ALLOWED_ORIGINS pass', async () => {
  const d = await startDaemon({ env: { ONMEMOS_ALLOWED_ORIGINS: 'vscode-webview://onmemos-panel' } });
  try {
    const u = await newUser(d);
    const s = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
    const url = `${wsBase(d)}/v1/sessions/${s.id}/shell?passport=${u.passport}`;
    for (const origin of ['https://evil.example', 'null', `http://evil.example:${portOf(d.publicUrl)}`, 'http://localhost.evil.example']) {
      assert.equal(await refusal(url, { headers: { origin } }), 403, origin);
    }
    // refused for the Origin even without credentials: nothing else is evaluated
    assert.equal(await refusal(`${wsBase(d)}/v1/sessions/${s.id}/shell`, { headers: { origin: 'https://evil.example' } }), 403);
    assert.equal(await refusal(url), 101, 'no Origin: a non-browser client');
    assert.equal(await refusal(url, { headers: { origin: `http://${new URL(d.publicUrl).host}` } }), 101, 'same origin');
    assert.equal(await refusal(url, { headers: { origin: 'vscode-webview://onmemos-panel' } }), 101, 'configured origin');
    await u.client.terminateSession(s.id);
  } finally {
    await d.stop();
    removeHome(d.home);
  }
});

test('admin listener binds loopback unless configured: --host 0.0.0.0 opens only the public one; --admin-host / ONMEMOS_ADMIN_HOST open it', async () => {
  const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  const d = await startDaemon({ args: ['--host', '0.0.0.0'] });
  try {
    assert.equal(hostOf(d.adminUrl), '127.0.0.1');
    assert.equal(hostOf(d.publicUrl), '0.0.0.0');
    if (external) {
      assert.equal(await tcpConnects(external, portOf(d.adminUrl)), false, `admin port reachable on ${external}`);
      assert.equal(await tcpConnects(external, portOf(d.publicUrl)), true, `public port not reachable on ${external}`);
    }
  } finally {
    await d.stop();
    removeHome(d.home);
  }
  for (const opts of [{ args: ['--admin-host', '0.0.0.0'] }, { env: { ONMEMOS_ADMIN_HOST: '0.0.0.0' } }]) {
    const e = await startDaemon(opts);
    try {
      assert.equal(hostOf(e.adminUrl), '0.0.0.0', JSON.stringify(opts));
      assert.equal(hostOf(e.publicUrl), '127.0.0.1', 'the public listener keeps its own default');
      if (external) assert.equal(await tcpConnects(external, portOf(e.adminUrl)), true);
      assert.equal((await raw(`http://127.0.0.1:${portOf(e.adminUrl)}/admin/health`)).status, 200);
    } finally {
      await e.stop();
      removeHome(e.home);
    }
  }
});

/** Every text file under `dir` (the daemon's home) except the ones named. */
function homeFiles(dir: string, except: Set<string>): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  const walk = (p: string) => {
    let st;
    try { st = statSync(p); } catch { return; }
    if (st.isDirectory()) { try { for (const e of readdirSync(p)) walk(join(p, e)); } catch { /* unreadable */ } return; }
    if (!st.isFile() || except.has(p) || st.size > 50 * 1024 * 1024) return;
    try { out.push({ path: p, text: readFileSync(p, 'latin1') }); } catch { /* socket, gone */ }
  };
  walk(dir);
  return out;
}

test('a full run at debug level leaves no admin key, passport or token in any log line or file of the home', async () => {
  const d = await startDaemon({ env: { ONMEMOS_LOG_LEVEL: 'debug', ONMEMOS_AUTH_FAILURES_PER_MINUTE: '1000' } });
  const secrets: Array<{ what: string; value: string }> = [{ what: 'admin key', value: d.adminKey }];
  const json = (key: string) => ({ 'content-type': 'application/json', 'x-api-key': key });
  let stdout = '';
  d.proc.stdout!.on('data', (c) => { stdout += c; });
  try {
    // admin: users, passports (one expiring), credits, workspaces, identity
    const a = await newUser(d, 'alice@example.com');
    const b = await newUser(d, 'bob@example.com');
    secrets.push({ what: 'alice passport', value: a.passport }, { what: 'bob passport', value: b.passport });
    const spare = await d.admin.createPassport({ user_id: a.user.user_id, name: 'spare', expires_at: new Date(Date.now() + 1000).toISOString() });
    secrets.push({ what: 'expiring passport', value: spare.passport_key });
    await d.admin.addCredits(a.user.user_id, 50, 'test', 'top-up');
    await d.admin.listPassports(a.user.user_id);
    await d.admin.ensureIdentity(a.workspace.workspace_id);
    await d.admin.listUsers();

    // storage
    const vault = await a.client.createVault({ workspace_id: a.workspace.workspace_id, name: 'secret-vault' });
    const drive = await a.client.createDrive({ workspace_id: a.workspace.workspace_id, name: 'secret-drive' });
    await a.client.patchStorage(vault.resource_id, { auto_mount: true });
    await a.client.setDefaults(a.workspace.workspace_id, { bucket_id: vault.resource_id });
    await a.client.listStorage(a.workspace.workspace_id);

    // sessions, execute (body, query, async), ws-token, connect, shells
    const s = await a.client.createSession({ workspace_id: a.workspace.workspace_id, vault_id: vault.resource_id, drive_id: drive.resource_id });
    assert.equal((await a.client.execute(s.id, 'echo body-form')).stdout, 'body-form\n');
    assert.equal((await a.client.executeSeedStyle(s.id, 'echo query-form')).stdout, 'query-form\n');
    const job = await raw(`${d.publicUrl}/v1/sessions/${s.id}/execute?command=true&async_execution=true`, { method: 'POST', headers: { 'x-api-key': a.passport } });
    assert.equal(job.status, 202);
    await a.client.connect(s.id);
    const tok1 = (await a.client.wsToken(s.id)).token;
    const tok2 = (await a.client.wsToken(s.id)).token;
    const tok3 = (await a.client.wsToken(s.id)).token;
    secrets.push({ what: 'ws token 1', value: tok1 }, { what: 'ws token 2', value: tok2 }, { what: 'ws token 3', value: tok3 });

    const line = await openWs(`${wsBase(d)}/v1/gke/shell/${s.id}?k8s_ns=${s.k8s_namespace}&pod=${s.pod_name}&passport=${a.passport}`);
    await line.waitFor(() => line.messages.some((m) => m.type === 'prompt'), 'prompt');
    line.send(JSON.stringify({ type: 'command', command: 'echo line-ok' }));
    await line.waitFor(() => line.messages.some((m) => m.type === 'output' && String(m.content).includes('line-ok')), 'line output');
    line.ws.close();
    const pty = await openWs(`${wsBase(d)}/v1/sessions/${s.id}/shell?token=${tok1}`, { protocols: [PTY_SUBPROTOCOL] });
    await pty.waitFor(() => pty.messages.some((m) => m.type === 'hello'), 'hello');
    pty.send(Buffer.from('echo pty-ok\r'));
    await pty.waitForOutput('pty-ok\r\n');
    const shellId = pty.messages.find((m) => m.type === 'hello').shell_id;
    pty.ws.close();
    await a.client.shells(s.id);
    const re = await openWs(`${wsBase(d)}/v1/sessions/${s.id}/shell?mode=pty&attach=${shellId}`, { headers: { authorization: `Bearer ${tok2}` } });
    await re.waitForOutput('pty-ok');
    re.send(Buffer.from('exit\r'));
    await re.closed;
    assert.equal(await refusal(`${wsBase(d)}/v1/sessions/${s.id}/shell`, { headers: { 'x-api-key': a.passport } }), 101);

    // failures, each carrying a secret where a careless log would print it
    assert.equal((await raw(`${d.adminUrl}/admin/users`, { headers: { 'x-api-key': d.adminKey + 'x' } })).status, 401);
    assert.equal((await raw(`${d.adminUrl}/admin/users`, { headers: { 'x-api-key': a.passport } })).status, 401, 'passport on admin');
    assert.equal((await raw(`${d.publicUrl}/v1/sessions`, { headers: { 'x-api-key': d.adminKey } })).status, 401, 'admin key on public');
    assert.equal((await raw(`${d.publicUrl}/v1/sessions`, { headers: { authorization: `Bearer ${tok3}` } })).status, 401, 'ws token as a passport');
    assert.equal((await raw(`${d.publicUrl}/v1/sessions/${s.id}`, { headers: { 'x-api-key': b.passport } })).status, 404, 'another user');
    assert.equal((await raw(`${d.publicUrl}/v1/sessions?passport=${a.passport}&token=${tok3}&api_key=${d.adminKey}`)).status, 401, 'secrets in a query string');
    assert.equal((await raw(`${d.publicUrl}/v1/sessions`, { method: 'POST', headers: json(a.passport), body: '{"workspace_id": ' })).status, 400);
    assert.equal((await raw(`${d.publicUrl}/v1/sessions/${s.id}/execute?command=x&timeout=99999`, { method: 'POST', headers: json(a.passport) })).status, 400);
    assert.equal(await refusal(`${wsBase(d)}/v1/sessions/${s.id}/shell?passport=${b.passport}`), 404);
    assert.equal(await refusal(`${wsBase(d)}/v1/sessions/${s.id}/shell?token=${tok3}x`), 401);
    assert.equal(await refusal(`${wsBase(d)}/v1/sessions/${s.id}/shell?passport=${a.passport}`, { headers: { origin: 'https://evil.example' } }), 403);
    const expired = (await new TokenService(loadTokenSecret(d.home)).issue({ user_id: a.user.user_id, session_id: s.id }, -10)).token;
    secrets.push({ what: 'expired token', value: expired });
    assert.equal(await refusal(`${wsBase(d)}/v1/sessions/${s.id}/shell?token=${expired}`), 401);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await raw(`${d.publicUrl}/v1/workspaces`, { headers: { 'x-api-key': spare.passport_key } })).status, 401, 'expired passport');

    // teardown through the API, including a revoked passport's refusal
    await a.client.terminateSession(s.id);
    await a.client.deleteStorage(drive.resource_id);
    const bp = (await d.admin.listPassports(b.user.user_id))[0]!;
    await d.admin.revokePassport(bp.passport_id);
    assert.equal((await raw(`${d.publicUrl}/v1/workspaces`, { headers: { 'x-api-key': b.passport } })).status, 401, 'revoked passport');
    await d.admin.deleteWorkspace(b.workspace.workspace_id);
    await d.admin.deleteUser(b.user.user_id);
  } finally {
    assert.equal(await d.stop(), 0);
  }
  try {
    const logs = [...d.logs, ...stdout.split('\n')];
    // the logs are the run's: every kind of event is there (else the grep below proves nothing)
    const text = logs.join('\n');
    for (const needle of ['"msg":"request"', '"msg":"shell opened"', '"status":401', '"status":404', '"status":202', '/v1/sessions']) {
      assert.ok(text.includes(needle), `the log has ${needle}`);
    }
    assert.ok(logs.length > 40, `${logs.length} log lines`);
    const files = homeFiles(d.home, new Set([join(d.home, 'admin.key')]));
    assert.ok(files.some((f) => f.path.endsWith('store.json')), 'the store is among the files checked');
    for (const { what, value } of secrets) {
      // the whole secret, and its tail (a prefix is shown on purpose: key_prefix)
      for (const needle of [value, value.slice(-16)]) {
        const line = logs.find((l) => l.includes(needle));
        assert.equal(line, undefined, `${what} in a log line: ${line}`);
        const file = files.find((f) => f.text.includes(needle));
        assert.equal(file?.path, undefined, `${what} in a file of the home`);
      }
    }
  } finally {
    removeHome(d.home);
  }
});

test('hostile-but-valid paths and values never reach a shell unquoted: a home with quotes, spaces, $() and backticks; mount paths with - and .; env values with shell syntax', async () => {
  for (const sandbox of ['bwrap', 'unshare']) {
    // Unix socket paths under the home cap its length (~60 characters here), so the marker is short.
    const parent = tempHome('oh-');
    const marker = '/tmp/.onm-pw';
    rmSync(marker, { force: true });
    const home = join(parent, `q'"$(touch ${marker});\`:\` &*~#`);
    mkdirSync(home, { recursive: true });
    let d: RunningDaemon | undefined;
    try {
      d = await startDaemon({ home, env: { ONMEMOS_SANDBOX: sandbox } });
      const u = await newUser(d);
      const ws = u.workspace.workspace_id;
      const vault = await u.client.createVault({ workspace_id: ws, name: 'a--b-0', mount_path: '/-rf/..x/.hidden_dir-' });
      const drive = await u.client.createDrive({ workspace_id: ws, name: 'x-1', mount_path: '/--help/a.b', access_mode: 'RO' });
      const env = { EVIL: `$(touch ${marker}) \`touch ${marker}\` '"; touch ${marker}`, IFS_LIKE: ' \t\n*' };
      const s = await u.client.createSession({ workspace_id: ws, vault_id: vault.resource_id, drive_id: drive.resource_id, env });
      const r = await u.client.execute(s.id, 'printf %s "$EVIL"; echo; echo hi > "/-rf/..x/.hidden_dir-/f" && cat "/-rf/..x/.hidden_dir-/f"; touch /--help/a.b/ro 2>/dev/null && echo writable || echo read-only');
      assert.equal(r.returncode, 0, r.stderr);
      assert.equal(r.stdout, `${env.EVIL}\nhi\nread-only\n`);
      // the vault's data landed in the vault's directory under the hostile home, nowhere else
      assert.ok(homeFiles(home, new Set()).some((f) => f.path.endsWith('/f') && f.text === 'hi\n'), 'vault file under the home');
      const line = await openWs(`${wsBase(d)}/v1/sessions/${s.id}/shell?passport=${u.passport}`);
      await line.waitFor(() => line.messages.some((m) => m.type === 'prompt'), 'prompt');
      line.send(JSON.stringify({ type: 'command', command: 'printf %s "$EVIL" | wc -c' }));
      await line.waitFor(() => line.messages.some((m) => m.type === 'output' && String(m.content).trim() === String(Buffer.byteLength(env.EVIL))), 'env in a shell');
      line.ws.close();
      await u.client.terminateSession(s.id);
      assert.equal(existsSync(marker), false, `${sandbox}: something ran a hostile name through a shell`);
    } catch (e) {
      if (sandbox === 'unshare' && process.env.CI !== 'true' && /503|provider_unavailable|cannot create a sandbox/.test(String((e as Error).message))) {
        console.log(`# hostile paths: unshare sandbox unavailable here: ${(e as Error).message.slice(0, 200)}`);
        continue;
      }
      throw e;
    } finally {
      if (d) await d.stop();
      removeHome(home); // ends its shuttles if the test failed before terminating them
      removeHome(parent);
    }
  }
});
