// Batcher (daemon/providers/local/ws-data.ts): how shell output becomes WebSocket frames.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Batcher } from '../../daemon/providers/local/ws-data';

const turn = () => new Promise((r) => setImmediate(r));
const ms = (n: number) => new Promise((r) => setTimeout(r, n));

test('a chunk after a quiet moment leaves at the end of this turn; chunks of one turn leave together', async () => {
  const frames: string[] = [];
  const b = new Batcher((f) => frames.push(f.toString()), { maxBytes: 1 << 16, holdMs: 20 });
  b.push(Buffer.from('a'));
  b.push(Buffer.from('b'));
  assert.deepEqual(frames, []);
  await turn();
  assert.deepEqual(frames, ['ab']);
  // small frames never start holding: a keystroke's echo right after another is not delayed
  b.push(Buffer.from('c'));
  await turn();
  assert.deepEqual(frames, ['ab', 'c']);
});

test('while output streams, chunks gather up to holdMs or maxBytes', async () => {
  const frames: Buffer[] = [];
  // A generous stream gap and hold: a loaded machine (the unit tier runs four files at once, with
  // real bash processes) may take more than the default 5 ms between two turns, and once took more
  // than a 20 ms hold between a push and the next turn (the frame had left: 2 frames, not 1).
  const HOLD = 400;
  const b = new Batcher((f) => frames.push(f), { maxBytes: 16 << 10, holdMs: HOLD, gapMs: 10_000 });
  b.push(Buffer.alloc(4096, 1)); // a full pty read
  await turn();
  assert.equal(frames.length, 1);
  b.push(Buffer.alloc(1000, 2));
  await turn();
  assert.equal(frames.length, 1, 'held: the last frame was a full read, moments ago');
  b.push(Buffer.alloc(1000, 3));
  await ms(HOLD + 100);
  assert.equal(frames.length, 2, 'left after holdMs');
  assert.equal(frames[1]!.length, 2000);
  // a stream at full speed leaves in maxBytes frames at once, not on a timer
  b.push(Buffer.alloc(8 << 10));
  b.push(Buffer.alloc(8 << 10));
  assert.equal(frames.length, 3);
  assert.equal(frames[2]!.length, 16 << 10);
  b.push(Buffer.from('tail'));
  b.flush();
  assert.equal(frames[3]!.toString(), 'tail', 'flush sends at once (before an exit event)');
  await ms(HOLD + 100);
  assert.equal(frames.length, 4, 'nothing sent twice, nothing empty');
});

test('without holdMs nothing is held: one frame per turn, cut at maxBytes', async () => {
  const frames: Buffer[] = [];
  const b = new Batcher((f) => frames.push(f), { maxBytes: 8192 });
  b.push(Buffer.alloc(6000));
  await turn();
  b.push(Buffer.alloc(6000));
  await turn();
  assert.deepEqual(frames.map((f) => f.length), [6000, 6000]);
  b.push(Buffer.alloc(6000));
  b.push(Buffer.alloc(6000));
  assert.deepEqual(frames.map((f) => f.length), [6000, 6000, 12000]);
});

test('after a quiet moment longer than the stream gap, the first chunk is not held', async () => {
  const frames: Buffer[] = [];
  const b = new Batcher((f) => frames.push(f), { maxBytes: 1 << 16, holdMs: 50, gapMs: 5 });
  b.push(Buffer.alloc(8192));
  await turn();
  await ms(20);
  b.push(Buffer.from('x'));
  await turn();
  assert.equal(frames.length, 2);
});
