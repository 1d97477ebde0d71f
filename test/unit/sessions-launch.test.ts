// The sessions service's launch when the store fails around the sandbox's start: the pending record
// is written at the same time as the provider starts the sandbox, "running" after it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Store } from '../../daemon/store';
import { sessions } from '../../daemon/services/sessions';
import type { ServiceContext } from '../../daemon/services/context';
import type { ComputeProvider, LaunchSpec, SessionRef } from '../../daemon/providers/types';

/**
 * A store with one user and workspace, and a provider whose sandbox takes a moment to start
 * (`starting` runs meanwhile) and that records what it was asked: a stand-in for the provider,
 * whose own tests are the integration tier.
 */
async function launchWith(starting: (store: Store) => Promise<void>) {
  const home = mkdtempSync(join(tmpdir(), 'onmemos-unit-'));
  const store = await Store.open(home, undefined, { lock: false });
  const now = new Date().toISOString();
  await store.write((_d, tx) => {
    tx.put('users', { user_id: 'u1', email: 'u1@example.com', name: 'u1', user_type: 'free', credits: 10, created_at: now, updated_at: now });
    tx.put('workspaces', { workspace_id: 'w1', user_id: 'u1', name: 'dev', resource_package: 'dev-small', description: '', k8s_namespace: 'ns', ksa_name: '', gsa_email: '',
      identity_state: 'none' as never, defaults: { bucket_id: null, filestore_id: null }, created_at: now });
  });
  const launched: string[] = [];
  const ended: string[] = [];
  const compute = {
    name: 'local',
    check: async () => {},
    launch: async (spec: LaunchSpec) => { launched.push(spec.sandbox_name); await starting(store); },
    terminate: async (ref: SessionRef) => { ended.push(ref.sandbox_name); },
  } as unknown as ComputeProvider;
  const ctx = { config: { minuteMs: 60_000, maxOutputBytes: 1 << 20 }, log: { info() {}, warn() {}, error() {} }, store, compute } as unknown as ServiceContext;
  const w = { ...(store.get('workspaces', 'w1')!) };
  const launch = () => sessions(ctx).launch('u1', w, {
    ttl_minutes: 5, env: {}, request_bucket: false, bucket_size_gb: 1, request_persistent_storage: false, persistent_storage_size_gb: 1,
  });
  return { store, launch, launched, ended, remove: () => rmSync(home, { recursive: true, force: true }) };
}

test('a store that fails while the sandbox starts: the launch fails (no unhandled rejection), the sandbox is ended', async () => {
  const t = await launchWith(() => new Promise((r) => setTimeout(r, 50)));
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    await t.store.close(); // every write from now on fails at once
    await assert.rejects(t.launch(), /store is closed/);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(unhandled, []);
    assert.equal(t.launched.length, 1);
    assert.deepEqual(t.ended, t.launched, 'the sandbox that started is ended');
  } finally {
    process.off('unhandledRejection', onUnhandled);
    t.remove();
  }
});

test('a store that closes after the pending record is durable but before "running": the launch fails and its sandbox is ended', async () => {
  // The stand-in provider closes the store while "starting" (after the pending record landed).
  const t = await launchWith(async (store) => {
    await new Promise((r) => setTimeout(r, 30));
    await store.close();
  });
  try {
    await assert.rejects(t.launch(), /store is closed/);
    assert.equal(t.launched.length, 1);
    assert.deepEqual(t.ended, t.launched, 'the sandbox that came up is ended');
  } finally {
    t.remove();
  }
});
