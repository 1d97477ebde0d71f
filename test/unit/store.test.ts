import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, SCHEMA_VERSION, type ProductRow } from '../../daemon/store';
import { acquireHomeLock, HomeLockedError } from '../../daemon/store/lock';
import { applyOps, type Op } from '../../daemon/store/journal';
import { emptyData } from '../../daemon/store/schema';

const home = () => mkdtempSync(join(tmpdir(), 'onmemos-store-'));
const product = (id: string, credits = 1): ProductRow => ({ product_id: id, name: id, description: '', credits, active: true, created_at: '' });

test('concurrent writes are coalesced into few durable journal appends, all present after reopen', async () => {
  const h = home();
  const store = await Store.open(h);
  const before = store.fileWrites;
  await Promise.all(Array.from({ length: 200 }, (_, i) => store.write((_d, tx) => tx.put('products', product(`p${i}`, i + 1)))));
  const writes = store.fileWrites - before;
  assert.ok(writes >= 1 && writes <= 3, `200 concurrent writes took ${writes} appends`);
  await store.close();
  const onDisk = JSON.parse(readFileSync(join(h, 'store.json'), 'utf8'));
  assert.equal(onDisk.products.length, 200, 'close compacts the journal into store.json');
  const again = await Store.open(h);
  assert.equal(again.data.products.length, 200);
  await again.close();
});

test('an acknowledged write is durable without a clean shutdown (replayed from the journal)', async () => {
  const h = home();
  const store = await Store.open(h, undefined, { lock: false });
  await store.write((_d, tx) => tx.put('products', product('a')));
  await store.write((d, tx) => { const p = d.products[0]!; p.credits = 9; tx.put('products', p); });
  await store.write((_d, tx) => tx.put('products', product('b')));
  await store.write((_d, tx) => tx.del('products', 'a'));
  // no close(): as after kill -9
  assert.ok(readFileSync(join(h, 'store.journal'), 'utf8').length > 0);
  const again = await Store.open(h, undefined, { lock: false });
  assert.deepEqual(again.data.products.map((p) => p.product_id), ['b']);
  await again.close();
});

test('a torn last journal line (a crash mid-append, never acknowledged) is dropped; a corrupt middle is refused', async () => {
  const h = home();
  const store = await Store.open(h, undefined, { lock: false });
  await store.write((_d, tx) => tx.put('products', product('kept')));
  appendFileSync(join(h, 'store.journal'), '{"ops":[{"t":"products","k":"torn","row":{"prod');
  const again = await Store.open(h, undefined, { lock: false });
  assert.deepEqual(again.data.products.map((p) => p.product_id), ['kept']);
  await again.close();

  const h2 = home();
  writeFileSync(join(h2, 'store.journal'), 'garbage\n{"ops":[]}\n');
  await assert.rejects(Store.open(h2), /corrupt at line 1/);
});

test('a mutation that throws changes nothing and rejects', async () => {
  const store = await Store.open(home());
  await assert.rejects(store.write(() => { throw new Error('nope'); }), /nope/);
  assert.equal(store.data.users.length, 0);
  await store.close();
});

test('verification catches a change that bypassed tx', async () => {
  const h = home();
  const store = await Store.open(h);
  await store.write((_d, tx) => tx.put('products', product('x')));
  await store.write((d) => { d.products[0]!.credits = 42; }); // no tx.put: not journaled
  await assert.rejects(store.verify(), /bypassed tx/);
  await store.close();
});

test('a crash during compaction between temp file and rename loses nothing', async () => {
  const h = home();
  const store = await Store.open(h, undefined, { lock: false });
  await store.write((_d, tx) => tx.put('products', product('kept')));
  store.adapter.beforeRename = () => { throw new Error('simulated crash before rename'); };
  await assert.rejects(store.close(), /simulated crash/);
  assert.ok(existsSync(join(h, '.store.json.tmp')));
  const again = await Store.open(h, undefined, { lock: false });
  assert.deepEqual(again.data.products.map((p) => p.product_id), ['kept']);
  assert.ok(!existsSync(join(h, '.store.json.tmp')));
  await again.close();
});

