import * as assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { ShellPty } from '../../../extension/terminals/shellPty';
import { waitFor } from './env';

const log = { trace() {}, info() {}, warn() {}, error() {}, show() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A real local WebSocket server standing in for the daemon's pty endpoint, so each way the server
// can end a connection is played exactly: the terminal stops when reconnecting cannot help and
// reconnects (reattaching) when the connection merely dropped.
describe('shuttle terminal reconnects', () => {
  let wss: WebSocketServer;
  let urls: string[];
  let onConnection: (ws: WebSocket, n: number) => void;
  let pty: ShellPty | undefined;

  beforeEach(async () => {
    urls = [];
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (p) => [...p][0] ?? false });
    wss.on('connection', (ws, req) => { urls.push(req.url ?? ''); onConnection(ws, urls.length); });
    await new Promise((r) => wss.once('listening', r));
  });

  afterEach(async () => {
    pty?.close();
    pty = undefined;
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  });

  function openPty(): ShellPty {
    const port = (wss.address() as AddressInfo).port;
    pty = new ShellPty({ publicUrl: `http://127.0.0.1:${port}`, passport: 'p', sessionId: 's1' }, log as never);
    pty.open({ columns: 80, rows: 24 });
    return pty;
  }

  it('an error frame then close 1011 (the shell cannot open): one attempt, then it stops', async () => {
    onConnection = (ws) => { ws.send(JSON.stringify({ type: 'error', message: 'pod onmemos-x is not running' })); ws.close(1011, 'pod onmemos-x is not running'); };
    const p = openPty();
    await waitFor('the failure message', () => /Press any key to close/.test(p.transcript), 5000);
    await sleep(2500); // several reconnect delays (0.25 s, 0.5 s, 1 s)
    assert.equal(urls.length, 1, `connected ${urls.length} times`);
    assert.match(p.transcript, /pod onmemos-x is not running/);
    assert.doesNotMatch(p.transcript, /reconnecting/);
  });

  it('close 1011 without an error frame also stops', async () => {
    onConnection = (ws) => ws.close(1011, 'boom');
    const p = openPty();
    await waitFor('the failure message', () => /could not open the shell \(boom\)/.test(p.transcript), 5000);
    await sleep(1500);
    assert.equal(urls.length, 1);
  });

  it('close 4000 (attached elsewhere): stops and says so', async () => {
    onConnection = (ws) => { ws.send(JSON.stringify({ type: 'hello', shell_id: 'sh1' })); setTimeout(() => ws.close(4000, 'attached elsewhere'), 100); };
    const p = openPty();
    await waitFor('the message', () => /This shell was attached from elsewhere/.test(p.transcript), 5000);
    await sleep(1500);
    assert.equal(urls.length, 1, `connected ${urls.length} times`);
  });

  it('a dropped connection (socket destroyed, 1006) reconnects and reattaches to the same shell', async () => {
    onConnection = (ws, n) => {
      ws.send(JSON.stringify({ type: 'hello', shell_id: 'sh1' }));
      ws.send(Buffer.from(`screen ${n}\r\n`));
      if (n === 1) setTimeout(() => ws.terminate(), 100);
    };
    const p = openPty();
    await waitFor('a second connection', () => urls.length >= 2, 5000);
    assert.match(urls[1]!, /attach=sh1/);
    await waitFor('the replayed screen', () => /screen 2/.test(p.transcript), 5000);
    assert.match(p.transcript, /reconnecting/);
    assert.doesNotMatch(p.transcript, /Press any key/);
    await sleep(800);
    assert.equal(urls.length, 2, 'reconnected again although the second connection stayed up');
  });

  it('connections that say hello and drop at once back off (the budget resets only after a stable connection)', async () => {
    const times: number[] = [];
    onConnection = (ws) => { times.push(Date.now()); ws.send(JSON.stringify({ type: 'hello', shell_id: 'sh1' })); setTimeout(() => ws.terminate(), 20); };
    openPty();
    await waitFor('four connections', () => times.length >= 4, 10_000);
    // Delays 0.25 + 0.5 + 1 s; had each hello (or open) reset the budget it would be about 3 × 0.25 s.
    assert.ok(times[3]! - times[0]! >= 1600, `4 connections in ${times[3]! - times[0]!} ms`);
  });

  it('a multi-byte character split across a drop does not corrupt the replay', async () => {
    const euro = Buffer.from('€'); // 3 bytes
    onConnection = (ws, n) => {
      ws.send(JSON.stringify({ type: 'hello', shell_id: 'sh1' }));
      if (n === 1) { ws.send(euro.subarray(0, 2)); setTimeout(() => ws.terminate(), 50); } else ws.send(Buffer.from('A-replayed'));
    };
    const p = openPty();
    await waitFor('the replay', () => /replayed/.test(p.transcript), 5000);
    assert.ok(!p.transcript.includes('\uFFFD'), JSON.stringify(p.transcript.slice(-80)));
  });
});
