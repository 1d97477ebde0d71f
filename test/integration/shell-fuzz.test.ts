// Random frames at both shell protocols, which schemathesis (the fuzz tier) cannot reach: JSON
// control messages of every type with values of every kind, binary frames, invalid UTF-8, cut-off
// JSON, odd query parameters. Whatever arrives, the daemon stays up and logs no error, and a fresh
// shell of each protocol still works. CI uses a fixed seed; elsewhere each run explores a new one
// (ONMEMOS_SHELL_FUZZ_SEED=N reproduces, and the seed is in the test's name).
// Its first run found that one text frame that is not UTF-8 ended the daemon (line protocol) or the
// shuttle's agent with every shell in it (terminal): the regression test below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startDaemon, newUser, removeHome } from '../helpers/daemon';
import { openWs, type Shell } from '../helpers/ws';
import { PTY_SUBPROTOCOL } from '../../daemon/client';

const SEED = Number(process.env.ONMEMOS_SHELL_FUZZ_SEED ?? (process.env.CI === 'true' ? 20261129 : Math.floor(Math.random() * 2 ** 31)));
const ROUNDS = 60;

/** mulberry32: a small seeded PRNG, so a seed names one sequence of inputs. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test(`shells: random frames on both protocols leave the daemon up, its log free of errors, and new shells working (seed ${SEED})`, async () => {
  const random = prng(SEED);
  const rnd = (n: number) => Math.floor(random() * n);
  const pick = <T>(a: readonly T[]): T => a[rnd(a.length)]!;
  const value = () => pick<unknown>([null, true, -1, 0, 1.5, 2 ** 53, -(2 ** 31), 65536, '', 'x'.repeat(rnd(5000)), '\u0000', '\ud800', [], {}, { a: 1 }]);
  const commands = ['echo hi', 'exit 3', 'true', 'kill -9 $$', 'printf "\\x00\\xff"', 'yes | head -c 100000', 'echo a\u0000b'];
  const frame = (): { data: string | Buffer; binary: boolean } => {
    switch (rnd(10)) {
      case 0: return { data: Buffer.from(Array.from({ length: rnd(3000) }, () => rnd(256))), binary: true };
      case 1: return { data: Buffer.from([0xff, 0xfe, 0xc3]), binary: false }; // invalid UTF-8 in a text frame
      case 2: return { data: '{"type":"resize"', binary: false };
      default: {
        const m: Record<string, unknown> = { type: pick(['command', 'ping', 'resize', 'pause', 'resume', 'detach', 'kill', 'hello', 'exit', 'bogus']) };
        for (const k of ['command', 'cols', 'rows', 'signal', 'code', 'data']) if (rnd(2)) m[k] = rnd(2) ? value() : k === 'command' ? pick(commands) : rnd(500);
        return { data: JSON.stringify(m), binary: rnd(4) === 0 };
      }
    }
  };
  const queries = ['', '&cols=0&rows=0', '&cols=99999&rows=-4', '&cols=abc', '&attach=nope', `&attach=${'x'.repeat(300)}`, '&heartbeat_ms=1', '&mode=pty', '&mode=bogus'];

  const d = await startDaemon({ env: { ONMEMOS_LOG_LEVEL: 'warn' } });
  try {
    const u = await newUser(d);
    const s = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
    const base = `${d.publicUrl.replace(/^http/, 'ws')}/v1/sessions/${s.id}/shell?passport=${u.passport}`;
    let opened = 0;
    for (let round = 0; round < ROUNDS; round++) {
      assert.equal(d.proc.exitCode, null, `the daemon is up before round ${round}`);
      const ws = new WebSocket(base + pick(queries), rnd(2) ? [PTY_SUBPROTOCOL] : []);
      ws.on('error', () => undefined);
      ws.on('unexpected-response', (_req, res) => res.resume());
      const open = await new Promise<boolean>((r) => { ws.on('open', () => r(true)); ws.on('close', () => r(false)); setTimeout(() => r(false), 5000); });
      if (!open) continue;
      opened++;
      for (let i = rnd(40); i > 0 && ws.readyState === WebSocket.OPEN; i--) { const f = frame(); ws.send(f.data, { binary: f.binary }); }
      await new Promise<void>((r) => { ws.on('close', () => r()); setTimeout(() => { ws.terminate(); r(); }, 200 + rnd(500)); });
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(d.proc.exitCode, null, 'the daemon is up after the last round');
    assert.ok(opened > ROUNDS / 2, `most handshakes were accepted (${opened})`);
    assert.deepEqual(d.logs.filter((l) => /"level":"error"/.test(l)), [], 'no error in the daemon log');

    const pty = await openWs(`${base}&cols=80&rows=24`, { protocols: [PTY_SUBPROTOCOL] });
    pty.send(Buffer.from('echo still-$((40+2))\r'));
    await pty.waitForOutput('still-42', 10_000);
    const line = await openWs(base);
    line.send(JSON.stringify({ type: 'command', command: 'echo line-ok' }));
    await line.waitFor(() => line.messages.some((m) => m.type === 'output' && m.content === 'line-ok\n'), 'the line protocol\'s output');
    pty.ws.close();
    line.ws.close();
    assert.equal((await u.client.execute(s.id, 'echo ok')).stdout, 'ok\n');
    await u.client.terminateSession(s.id);
  } finally {
    const code = await d.stop();
    removeHome(d.home); // first: a failed assertion must not leave its shuttles running
    assert.equal(code, 0, 'a clean shutdown (store verified)');
  }
});

test('a protocol error from a client (a text frame that is not UTF-8, a message over 1 MiB) closes that shell\'s socket (1007/1009) and nothing else: not the daemon, not the other shells of the shuttle', async () => {
  const d = await startDaemon({ env: { ONMEMOS_LOG_LEVEL: 'warn' } });
  try {
    const u = await newUser(d);
    const s = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
    const base = `${d.publicUrl.replace(/^http/, 'ws')}/v1/sessions/${s.id}/shell?passport=${u.passport}`;
    const other: Shell = await openWs(base, { protocols: [PTY_SUBPROTOCOL] });
    other.send(Buffer.from('echo one-$((1))\r'));
    await other.waitForOutput('one-1');
    const bad = [
      { pty: false, data: Buffer.from([0xff, 0xfe, 0xc3]), code: 1007 },
      { pty: true, data: Buffer.from([0xff, 0xfe, 0xc3]), code: 1007 },
      { pty: false, data: Buffer.alloc(1024 * 1024 + 1, 'a'), code: 1009 },
      { pty: true, data: Buffer.alloc(1024 * 1024 + 1, 'a'), code: 1009 },
    ];
    for (const b of bad) {
      const ws = new WebSocket(base, b.pty ? [PTY_SUBPROTOCOL] : []);
      ws.on('error', () => undefined);
      await new Promise((r) => ws.on('open', r));
      ws.send(b.data, { binary: false });
      const code = await new Promise<number>((r) => ws.on('close', (c) => r(c)));
      assert.equal(code, b.code, `${b.pty ? 'terminal' : 'line protocol'}: ${b.data.length} bytes`);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(d.proc.exitCode, null, 'the daemon is up');
    }
    other.send(Buffer.from('echo two-$((2))\r'));
    await other.waitForOutput('two-2');
    other.ws.close();
    assert.equal((await u.client.execute(s.id, 'echo ok')).stdout, 'ok\n');
    await u.client.terminateSession(s.id);
  } finally {
    const code = await d.stop();
    removeHome(d.home);
    assert.equal(code, 0, 'a clean shutdown');
  }
});
