import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, SCHEMA_VERSION } from '../../daemon/store';
import { acquireHomeLock, HomeLockedError } from '../../daemon/store/lock';

const home = () => mkdtempSync(join(tmpdir(), 'onmemos-store-'));

test('concurrent writes are coalesced into few durable file writes, all present after reopen', async () => {
  const h = home();
  const store = await Store.open(h);
  const before = store.fileWrites;
  await Promise.all(Array.from({ length: 200 }, (_, i) => store.write((d) => {
    d.products.push({ product_id: `p${i}`, name: `n${i}`, description: '', credits: i + 1, active: true, created_at: '' });
  })));
  const writes = store.fileWrites - before;
  assert.ok(writes >= 1 && writes <= 3, `200 concurrent writes took ${writes} file writes`);
  await store.close();
  const onDisk = JSON.parse(readFileSync(join(h, 'store.json'), 'utf8'));
  assert.equal(onDisk.products.length, 200);
  const again = await Store.open(h);
  assert.equal(again.data.products.length, 200);
  await again.close();
});

test('a mutation that throws changes nothing and rejects', async () => {
  const store = await Store.open(home());
  await assert.rejects(store.write(() => { throw new Error('nope'); }), /nope/);
  assert.equal(store.data.users.length, 0);
  await store.close();
});

test('write resolves only after the data is in the file', async () => {
  const h = home();
  const store = await Store.open(h);
  await store.write((d) => { d.products.push({ product_id: 'x', name: 'x', description: '', credits: 1, active: true, created_at: '' }); });
  assert.equal(JSON.parse(readFileSync(join(h, 'store.json'), 'utf8')).products[0].product_id, 'x');
  await store.close();
});

test('a crash between temp file and rename leaves the previous version, and the temp file is discarded', async () => {
  const h = home();
  const store = await Store.open(h);
  await store.write((d) => { d.products.push({ product_id: 'kept', name: 'k', description: '', credits: 1, active: true, created_at: '' }); });
  store.adapter.beforeRename = () => { throw new Error('simulated crash before rename'); };
  await assert.rejects(store.write((d) => { d.products.push({ product_id: 'lost', name: 'l', description: '', credits: 1, active: true, created_at: '' }); }));
  assert.ok(existsSync(join(h, '.store.json.tmp')));
  await store.close();
  const again = await Store.open(h);
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
  // the lock was released: opening again fails for the same reason, not the lock
  await assert.rejects(Store.open(h2), /newer than this daemon/);
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
  // another live node process (the test runner that spawned us) holds it
  writeFileSync(join(h, 'daemon.lock'), JSON.stringify({ pid: process.ppid, started_at: 'x' }));
  assert.throws(() => acquireHomeLock(h), (e: unknown) => e instanceof HomeLockedError && e.message.includes(`pid ${process.ppid}`));
  // a dead pid: recovered
  writeFileSync(join(h, 'daemon.lock'), JSON.stringify({ pid: 2 ** 22 + 7, started_at: 'long ago' }));
  const again = acquireHomeLock(h);
  assert.equal(again.recoveredFrom?.pid, 2 ** 22 + 7);
  again.release();
  assert.ok(!existsSync(join(h, 'daemon.lock')));
});