test('migrates a v1 store forward and refuses a newer one', async () => {
  const h = home();
  writeFileSync(join(h, 'store.json'), JSON.stringify({ schema_version: 1, users: [{ user_id: 'u1', email: 'a@b.c', name: 'a', user_type: 'pro', credits: 7, created_at: 't', updated_at: 't' }] }));
  const store = await Store.open(h);
  assert.equal(store.data.schema_version, SCHEMA_VERSION);
  assert.equal(store.data.credit_transactions[0]?.balance, 7);
  assert.deepEqual(store.data.sessions, []);
  await store.close();
  assert.equal(JSON.parse(readFileSync(join(h, 'store.json'), 'utf8')).schema_version, SCHEMA_VERSION);

  const h2 = home();
  writeFileSync(join(h2, 'store.json'), JSON.stringify({ schema_version: SCHEMA_VERSION + 1 }));
  await assert.rejects(Store.open(h2), /newer than this daemon/);
  await assert.rejects(Store.open(h2), /newer than this daemon/, 'the lock was released on failure');
});

test('a corrupt store file is refused with a clear message', async () => {
  const h = home();
  writeFileSync(join(h, 'store.json'), '{"users": [');
  await assert.rejects(Store.open(h), /not valid JSON/);
});

test('home lock: a live holder is respected and named; a dead one is recovered', () => {
  const h = home();
  const lock = acquireHomeLock(h);
  lock.release();
  writeFileSync(join(h, 'daemon.lock'), JSON.stringify({ pid: process.ppid, started_at: 'x' }));
  assert.throws(() => acquireHomeLock(h), (e: unknown) => e instanceof HomeLockedError && e.message.includes(`pid ${process.ppid}`));
  writeFileSync(join(h, 'daemon.lock'), JSON.stringify({ pid: 2 ** 22 + 7, started_at: 'long ago' }));
  const again = acquireHomeLock(h);
  assert.equal(again.recoveredFrom?.pid, 2 ** 22 + 7);
  again.release();
  assert.ok(!existsSync(join(h, 'daemon.lock')));
});

test('journal replay: puts replace in place, new keys go last, deletes close the gap (random ops against plain array edits), and 20,000 deletes replay at once', () => {
  // The reference: what each operation means on an array of rows, applied one at a time.
  const reference = (rows: ProductRow[], ops: Op[]) => {
    const out = [...rows];
    for (const op of ops) {
      const i = out.findIndex((r) => r.product_id === op.k);
      if ('del' in op) { if (i >= 0) out.splice(i, 1); } else if (i >= 0) out[i] = op.row as ProductRow; else out.push(op.row as ProductRow);
    }
    return out;
  };
  let seed = 42;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  for (let round = 0; round < 50; round++) {
    const start = Array.from({ length: rand(20) }, (_, i) => product(`p${i}`, i));
    const ops: Op[] = Array.from({ length: rand(60) }, () => {
      const k = `p${rand(30)}`;
      return rand(3) === 0 ? { t: 'products', k, del: 1 } : { t: 'products', k, row: product(k, rand(1000)) };
    });
    const data = { ...emptyData(), products: [...start] };
    const table = data.products;
    applyOps(data, ops);
    assert.equal(data.products, table, 'the same array, edited');
    assert.deepEqual(data.products, reference(start, ops), `round ${round}`);
  }
  const many = { ...emptyData(), products: Array.from({ length: 20_000 }, (_, i) => product(`p${i}`)) };
  const t = performance.now();
  applyOps(many, many.products.map((r) => ({ t: 'products', k: r.product_id, del: 1 }) as Op));
  assert.equal(many.products.length, 0);
  // The quadratic replay (a splice and a re-index per delete) took 45 s for these; linear: ~30 ms.
  assert.ok(performance.now() - t < 1000, `20,000 deletes replayed in ${(performance.now() - t).toFixed(0)} ms`);
});
