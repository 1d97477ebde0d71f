// Two daemons on one cluster, and the apiserver's refusals: gc collects only its own installation's
// objects and nothing younger than its grace period; a namespace that exists but is not the
// workspace's (a stranger's, or one being deleted) is refused with a 409; a ResourceQuota refusal is
// a 409 with the apiserver's reason. Against the cluster tier's real kube-apiserver + kwok.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ApiError } from '../../daemon/errors.js';
import { createGkeProviders, type GkeProviders } from '../../daemon/providers/gke/index.js';
import type { LaunchSpec, WorkspaceRef } from '../../daemon/providers/types.js';

const state = JSON.parse(readFileSync(process.env.ONMEMOS_CLUSTER_STATE!, 'utf8')) as { kubeconfig: string; gcs: string };
const kc = new KubeConfig();
kc.loadFromFile(state.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);

const homes: string[] = [];
const newHome = () => {
  const h = mkdtempSync(join(tmpdir(), 'onmemos-gke-iso-'));
  homes.push(h);
  return h;
};
const wsRef = (id: string): WorkspaceRef => ({ workspace_id: id, user_id: 'user_iso', name: id, k8s_namespace: `onm-${id}`, ksa_name: 'onmemos-workspace', gsa_email: '' });
const spec = (ws: WorkspaceRef, id: string): LaunchSpec => ({
  session_id: id,
  sandbox_name: id,
  namespace: ws.k8s_namespace,
  workspace: ws,
  template: { id: 'base', name: 'Base', image: 'debian:12-slim', cpu: '100m', memory: '128Mi', description: '' },
  env: {},
  mounts: [],
  ttl_minutes: 10,
  expires_at: new Date(Date.now() + 600_000).toISOString(),
});
const open = (home: string, over: { gcGraceMs?: number } = {}) =>
  createGkeProviders({ home, ...over, project: 'test-proj', kubeconfig: state.kubeconfig, gcsEndpoint: state.gcs, launchTimeoutMs: 30_000 });
