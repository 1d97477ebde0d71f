// Shells (daemon/supervisor/shells.ts) over real WebSockets, with a stand-in terminal: what a client
// receives when its shuttle ends while output is still being gathered into a frame.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { Shells, type TermFactory } from '../../daemon/supervisor/shells';

test('killAll sends the output already read before the exit event (137)', async () => {
  // The shell's process: killAll kills its tree, so it must be a real one of ours.
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
  let emit: (b: Buffer) => void = () => {};
  const terms: TermFactory = (_cols, _rows, _env, onData) => {
    emit = onData;
    return { pid: sleeper.pid!, write: () => {}, resize: () => {}, pause: () => {}, resume: () => {} };
  };
  const shells = new Shells(terms, { lingerMs: 60_000, scrollbackBytes: 256 << 10, env: {} });
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (ws) => shells.open(ws, { cols: 80, rows: 24 }));
  await new Promise((r) => wss.once('listening', r));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  const got: Array<string | number> = [];
  const exited = new Promise<void>((resolve) => client.on('message', (data: Buffer, binary) => {
    if (binary) return void got.push(data.length);
    const msg = JSON.parse(data.toString()) as { type: string; code?: number };
    if (msg.type === 'exit') { got.push(`exit ${msg.code}`); resolve(); }
  }));
  try {
    await new Promise((r) => client.once('open', r));
    await new Promise((r) => setTimeout(r, 50)); // the hello, and the shell exists
    emit(Buffer.alloc(5000, 0x61)); // a full read: what follows soon is a stream, gathered
    await new Promise((r) => setImmediate(r));
    emit(Buffer.from('tail'));
    shells.killAll();
    await exited;
    assert.deepEqual(got, [5000, 4, 'exit 137']);
    await new Promise<void>((r) => (sleeper.exitCode !== null || sleeper.signalCode !== null ? r() : sleeper.once('exit', () => r())));
    assert.equal(sleeper.signalCode, 'SIGKILL', 'the shell process was killed');
  } finally {
    client.close();
    wss.close();
    try { sleeper.kill('SIGKILL'); } catch { /* gone */ }
  }
});
