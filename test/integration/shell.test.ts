// Session shells over real WebSockets: the onmemos.pty.v1 terminal and the seed's line protocol,
// every handshake refusal, UTF-8 across frames, reattach with scrollback, and shells that outlive
// a daemon killed with SIGKILL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { startDaemon, newUser, removeHome, type RunningDaemon } from '../helpers/daemon';
import { openWs, refusal } from '../helpers/ws';
import { TokenService } from '../../daemon/auth/tokens';
import { loadTokenSecret } from '../../daemon/auth/keys';
import { OnMemOSClient, PTY_SUBPROTOCOL } from '../../daemon/client';

let d: RunningDaemon;
before(async () => { d = await startDaemon(); });
after(async () => { assert.equal(await d.stop(), 0, 'clean shutdown (store verified)'); removeHome(d.home); });

const wsBase = (on = d) => on.publicUrl.replace(/^http/, 'ws');

/** A new user's shuttle on `on` (the file's daemon unless a test starts its own). */
async function shuttle(on = d) {
  const u = await newUser(on);
  const s = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
  return { ...u, s };
}

/** A WebSocket handshake request for `path`, written by hand (for what a WebSocket client would not send). */
const upgradeRequest = (path: string, version = 13) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n`
  + `Sec-WebSocket-Version: ${version}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

test('pty: hello, a real tty, resize then stty size, exit code', async () => {
  const { s, passport } = await shuttle();
  const sh = await openWs(`${wsBase()}/v1/sessions/${s.id}/shell`, { protocols: [PTY_SUBPROTOCOL], headers: { authorization: `Bearer ${passport}` } });
  assert.equal(sh.ws.protocol, PTY_SUBPROTOCOL);
  await sh.waitFor(() => sh.messages.some((m) => m.type === 'hello'), 'hello');
  assert.match(sh.messages[0].shell_id, /\S+/);
  sh.send(JSON.stringify({ type: 'resize', cols: 123, rows: 41 }));
  await new Promise((r) => setTimeout(r, 100));
  sh.send(Buffer.from('tty; stty size\r'));
  await sh.waitForOutput(/\/dev\/pts\/\d+/);
  await sh.waitForOutput('41 123');
  sh.send(Buffer.from('exit 7\r'));
  await sh.waitFor(() => sh.messages.some((m) => m.type === 'exit'), 'exit');
  assert.equal(sh.messages.find((m) => m.type === 'exit').code, 7);
  assert.equal((await sh.closed).code, 1000);
});

test('pty: vim runs full-screen, follows a resize, writes a file and quits; then exit 7', { skip: !existsSync('/usr/bin/vim') && 'vim is not installed' }, async () => {
  const { s, passport, client } = await shuttle();
  const sh = await openWs(`${wsBase()}/v1/sessions/${s.id}/shell?passport=${passport}&cols=100&rows=30`, { protocols: [PTY_SUBPROTOCOL] });
  await sh.waitFor(() => sh.messages.some((m) => m.type === 'hello'), 'hello');
  sh.send(Buffer.from('vim -u NONE -N /tmp/from-vim.txt\r'));
  await sh.waitForOutput('\x1b[?1049h', 10_000); // the alternate screen: vim is drawing full-screen
  sh.send(JSON.stringify({ type: 'resize', cols: 90, rows: 20 }));
  await new Promise((r) => setTimeout(r, 300));
  sh.send(Buffer.from('ihello from vim\x1b'));
  sh.send(Buffer.from(':wq\r'));
  await sh.waitForOutput('\x1b[?1049l', 10_000); // back from the alternate screen
  sh.send(Buffer.from('stty size\r'));
  await sh.waitForOutput('20 90');
  assert.equal((await client.execute(s.id, 'cat /tmp/from-vim.txt')).stdout, 'hello from vim\n');
  sh.send(Buffer.from('exit 7\r'));
  await sh.closed;
  assert.equal(sh.messages.find((m) => m.type === 'exit')?.code, 7);
});