/** The object, unless it is gone or going. */
const present = async <T extends { metadata?: { deletionTimestamp?: Date } }>(read: Promise<T>) =>
  read.then((o) => (o.metadata?.deletionTimestamp ? undefined : o), (e: { code?: number }) => (e.code === 404 ? undefined : Promise.reject(e)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const wsA = wsRef('ws-iso-a');
const wsB = wsRef('ws-iso-b');
let homeA = '';
let homeB = '';
let a: GkeProviders;
let b: GkeProviders;

before(async () => {
  homeA = newHome();
  a = await open(homeA, { gcGraceMs: 0 });
  homeB = newHome();
  b = await open(homeB); // the default grace period (10 min)
});

after(async () => {
  for (const p of [a, b]) await p?.compute.close();
  for (const ws of [wsA, wsB]) await core.deleteNamespace({ name: ws.k8s_namespace }).catch(() => {});
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe('gke provider: two daemons on one cluster', () => {
  it('each daemon has its own installation id, kept in its home (0600) and stable across restarts', async () => {
    assert.match(a.settings.installation, /^[a-z0-9]{16,40}$/);
    assert.notEqual(a.settings.installation, b.settings.installation);
    const file = join(homeA, 'gke-installation-id');
    assert.equal(readFileSync(file, 'utf8').trim(), a.settings.installation);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal((await open(homeA)).settings.installation, a.settings.installation);
  });

  it("gc of one daemon leaves the other's namespace and pod alone", async () => {
    await a.ensureIdentity(wsA);
    await b.ensureIdentity(wsB);
    await a.compute.launch(spec(wsA, 'shuttle-a-live'));
    await a.compute.launch(spec(wsA, 'shuttle-a-orphan'));
    await b.compute.launch(spec(wsB, 'shuttle-b-live'));
    const nsA = await core.readNamespace({ name: wsA.k8s_namespace });
    assert.equal(nsA.metadata?.labels?.['onmemos.dev/installation-id'], a.settings.installation);
    const podB = await core.readNamespacedPod({ name: 'shuttle-b-live', namespace: wsB.k8s_namespace });
    assert.equal(podB.metadata?.labels?.['onmemos.dev/installation-id'], b.settings.installation);

    // A's store knows only its own workspace and live session; B's are not in it.
    const live = { workspace_ids: [wsA.workspace_id], session_ids: ['shuttle-a-live'], resource_ids: [] };
    const dry = await a.gc(live, true);
    const names = dry.orphans.map((o) => `${o.kind} ${o.namespace ? o.namespace + '/' : ''}${o.name}`);
    assert.ok(!names.some((n) => n.includes(wsB.k8s_namespace)), `B's objects listed as A's orphans: ${names.join(', ')}`);
    assert.ok(names.includes(`Pod ${wsA.k8s_namespace}/shuttle-a-orphan`), names.join(', '));
    const wet = await a.gc(live);
    assert.deepEqual(wet.errors, []);

    assert.ok(await present(core.readNamespace({ name: wsB.k8s_namespace })), "B's namespace survives A's gc");
    assert.ok(await present(core.readNamespacedPod({ name: 'shuttle-b-live', namespace: wsB.k8s_namespace })), "B's pod survives A's gc");
    assert.equal(await b.compute.isAlive({ session_id: 'shuttle-b-live', sandbox_name: 'shuttle-b-live', namespace: wsB.k8s_namespace }), true);
    assert.equal(await present(core.readNamespacedPod({ name: 'shuttle-a-orphan', namespace: wsA.k8s_namespace })), undefined, "A's own orphan is collected");
    assert.ok(await present(core.readNamespacedPod({ name: 'shuttle-a-live', namespace: wsA.k8s_namespace })), "A's live pod stays");
  });

  it('gc never collects an orphan younger than the grace period (a create in flight)', async () => {
    // B's store does not know this session (as while its launch is still being recorded).
    await b.compute.launch(spec(wsB, 'shuttle-b-young'));
    const live = { workspace_ids: [wsB.workspace_id], session_ids: ['shuttle-b-live'], resource_ids: [] };
    const dry = await b.gc(live, true);
    assert.deepEqual(dry.orphans.filter((o) => o.name === 'shuttle-b-young'), []);
    await b.gc(live);
    assert.ok(await present(core.readNamespacedPod({ name: 'shuttle-b-young', namespace: wsB.k8s_namespace })), 'the young pod is left alone');
    // Past the grace period it is an orphan like any other.
    const later = await open(homeB, { gcGraceMs: 0 });
    assert.equal(later.settings.installation, b.settings.installation);
    assert.ok((await later.gc(live, true)).orphans.some((o) => o.name === 'shuttle-b-young'));
  });
});

describe('gke provider: namespaces that are not the workspace\'s, and quotas', () => {
  it("a same-named namespace that is not the workspace's is a 409, not silently adopted", async () => {
    const ws = wsRef('ws-iso-stranger');
    await core.createNamespace({ body: { metadata: { name: ws.k8s_namespace, labels: { team: 'someone-else' } } } });
    try {
      await assert.rejects(a.ensureIdentity(ws), (e: unknown) => e instanceof ApiError && e.status === 409 && /not workspace ws-iso-stranger's/.test(e.message));
      await assert.rejects(core.readNamespacedServiceAccount({ name: ws.ksa_name, namespace: ws.k8s_namespace }), (e: { code?: number }) => e.code === 404, 'no KSA made in it');
    } finally {
      await core.deleteNamespace({ name: ws.k8s_namespace }).catch(() => {});
    }
  });

  it('a namespace being deleted: ensure-identity and launch are 409s that say to wait, not 500s', async () => {
    const ws = wsRef('ws-iso-terminating');
    await a.ensureIdentity(ws);
    // A finalizer on an object inside holds the namespace in Terminating.
    await core.createNamespacedConfigMap({ namespace: ws.k8s_namespace, body: { metadata: { name: 'hold', finalizers: ['onmemos.dev/test-hold'] } } });
    await core.deleteNamespace({ name: ws.k8s_namespace });
    try {
      for (let i = 0; i < 40 && !(await core.readNamespace({ name: ws.k8s_namespace })).metadata?.deletionTimestamp; i++) await sleep(100);
      await assert.rejects(a.ensureIdentity(ws), (e: unknown) => e instanceof ApiError && e.status === 409 && /being deleted/.test(e.message));
      await assert.rejects(a.compute.launch(spec(ws, 'shuttle-term')), (e: unknown) => e instanceof ApiError && e.status === 409 && /being terminated/.test(e.message) && /wait/.test(e.message));
    } finally {
      const hold = await core.readNamespacedConfigMap({ name: 'hold', namespace: ws.k8s_namespace });
      hold.metadata!.finalizers = [];
      await core.replaceNamespacedConfigMap({ name: 'hold', namespace: ws.k8s_namespace, body: hold });
    }
  });

  it("a ResourceQuota refusal is a 409 carrying the apiserver's reason", async () => {
    const ws = wsRef('ws-iso-quota');
    await a.ensureIdentity(ws);
    try {
      await core.createNamespacedResourceQuota({ namespace: ws.k8s_namespace, body: { metadata: { name: 'no-pods' }, spec: { hard: { pods: '0' } } } });
      for (let i = 0; i < 40 && !(await core.readNamespacedResourceQuota({ name: 'no-pods', namespace: ws.k8s_namespace })).status?.hard; i++) await sleep(250);
      await assert.rejects(a.compute.launch(spec(ws, 'shuttle-quota')), (e: unknown) => {
        assert.ok(e instanceof ApiError, `a typed error, not ${String(e)}`);
        assert.equal(e.status, 409, e.message);
        assert.match(e.message, /exceeded quota: no-pods/);
        assert.equal((e.details as { kubernetes?: { code?: number } }).kubernetes?.code, 403);
        return true;
      });
    } finally {
      await core.deleteNamespace({ name: ws.k8s_namespace }).catch(() => {});
    }
  });
});
