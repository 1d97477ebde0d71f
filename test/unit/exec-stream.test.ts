// The exec stream's framing and its fallbacks, over real Unix sockets and a real HTTP server.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXEC_STREAM_PATH, MAX_LINE, readLines, serveExecStream } from '../../daemon/supervisor/exec-stream';
import { ExecStreams, lost, NoExecStream } from '../../daemon/providers/local/exec-channel';
import { serveShells } from '../../daemon/supervisor/shells';
import { HttpError } from '../../daemon/supervisor/http';
import { ApiError } from '../../daemon/errors';
import { callOnce, SupervisorGone } from '../../daemon/providers/local/rpc';
import type { ExecResult } from '../../daemon/providers/types';

const dir = mkdtempSync(join(tmpdir(), 'onmemos-stream-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sockPath = () => join(dir, `s${++n}.sock`);

test('lines: split anywhere (mid UTF-8 character too), several per chunk, the head first; an over-long line ends the socket', async () => {
  const path = sockPath();
  const got: string[] = [];
  let closed!: () => void;
  const ended = new Promise<void>((r) => { closed = r; });
  const server = createServer((sock) => { readLines(sock, Buffer.from('head\nfirst-'), () => MAX_LINE, (l) => got.push(l)); sock.on('close', closed); });
  await new Promise<void>((r) => server.listen(path, r));
  const c: Socket = connect(path);
  const bytes = Buffer.from('half ż\nb\nc\n', 'utf8');
  const cut = bytes.indexOf(Buffer.from('ż')) + 1; // inside the two bytes of ż
  c.write(bytes.subarray(0, cut));
  await new Promise((r) => setTimeout(r, 50));
  c.write(bytes.subarray(cut));
  // (until the lines are in, not a fixed wait: a loaded machine can take longer than any guess)
  for (const until = Date.now() + 5000; got.length < 4 && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(got, ['head', 'first-half ż', 'b', 'c']);
  c.write('x'.repeat(MAX_LINE + 10));
  await Promise.race([ended, new Promise((_r, reject) => setTimeout(() => reject(new Error('the over-long line did not end the socket')), 5000))]);
  server.close();
});

test('the agent side answers each request by id, errors in the error shape, and pings', async () => {
  const path = sockPath();
  const server = createHttpServer();
  serveShells(server, () => undefined, {
    [EXEC_STREAM_PATH]: (_req, sock, head) => serveExecStream(sock, head, async (r) => {
      if (r.command === 'fail') throw new HttpError(409, 'conflict', 'no session here yet');
      if (r.command === 'slow') await new Promise((res) => setTimeout(res, 100));
      return { stdout: r.command, stderr: '', exit_code: 0, timed_out: false, truncated: false, duration_ms: 0 } as ExecResult;
    }),
  });
  await new Promise<void>((r) => server.listen(path, r));
  const streams = new ExecStreams();
  try {
    assert.equal(await streams.open(path, 'k'), null);
    const opts = (command: string) => ({ command, timeout_seconds: 5, max_output_bytes: 100 });
    const [slow, fast] = await Promise.all([streams.exec(path, 'k', opts('slow'), 2000), streams.exec(path, 'k', opts('fast'), 2000)]);
    assert.equal(slow.stdout, 'slow');
    assert.equal(fast.stdout, 'fast');
    await assert.rejects(streams.exec(path, 'k', opts('fail'), 2000), (e: unknown) => e instanceof ApiError && e.status === 409 && /no session/.test(e.message));
    // The stream survives an error answer.
    assert.equal((await streams.exec(path, 'k', opts('again'), 2000)).stdout, 'again');
  } finally {
    streams.close();
    server.close();
  }
});

test('an agent without the route (404 on the upgrade) is NoExecStream; nobody listening is SupervisorGone', async () => {
  const path = sockPath();
  const server = createHttpServer();
  serveShells(server, () => undefined); // no exec stream: the upgrade is refused
  await new Promise<void>((r) => server.listen(path, r));
  const streams = new ExecStreams();
  try {
    const opts = { command: 'true', timeout_seconds: 5, max_output_bytes: 100 };
    await assert.rejects(streams.exec(path, undefined, opts, 2000), (e: unknown) => e instanceof NoExecStream);
    await assert.rejects(streams.exec(join(dir, 'nobody.sock'), undefined, opts, 2000), (e: unknown) => e instanceof SupervisorGone && !(e instanceof NoExecStream));
  } finally {
    streams.close();
    server.close();
  }
});

test('POST /exec where there is no stream (callOnce): a request the agent got and never answered is 502, one never written is SupervisorGone', async () => {
  const path = sockPath();
  const got: string[] = [];
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => {
      const { command } = JSON.parse(body) as { command: string };
      got.push(command);
      if (command === 'reset') return void req.socket.destroy();
      if (command === 'hang') return;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result(command)));
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  const exec = (socket: string, command: string, timeoutMs = 2000) => callOnce<ExecResult>(socket, 'POST', '/exec', opts(command), timeoutMs, (why) => lost(why));
  const is502 = (e: unknown) => e instanceof ApiError && e.status === 502 && e.code === 'agent_lost' && !(e instanceof SupervisorGone);
  try {
    assert.equal((await exec(path, 'ok')).stdout, 'ok');
    await assert.rejects(exec(path, 'reset'), is502);
    await assert.rejects(exec(path, 'hang', 200), is502);
    await assert.rejects(exec(join(dir, 'nobody.sock'), 'never'), (e: unknown) => e instanceof SupervisorGone);
    assert.deepEqual(got, ['ok', 'reset', 'hang'], 'each reached the agent once');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

/** A stand-in agent on a Unix socket: the upgrade is answered, then `onLine` sees each request. */
async function fakeAgent(onLine: (sock: Socket, m: { id: number; req?: { command: string }; ping?: 1 }) => void, answer101 = true) {
  const path = sockPath();
  const server = createHttpServer();
  server.on('upgrade', (_req, sock: Socket) => {
    sock.on('error', () => undefined);
    if (!answer101) return; // accepted, never answered
    sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: onmemos-exec\r\nConnection: Upgrade\r\n\r\n');
    readLines(sock, Buffer.alloc(0), () => MAX_LINE, (line) => onLine(sock, JSON.parse(line)));
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, close: () => server.close() };
}
const opts = (command: string, max_output_bytes = 100) => ({ command, timeout_seconds: 5, max_output_bytes });
const result = (stdout: string) => ({ stdout, stderr: '', exit_code: 0, timed_out: false, truncated: false, duration_ms: 0 });

test('what the daemon can and cannot hand to the supervisor: not written -> SupervisorGone; written and lost -> 502; no answer in time -> 502 for that command only', async () => {
  const silent = await fakeAgent(() => undefined, false);
  const streams = new ExecStreams(300);
  const t = Date.now();
  await assert.rejects(streams.exec(silent.path, undefined, opts('x'), 5000), (e: unknown) => e instanceof SupervisorGone && /no exec stream within 300 ms/.test(String(e)));
  assert.ok(Date.now() - t < 3000);
  silent.close();

  const agent = await fakeAgent((sock, m) => {
    if (m.req?.command === 'break') sock.destroy();
    else if (m.req?.command !== 'hang') setTimeout(() => sock.write(`${JSON.stringify({ id: m.id, ok: result(m.req?.command ?? '') })}\n`), 50);
  });
  try {
    const hang = streams.exec(agent.path, 'k', opts('hang'), 200);
    const fine = streams.exec(agent.path, 'k', opts('fine'), 2000);
    await assert.rejects(hang, (e: unknown) => e instanceof ApiError && e.status === 502 && /did not answer within 200 ms/.test(e.message));
    assert.equal((await fine).stdout, 'fine', 'the other command on the stream is answered');
    const broken = streams.exec(agent.path, 'k', opts('break'), 2000);
    await assert.rejects(broken, (e: unknown) => e instanceof ApiError && e.status === 502 && !(e instanceof SupervisorGone));
    assert.equal((await streams.exec(agent.path, 'k', opts('again'), 2000)).stdout, 'again', 'a new stream after a broken one');
    // Closing the provider under a written command: 502 too (a SupervisorGone would let the caller run it again).
    const written = streams.exec(agent.path, 'k', opts('hang'), 5000);
    await new Promise((r) => setTimeout(r, 50));
    streams.close();
    await assert.rejects(written, (e: unknown) => e instanceof ApiError && e.status === 502 && !(e instanceof SupervisorGone));
  } finally {
    streams.close();
    agent.close();
  }
});

test('answers from inside the sandbox are checked: a malformed one ends the stream (502), it does not throw in the daemon', async () => {
  for (const bad of ['null', '"text"', '{"id":"1"}', '{"id":1,"error":"x"}', '{"id":1,"error":{"status":"500"}}', 'not json', '{"id":1}', '{"id":1,"ok":"x"}',
    '{"id":1,"error":{"status":500,"code":{"toString":1},"message":"x"}}', '{"id":1,"error":{"status":200,"code":"x","message":"y"}}']) {
    const agent = await fakeAgent((sock) => sock.write(`${bad}\n`));
    const streams = new ExecStreams();
    try {
      await assert.rejects(streams.exec(agent.path, undefined, opts('x'), 2000), (e: unknown) => e instanceof ApiError && e.status === 502 && /malformed/.test(e.message), bad);
    } finally {
      streams.close();
      agent.close();
    }
  }
});

test('an answer that escapes to several times its output (NUL bytes as \\u0000) is accepted whole', async () => {
  const out = '\0'.repeat(1_000_000);
  const agent = await fakeAgent((sock, m) => sock.write(`${JSON.stringify({ id: m.id, ok: result(out) })}\n`));
  const streams = new ExecStreams();
  try {
    const r = await streams.exec(agent.path, undefined, opts('x', 1 << 20), 10_000);
    assert.equal(r.stdout.length, 1_000_000);
  } finally {
    streams.close();
    agent.close();
  }
});