test('line protocol at the seed URL: output, warning, error, prompt, pong', async () => {
  const { s, passport } = await shuttle();
  const url = `${wsBase()}/v1/gke/shell/${s.id}?k8s_ns=${s.k8s_namespace}&pod=${s.pod_name}&passport=${passport}`;
  const sh = await openWs(url);
  await sh.waitFor(() => sh.messages.some((m) => m.type === 'prompt'), 'first prompt');
  sh.send(JSON.stringify({ type: 'command', command: 'echo hello-line; echo oops >&2; exit 2' }));
  await sh.waitFor(() => sh.messages.filter((m) => m.type === 'prompt').length >= 2, 'second prompt');
  const types = sh.messages.map((m) => m.type);
  assert.ok(sh.messages.some((m) => m.type === 'output' && m.content === 'hello-line\n'), JSON.stringify(sh.messages));
  assert.ok(sh.messages.some((m) => m.type === 'warning' && m.content === 'oops\n'));
  assert.ok(sh.messages.some((m) => m.type === 'error' && /code 2/.test(m.content)));
  assert.ok(sh.messages.every((m) => m.session_id === s.id && typeof m.timestamp === 'string'), types.join());
  sh.send(JSON.stringify({ type: 'ping' }));
  sh.send(JSON.stringify({ type: 'resize', cols: 100, rows: 30 }));
  await sh.waitFor(() => sh.messages.some((m) => m.type === 'pong'), 'pong');
  sh.ws.close();
});

test('line protocol: no credits left → an error message, then close', async () => {
  const { s, passport, user, client } = await shuttle();
  const sh = await openWs(`${wsBase()}/v1/gke/shell/${s.id}?passport=${passport}`);
  await d.admin.deductCredits(user.user_id, (await client.credits()).credits);
  sh.send(JSON.stringify({ type: 'command', command: 'echo should-not-run' }));
  const closed = await sh.closed;
  assert.ok(sh.messages.some((m) => m.type === 'error' && /credits/.test(m.content)));
  assert.ok(!sh.messages.some((m) => m.type === 'output' && /should-not-run/.test(m.content)));
  assert.notEqual(closed.code, 1000);
});

test('refused before the upgrade: no credentials, foreign passport, token for another session, expired token, foreign k8s_ns/pod, bad origin', async () => {
  const a = await shuttle();
  const b = await shuttle();
  const tokens = new TokenService(loadTokenSecret(d.home));
  const base = `${wsBase()}/v1/gke/shell/${a.s.id}`;
  assert.equal(await refusal(base), 401);
  assert.equal(await refusal(`${base}?passport=onm_notapassport`), 401);
  assert.equal(await refusal(`${base}?passport=${b.passport}`), 404, 'another user\'s passport');
  const tokenB = (await b.client.wsToken(b.s.id)).token;
  assert.equal(await refusal(`${base}?token=${tokenB}`), 401, 'a token for another session');
  const expired = (await tokens.issue({ user_id: a.user.user_id, session_id: a.s.id }, -10)).token;
  assert.equal(await refusal(`${base}?token=${expired}`), 401, 'an expired token');
  assert.equal(await refusal(`${base}?passport=${a.passport}&k8s_ns=${b.s.k8s_namespace}`), 404, 'another namespace');
  assert.equal(await refusal(`${base}?passport=${a.passport}&pod=${b.s.pod_name}`), 404, 'another pod');
  assert.equal(await refusal(`${base}?passport=${a.passport}`, { headers: { origin: 'https://evil.example' } }), 403);
  assert.equal(await refusal(`${wsBase()}/v1/gke/shell/shuttle-nope?passport=${a.passport}`), 404);
  assert.equal(await refusal(`${wsBase()}/elsewhere?passport=${a.passport}`), 404);
  // and the good ones: passport, token in the header and in the query
  const good = (await a.client.wsToken(a.s.id)).token;
  assert.equal(await refusal(`${base}?token=${good}`), 101);
  assert.equal(await refusal(base, { headers: { authorization: `Bearer ${good}` } }), 101);
  assert.equal(await refusal(base, { headers: { 'x-api-key': a.passport } }), 101);
  await a.client.terminateSession(a.s.id);
  assert.equal(await refusal(`${base}?passport=${a.passport}`), 409, 'a terminated shuttle');
});

