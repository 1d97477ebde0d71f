// Shells: keystroke echo round trip and `cat` throughput through the daemon's WebSocket
// (onmemos.pty.v1, daemon → supervisor → pty in the sandbox) against a pty spawned directly here,
// and the daemon's memory with 50 idle shells attached.
import * as pty from 'node-pty';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import WebSocket from 'ws';
import { startDaemon, newUser, removeHome } from '../test/helpers/daemon';
import { openWs, type Shell } from '../test/helpers/ws';
import { PTY_SUBPROTOCOL } from '../daemon/client';
import { median, printTable, type Row, rssOf } from './lib';

const KEYSTROKES = 200;
const CAT_MB = 100;

async function echoRoundTrips(send: (s: string) => void, received: () => number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < KEYSTROKES; i++) {
    const ch = String.fromCharCode(97 + (i % 26));
    const before = received();
    const t = performance.now();
    send(ch);
    while (received() === before) await new Promise((r) => setImmediate(r));
    out.push(performance.now() - t);
  }
  send('\x15'); // ^U: clear the line
  return out;
}

/**
 * The floor under any WebSocket echo: one round trip of a byte between this process and a bare `ws`
 * echo server in another process, nothing else. A terminal through a WebSocket adds at least this to
 * the pty's own echo, so (direct + this) / direct is the lowest ratio any design can show here.
 */
async function bareWsRoundTrips(): Promise<number[]> {
  const server = spawn(process.execPath, ['-e', `const { WebSocketServer } = require(process.argv[1]);
    const s = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false }, () => console.log(s.address().port));
    s.on('connection', (ws) => ws.on('message', (d, bin) => ws.send(d, { binary: bin })));`, require.resolve('ws')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [port] = (await once(server.stdout, 'data')) as [Buffer];
    const ws = new WebSocket(`ws://127.0.0.1:${String(port).trim()}`, { perMessageDeflate: false });
    await once(ws, 'open');
    let got = 0;
    ws.on('message', () => got++);
    const rtt = await echoRoundTrips((c) => ws.send(Buffer.from(c)), () => got);
    ws.close();
    return rtt;
  } finally {
    server.kill();
  }
}

/** The last bytes of a stream as text, from each chunk's end only (decoding whole chunks would cost the reader ~0.1 s per 100 MB). */
const tailOf = (tail: string, chunk: Buffer) => (tail + chunk.subarray(Math.max(0, chunk.length - 200)).toString('latin1')).slice(-200);

/** A pty read here, as lean as the WebSocket client below: bytes counted, a short tail kept. */
function directPty() {
  const p = pty.spawn('bash', ['--norc', '--noprofile'], { name: 'xterm-256color', cols: 120, rows: 40, encoding: null, env: { ...process.env, PS1: '$ ' } as Record<string, string> } as pty.IPtyForkOptions);
  let tail = '';
  let bytes = 0;
  p.onData((d: string | Buffer) => { const b = Buffer.isBuffer(d) ? d : Buffer.from(d); bytes += b.length; tail = tailOf(tail, b); });
  return { p, send: (s: string) => p.write(s), tail: () => tail, bytes: () => bytes };
}


async function catThroughput(send: (s: string) => void, bytes: () => number, tail: () => string, mb = CAT_MB): Promise<number> {
  const start = bytes();
  const t = performance.now();
  const n = Math.floor(Math.random() * 1e6); // a marker of this run, computed by the shell: the echoed command line cannot match
  send(`head -c ${mb * 1024 * 1024} /dev/zero | tr '\\0' 'x'; echo; echo CAT-$((${n} + 1))-DONE\r`);
  const marker = `CAT-${n + 1}-DONE\r\n`;
  while (!tail().includes(marker)) await new Promise((r) => setTimeout(r, 5));
  return (bytes() - start) / 1e6 / ((performance.now() - t) / 1000);
}

export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  const d = await startDaemon({ env: { ONMEMOS_LOG_LEVEL: 'warn' } });
  try {
    const u = await newUser(d);
    const s = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
    const url = `${d.publicUrl.replace(/^http/, 'ws')}/v1/sessions/${s.id}/shell?passport=${u.passport}&cols=120&rows=40`;
    const sh: Shell = await openWs(url, { protocols: [PTY_SUBPROTOCOL] });
    // Count bytes and keep a short tail only: the test helper's growing output string would make
    // the client, not the daemon, the bottleneck at 100 MB.
    let wsBytes = 0;
    let wsTail = '';
    const shCat: Shell = await openWs(url, { protocols: [PTY_SUBPROTOCOL], countOnly: true });
    shCat.ws.on('message', (data: Buffer, bin) => { if (bin) { wsBytes += data.length; wsTail = tailOf(wsTail, data); } });
    await sh.waitForOutput(/[#$] $/, 15_000);

    const direct = directPty();
    await new Promise((r) => setTimeout(r, 300));
    const rttWs = median(await echoRoundTrips((c) => sh.send(Buffer.from(c)), () => sh.output().length));
    const rttDirect = median(await echoRoundTrips(direct.send, direct.bytes));
    const floor = median(await bareWsRoundTrips());
    rows.push({ name: 'keystroke echo RTT via WebSocket / direct pty', value: rttWs, unit: 'ms', baseline: rttDirect, ratio: rttWs / rttDirect, target: '<= 1.2',
      note: `floor ${((rttDirect + floor) / rttDirect).toFixed(2)}: + a bare ws round trip to another process, ${floor.toFixed(3)} ms` });

    // Each path streams 20 MB first (not counted): the first megabytes through a fresh process run
    // before the JIT has compiled its data path, on either side.
    const viaWs = (mb?: number) => catThroughput((c) => shCat.send(Buffer.from(c)), () => wsBytes, () => wsTail, mb);
    const viaDirect = (mb?: number) => catThroughput(direct.send, direct.bytes, direct.tail, mb);
    // Then three rounds, alternating, and the median of each side: one 100 MB run swings ±20% here.
    await viaWs(20);
    await viaDirect(20);
    const ws: number[] = [];
    const dir: number[] = [];
    for (let i = 0; i < 3; i++) {
      ws.push(await viaWs());
      dir.push(await viaDirect());
    }
    const mbWs = median(ws);
    const mbDirect = median(dir);
    rows.push({ name: `cat ${CAT_MB} MB via WebSocket / direct pty`, value: mbWs, unit: 'MB/s', baseline: mbDirect, ratio: mbWs / mbDirect, target: '>= 0.8',
      note: `runs ${ws.map((x) => x.toFixed(0)).join('/')} vs ${dir.map((x) => x.toFixed(0)).join('/')} MB/s` });
    direct.p.kill();
    sh.ws.close();
    shCat.ws.close();

    const rss0 = rssOf(d.proc.pid!);
    const idle: Shell[] = [];
    for (let i = 0; i < 50; i++) idle.push(await openWs(url, { protocols: [PTY_SUBPROTOCOL] }));
    await Promise.all(idle.map((x) => x.waitFor(() => x.messages.some((m) => m.type === 'hello'), 'hello', 30_000)));
    await new Promise((r) => setTimeout(r, 1000));
    const rss50 = rssOf(d.proc.pid!);
    rows.push({ name: 'daemon RSS with 50 idle shells / with none', value: rss50, unit: 'MiB', baseline: rss0, ratio: rss50 / rss0, note: `${((rss50 - rss0) / 50 * 1024).toFixed(0)} KiB per shell` });
    for (const x of idle) x.ws.close();
    await u.client.terminateSession(s.id);
  } finally {
    await d.stop();
    removeHome(d.home);
  }
  return rows;
}

if (require.main === module) run().then(printTable);