test('a ws-token is good only while the passport that asked for it is', async () => {
  const a = await shuttle();
  const base = `${wsBase()}/v1/gke/shell/${a.s.id}`;
  const token = (await a.client.wsToken(a.s.id)).token;
  assert.equal(await refusal(`${base}?token=${token}`), 101);
  const [p] = await d.admin.listPassports(a.user.user_id);
  await d.admin.revokePassport(p!.passport_id);
  assert.equal(await refusal(`${base}?token=${token}`), 401, 'its passport was revoked');
  // A token without the passport it came from (signed with the daemon's secret) is refused too.
  const bare = (await new TokenService(loadTokenSecret(d.home)).issue({ user_id: a.user.user_id, session_id: a.s.id })).token;
  assert.equal(await refusal(`${base}?token=${bare}`), 401, 'no passport named');
});

test('UTF-8 split across frames both ways is not garbled', async () => {
  const { s, passport } = await shuttle();
  const sh = await openWs(`${wsBase()}/v1/sessions/${s.id}/shell?mode=pty&passport=${passport}`);
  await sh.waitFor(() => sh.messages.some((m) => m.type === 'hello'), 'hello');
  // Type only once bash's readline owns the terminal: input typed ahead of it is redrawn by readline
  // itself (a half character, then cursor movement), which is the shell's doing, not the transport's.
  await sh.waitForOutput(/[#$] $/, 15_000);
  const euro = Buffer.from('€', 'utf8'); // e2 82 ac
  sh.send(Buffer.from('echo X'));
  sh.send(euro.subarray(0, 2));
  sh.send(Buffer.concat([euro.subarray(2), Buffer.from('Y\r')]));
  await sh.waitForOutput('X€Y\r\n');
  sh.send(Buffer.from("python3 -c \"import sys; sys.stdout.write('ж€𝄞' * 20000 + '\\nEND\\n')\"\r"));
  await sh.waitForOutput(/END\r\n/, 20_000);
  const bad = sh.output().indexOf('\uFFFD');
  assert.ok(bad < 0, `replacement characters in output: ${JSON.stringify(sh.output().slice(Math.max(0, bad - 120), bad + 60))}`);
  assert.ok(sh.output().includes('ж€𝄞'.repeat(1000)));
  sh.ws.close();
});

test('a dropped socket: reattach with ?attach=<id> gets the scrollback, then live output; shells are listed', async () => {
  const { s, passport, client } = await shuttle();
  const url = `${wsBase()}/v1/sessions/${s.id}/shell?passport=${passport}`;
  const first = await openWs(url, { protocols: [PTY_SUBPROTOCOL] });
  await first.waitFor(() => first.messages.some((m) => m.type === 'hello'), 'hello');
  const id = first.messages[0].shell_id;
  first.send(Buffer.from('echo before-the-drop\r'));
  await first.waitForOutput('before-the-drop\r\n');
  first.ws.terminate(); // no close frame: a network drop
  await first.closed;
  await new Promise((r) => setTimeout(r, 200));
  const listed = (await client.shells(s.id)).shells;
  assert.ok(listed.some((x) => x.shell_id === id && !x.attached), JSON.stringify(listed));
  const again = await openWs(`${url}&attach=${id}`, { protocols: [PTY_SUBPROTOCOL] });
  await again.waitForOutput('before-the-drop');
  assert.equal(again.messages[0].shell_id, id);
  again.send(Buffer.from('echo after-the-drop\r'));
  await again.waitForOutput('after-the-drop\r\n');
  // A shell that is not there is refused before the upgrade, like every other refusal.
  assert.equal(await refusal(`${url}&attach=nope`, { protocols: [PTY_SUBPROTOCOL] }), 404);
  again.ws.close();
});

test('the daemon is killed with SIGKILL while a shell runs a command: after a restart the shell, the command and its output are there', async () => {
  const home = d.home;
  const { s, passport } = await shuttle();
  const sh = await openWs(`${wsBase()}/v1/sessions/${s.id}/shell?passport=${passport}`, { protocols: [PTY_SUBPROTOCOL] });
  await sh.waitFor(() => sh.messages.some((m) => m.type === 'hello'), 'hello');
  const id = sh.messages[0].shell_id;
  sh.send(Buffer.from('sleep 10; echo done-after-restart\r'));
  await new Promise((r) => setTimeout(r, 300));
  await d.kill();
  await sh.closed;
  d = await startDaemon({ home });
  const client = new OnMemOSClient({ baseUrl: d.publicUrl, apiKey: passport });
  assert.equal((await client.getSession(s.id)).status, 'running', 'the record still claims a live sandbox, rightly');
  const again = await openWs(`${wsBase()}/v1/sessions/${s.id}/shell?passport=${passport}&attach=${id}`, { protocols: [PTY_SUBPROTOCOL] });
  await again.waitForOutput('done-after-restart\r\n', 20_000);
  assert.equal((await client.execute(s.id, 'echo exec-still-works')).stdout, 'exec-still-works\n');
  again.ws.close();
  void join;
});

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

test('a slow reader holds the shell back (the daemon does not buffer), then gets every byte', async () => {
  const { s, passport, client } = await shuttle();
  let bytes = 0;
  let tail = '';
  const sh = await openWs(`${wsBase()}/v1/sessions/${s.id}/shell?passport=${passport}`, { protocols: [PTY_SUBPROTOCOL], countOnly: true });
  sh.ws.on('message', (data: Buffer, binary) => { if (binary) { bytes += data.length; tail = (tail + data.subarray(-100).toString('latin1')).slice(-100); } });
  await sh.waitFor(() => /[#$] $/.test(tail), 'prompt');
  const rss0 = rssMiB(d.proc.pid!);
  const MB = 32;
  sh.ws.pause(); // stop reading the socket: a client on a slow link
  sh.send(Buffer.from(`head -c ${MB << 20} /dev/zero | tr '\\0' x; echo; echo END-$((40 + 2))\r`));
  await new Promise((r) => setTimeout(r, 3000));
  // tr, blocked on a full pty, is still there: the pause reached the pty instead of memory.
  const running = await client.execute(s.id, 'pgrep -x tr >/dev/null && echo still-running');
  assert.equal(running.stdout.trim(), 'still-running');
  const grown = rssMiB(d.proc.pid!) - rss0;
  assert.ok(grown < 16, `daemon RSS grew ${grown.toFixed(1)} MiB while the client did not read`);
  sh.ws.resume();
  await sh.waitFor(() => tail.includes('END-42'), 'all the output', 60_000);
  assert.ok(bytes >= MB << 20, `got ${bytes} bytes`);
  sh.ws.close();
});

test('heartbeat: a client that stops answering pings is dropped, one that answers stays; the shell lingers for a reattach', async () => {
  const HEARTBEAT_MS = 300;
  const hd = await startDaemon({ env: { ONMEMOS_WS_HEARTBEAT_MS: String(HEARTBEAT_MS) } });
  try {
    const u = await shuttle(hd);
    const { s } = u;
    const url = `${wsBase(hd)}/v1/sessions/${s.id}/shell?passport=${u.passport}`;
    const live = await openWs(url, { protocols: [PTY_SUBPROTOCOL] });
    const mute = new WebSocket(url, [PTY_SUBPROTOCOL], { autoPong: false });
    let id = '';
    mute.on('message', (data, binary) => { if (!binary) id ||= JSON.parse(String(data)).shell_id; });
    const t = Date.now();
    const code = await new Promise<number>((r) => mute.on('close', (c) => r(c)));
    assert.equal(code, 1006, 'dropped without a close frame');
    assert.ok(Date.now() - t < 6 * HEARTBEAT_MS, `dropped after ${Date.now() - t} ms`);
    assert.ok(id, 'got its hello first');
    const listed = (await u.client.shells(s.id)).shells;
    assert.ok(listed.some((x) => x.shell_id === id && !x.attached), JSON.stringify(listed));
    live.send(Buffer.from('echo still-here-$((6*7))\r'));
    await live.waitForOutput('still-here-42');
    assert.equal(live.ws.readyState, WebSocket.OPEN);
    live.ws.close();
  } finally {
    await hd.stop();
    removeHome(hd.home);
  }
});

test('a request that is not a WebSocket handshake we can complete gets 400 in the error shape', async () => {
  const { s, passport } = await shuttle();
  const answer = await new Promise<string>((resolve, reject) => {
    const sock = connect(Number(new URL(d.publicUrl).port), '127.0.0.1', () => {
      sock.write(upgradeRequest(`/v1/sessions/${s.id}/shell?mode=pty&passport=${passport}`, 12));
    });
    let text = '';
    sock.on('data', (b: Buffer) => { text += b; });
    sock.on('end', () => resolve(text));
    sock.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /\r\nSec-WebSocket-Version: 13, 8\r\n/, 'says which versions it speaks (RFC 6455 4.2.2)');
  assert.match(answer, /"code":"bad_request".*Sec-WebSocket-Version must be one of 13, 8/);
});

test('unauthenticated clients that reset the connection during the handshake do not bring the daemon down', async () => {
  const port = Number(new URL(d.publicUrl).port);
  const { s } = await shuttle();
  const paths = ['/nope', `/v1/sessions/${s.id}/shell`, `/v1/sessions/${s.id}/shell?passport=wrong&mode=pty`];
  await Promise.all(Array.from({ length: 60 }, (_, i) => new Promise<void>((resolve) => {
    const sock = connect(port, '127.0.0.1', () => {
      sock.write(upgradeRequest(paths[i % paths.length]!));
      sock.resetAndDestroy();
      resolve();
    });
    sock.on('error', () => resolve());
  })));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(d.proc.exitCode, null, 'the daemon runs');
  assert.equal((await fetch(`${d.publicUrl}/health`)).status, 200);
});

test('a daemon stopping with a spliced shell open ends it and exits promptly', async () => {
  const sd = await startDaemon();
  try {
    const { s, passport } = await shuttle(sd);
    const sh = await openWs(`${wsBase(sd)}/v1/sessions/${s.id}/shell?passport=${passport}`, { protocols: [PTY_SUBPROTOCOL] });
    await sh.waitFor(() => sh.messages.some((m) => m.type === 'hello'), 'hello');
    const t = Date.now();
    assert.equal(await sd.stop(), 0);
    assert.ok(Date.now() - t < 5000, `stopped in ${Date.now() - t} ms`);
    await sh.closed;
  } finally {
    removeHome(sd.home);
  }
});

test('a shuttle that ends ends its shells at once: the line protocol says why and closes (1000), a terminal gets exit 137', async () => {
  const { client, passport, s } = await shuttle();
  const base = `${wsBase()}/v1/sessions/${s.id}/shell?passport=${passport}`;
  const line = await openWs(base);
  await line.waitFor(() => line.messages.some((m) => m.type === 'prompt'), 'the prompt');
  const pty = await openWs(base, { protocols: [PTY_SUBPROTOCOL] });
  await pty.waitFor(() => pty.messages.some((m) => m.type === 'hello'), 'hello');
  await client.terminateSession(s.id);
  // Before: the line shell stayed open, silent, until its next command.
  const closed = await Promise.race([line.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
  assert.deepEqual(closed, { code: 1000, reason: 'shuttle ended' });
  assert.match(line.messages.at(-1)?.content ?? '', /was terminated/);
  await pty.waitFor(() => pty.messages.some((m) => m.type === 'exit' && m.code === 137), 'exit 137');
  // A line shell opened on an ended shuttle is refused before the upgrade, as before.
  await assert.rejects(openWs(base), (e: unknown) => [404, 409].includes((e as { status?: number }).status ?? 0));
});
