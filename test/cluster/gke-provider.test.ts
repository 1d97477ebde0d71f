// The gke provider against a real kube-apiserver (kwok plays the nodes and runs exec locally) and
// fake-gcs-server. Started by test/cluster/run.mjs; ONMEMOS_CLUSTER_STATE points at its state file.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig, StorageV1Api } from '@kubernetes/client-node';
import { ApiError } from '../../daemon/errors.js';
import { createGkeProviders, type GkeProviders } from '../../daemon/providers/gke/index.js';
import type { LaunchSpec, MountSpec, SessionRef, WorkspaceRef } from '../../daemon/providers/types.js';

const state = JSON.parse(readFileSync(process.env.ONMEMOS_CLUSTER_STATE!, 'utf8')) as { kubeconfig: string; gcs: string; audit_log: string };

// An independent client to read back what the provider made.
const kc = new KubeConfig();
kc.loadFromFile(state.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const storageApi = kc.makeApiClient(StorageV1Api);

const ws: WorkspaceRef = {
  workspace_id: 'ws-cl1',
  user_id: 'user_cluster',
  name: 'Cluster Test',
  k8s_namespace: 'onm-ws-cl1',
  ksa_name: 'onmemos-shuttle',
  gsa_email: 'onm-abc@test-proj.iam.gserviceaccount.com',
};
const vault = { resource_id: 'vault-a1', name: 'data', type: 'bucket' as const, size_gb: 10 };
const drive = { resource_id: 'drive-b2', name: 'scratch', type: 'filestore' as const, size_gb: 1024 };

// The daemon's home, where the provider keeps its installation id.
const home = mkdtempSync(join(tmpdir(), 'onmemos-gke-provider-'));
let gke: GkeProviders;
let bucket = '';
let auditStart = 0;
let auditEnd = 0;
let launchTrips = -1;
const events: string[] = [];

before(async () => {
  // gcGraceMs 0: the gc case below collects an orphan it has just made.
  gke = await createGkeProviders({ home, gcGraceMs: 0, kubeconfig: state.kubeconfig, gcsEndpoint: state.gcs, project: 'test-proj', launchTimeoutMs: 60_000, log: (e) => events.push(e) });
  // GKE ships the standard-rwx class (Filestore CSI). Here the class has no provisioner running, so a
  // pre-made RWX volume is what the real controller-manager binds the claim to.
  await storageApi.createStorageClass({ body: { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'standard-rwx' }, provisioner: 'filestore.csi.storage.gke.io', volumeBindingMode: 'Immediate' } }).catch(ignore409);
  await core.createPersistentVolume({
    body: {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'test-filestore-1' },
      spec: { capacity: { storage: '1Ti' }, accessModes: ['ReadWriteMany'], storageClassName: 'standard-rwx', nfs: { server: '127.0.0.1', path: '/share' } },
    },
  }).catch(ignore409);
});

after(async () => {
  await gke?.compute.close();
  rmSync(home, { recursive: true, force: true });
});

function ignore409(err: { code?: number }) {
  if (err.code !== 409) throw err;
}

const mounts: MountSpec[] = [
  { resource_id: vault.resource_id, type: 'bucket', name: vault.name, mount_path: '/workspace', access_mode: 'RW' },
  { resource_id: 'vault-ro', type: 'bucket', name: 'reference', mount_path: '/ref', access_mode: 'RO' },
  { resource_id: drive.resource_id, type: 'filestore', name: drive.name, mount_path: '/data', access_mode: 'RW' },
];
const session = (id: string): SessionRef => ({ session_id: id, sandbox_name: id, namespace: ws.k8s_namespace });
const spec = (id: string, m: MountSpec[] = mounts): LaunchSpec => ({
  ...session(id),
  workspace: ws,
  template: { id: 'python', name: 'Python', image: 'python:3.12-slim', cpu: '250m', memory: '512Mi', description: '' },
  env: { GREETING: 'hi' },
  mounts: m,
  ttl_minutes: 20,
  expires_at: new Date(Date.now() + 20 * 60_000).toISOString(),
});

describe('gke provider against a real apiserver and GCS emulator', () => {
  it('ensure workspace: namespace and KSA with the Workload Identity annotation, idempotent', async () => {
    const first = (await gke.ensureIdentity(ws)).identity;
    assert.equal(first.steps.namespace.state, 'created');
    assert.equal(first.steps.service_account.state, 'created');
    assert.equal(first.steps.google_service_account.state, 'skipped');
    assert.equal(first.state, 'ready');
    const ns = await core.readNamespace({ name: ws.k8s_namespace });
    assert.equal(ns.metadata?.labels?.['app.kubernetes.io/managed-by'], 'onmemos');
    assert.equal(ns.metadata?.labels?.['onmemos.dev/workspace-id'], ws.workspace_id);
    assert.equal(ns.metadata?.labels?.['onmemos.dev/user-id'], ws.user_id);
    const sa = await core.readNamespacedServiceAccount({ name: ws.ksa_name, namespace: ws.k8s_namespace });
    assert.equal(sa.metadata?.annotations?.['iam.gke.io/gcp-service-account'], ws.gsa_email);
    const again = (await gke.ensureIdentity(ws)).identity;
    assert.equal(again.steps.namespace.state, 'exists');
    assert.equal(again.steps.service_account.state, 'exists');
    // A new GSA converges the annotation on rerun.
    const moved = (await gke.ensureIdentity({ ...ws, gsa_email: 'other@test-proj.iam.gserviceaccount.com' })).identity;
    assert.equal(moved.steps.service_account.state, 'updated');
    const sa2 = await core.readNamespacedServiceAccount({ name: ws.ksa_name, namespace: ws.k8s_namespace });
    assert.equal(sa2.metadata?.annotations?.['iam.gke.io/gcp-service-account'], 'other@test-proj.iam.gserviceaccount.com');
    await gke.ensureIdentity(ws);
  });

  it('vault: a bucket in the emulator, objects round-trip, idempotent create', async () => {
    ({ backing_name: bucket } = await gke.storage.createResource(ws, vault));
    assert.match(bucket, /^onmemos-data-[0-9a-f]{10}$/);
    const again = await gke.storage.createResource(ws, vault);
    assert.equal(again.backing_name, bucket);
    const res = await fetch(`${state.gcs}/storage/v1/b/${bucket}`);
    assert.equal(res.status, 200, 'the emulator has the bucket');
    const { Storage } = await import('@google-cloud/storage');
    const gcs = new Storage({ apiEndpoint: state.gcs, projectId: 'test-proj' });
    await gcs.bucket(bucket).file('notes/hello.txt').save('hello from a vault');
    const [back] = await gcs.bucket(bucket).file('notes/hello.txt').download();
    assert.equal(back.toString(), 'hello from a vault');
    await gke.storage.createResource(ws, { resource_id: 'vault-ro', name: 'reference', type: 'bucket', size_gb: 1 });
  });

  it('drive: too small for the class is a clear 400; else a RWX PVC with the class, bound', async () => {
    await assert.rejects(gke.storage.createResource(ws, { ...drive, size_gb: 10 }), (e: unknown) => e instanceof ApiError && e.status === 400 && /1 TiB/.test(e.message));
    const { backing_name } = await gke.storage.createResource(ws, drive);
    assert.equal(backing_name, 'scratch');
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: 'scratch', namespace: ws.k8s_namespace });
    assert.deepEqual(pvc.spec?.accessModes, ['ReadWriteMany']);
    assert.equal(pvc.spec?.storageClassName, 'standard-rwx');
    assert.equal(pvc.spec?.resources?.requests?.storage, '1Ti');
    assert.equal(pvc.metadata?.labels?.['onmemos.dev/resource-id'], drive.resource_id);
    // The real PV binder (kube-controller-manager) binds it.
    for (let i = 0; i < 120 && (await core.readNamespacedPersistentVolumeClaim({ name: 'scratch', namespace: ws.k8s_namespace })).status?.phase !== 'Bound'; i++) await new Promise((r) => setTimeout(r, 250));
    assert.equal((await core.readNamespacedPersistentVolumeClaim({ name: 'scratch', namespace: ws.k8s_namespace })).status?.phase, 'Bound');
  });

  it('launch: pod spec read back has the CSI volumes, annotation, requests, mounts; it runs; round trips <= 3', async () => {
    const progress: string[] = [];
    auditStart = readFileSync(state.audit_log, 'utf8').split('\n').filter(Boolean).length;
    gke.kube.requests.reset();
    const t0 = Date.now();
    await gke.compute.launch(spec('shuttle-c1'), (m) => progress.push(m));
    const ms = Date.now() - t0;
    auditEnd = readFileSync(state.audit_log, 'utf8').split('\n').filter(Boolean).length;
    const trips = gke.kube.requests.count;
    console.log(`# gke launch (warm workspace): ${trips} apiserver round trips [${gke.kube.requests.entries.join(', ')}], ${ms} ms`);
    launchTrips = trips;
    assert.ok(trips <= 3, `round trips per launch: ${trips}`);
    assert.ok(progress.some((p) => /created/.test(p)), progress.join(' | '));
    const pod = await core.readNamespacedPod({ name: 'shuttle-c1', namespace: ws.k8s_namespace });
    assert.equal(pod.status?.phase, 'Running');
    assert.equal(pod.metadata?.annotations?.['gke-gcsfuse/volumes'], 'true');
    assert.equal(pod.metadata?.labels?.['onmemos.dev/session-id'], 'shuttle-c1');
    assert.equal(pod.spec?.serviceAccountName, ws.ksa_name);
    assert.equal(pod.spec?.activeDeadlineSeconds, 1200);
    assert.equal(pod.spec?.securityContext?.runAsNonRoot, true);
    assert.equal(pod.metadata?.labels?.['onmemos.dev/installation-id'], gke.settings.installation);
    // No Kubernetes API token in the shuttle: the apiserver's ServiceAccount admission adds no
    // kube-api-access volume, and nothing is mounted at the token path.
    assert.equal(pod.spec?.automountServiceAccountToken, false);
    assert.equal(pod.spec?.enableServiceLinks, false);
    assert.deepEqual(pod.spec!.volumes!.filter((v) => v.name.startsWith('kube-api-access') || v.projected).map((v) => v.name), []);
    assert.ok(!pod.spec!.containers.some((x) => x.volumeMounts?.some((m) => m.mountPath.startsWith('/var/run/secrets/kubernetes.io'))), 'no service account token mount');
    const c = pod.spec!.containers[0]!;
    assert.deepEqual(c.resources?.requests, { cpu: '250m', memory: '512Mi' });
    const csi = pod.spec!.volumes!.filter((v) => v.csi);
    assert.equal(csi.length, 2);
    assert.equal(csi[0]!.csi!.driver, 'gcsfuse.csi.storage.gke.io');
    assert.equal(csi[0]!.csi!.volumeAttributes?.bucketName, bucket);
    assert.match(csi[0]!.csi!.volumeAttributes?.mountOptions ?? '', /implicit-dirs/);
    assert.equal(csi[1]!.csi!.readOnly, true);
    assert.equal(pod.spec!.volumes!.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName, 'scratch');
    assert.deepEqual(c.volumeMounts!.map((m) => [m.mountPath, !!m.readOnly]), [['/workspace', false], ['/ref', true], ['/data', false]]);
    assert.equal(await gke.compute.isAlive(session('shuttle-c1')), true);
  });

  it('the apiserver audit log agrees on the launch round trips', async () => {
    // Every request the apiserver received while launch ran, less the scheduler's and kwok's own.
    const ours = readFileSync(state.audit_log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .slice(auditStart, auditEnd)
      .map((l) => JSON.parse(l) as { verb: string; userAgent?: string; objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string } })
      .filter((e) => !/^(kube-|kwok)/.test(e.userAgent ?? ''));
    console.log(`# audit during launch: ${ours.map((e) => `${e.verb} ${e.objectRef?.resource ?? ''}${e.objectRef?.subresource ? '/' + e.objectRef.subresource : ''} (${e.userAgent})`).join(', ')}`);
    assert.equal(ours.length, launchTrips, 'the apiserver saw as many requests as the provider counted');
  });

  it('execute: output and exit codes through the apiserver exec stream', async () => {
    const base = { timeout_seconds: 20, max_output_bytes: 1 << 20 };
    const ok = await gke.compute.execute(session('shuttle-c1'), { ...base, command: 'echo hello-from-pod; echo oops >&2' });
    assert.equal(ok.stdout, 'hello-from-pod\n');
    assert.equal(ok.stderr, 'oops\n');
    assert.equal(ok.exit_code, 0);
    assert.equal(ok.timed_out, false);
    const bad = await gke.compute.execute(session('shuttle-c1'), { ...base, command: 'exit 3' });
    assert.equal(bad.exit_code, 3);
    const env = await gke.compute.execute(session('shuttle-c1'), { ...base, command: 'echo "$GREETING2"', env: { GREETING2: 'hey there' } });
    assert.equal(env.stdout, 'hey there\n');
    const capped = await gke.compute.execute(session('shuttle-c1'), { ...base, max_output_bytes: 10, command: 'printf "%050d" 0' });
    assert.equal(capped.stdout.length, 10);
    assert.equal(capped.truncated, true);
    const slow = await gke.compute.execute(session('shuttle-c1'), { ...base, timeout_seconds: 1, command: 'sleep 30' });
    assert.equal(slow.timed_out, true);
    assert.ok(slow.duration_ms < 5000, `killed at the deadline, took ${slow.duration_ms} ms`);
  });

  it('shell: a tty through exec, resize reaches it, exit code on exit', async () => {
    const shell = await gke.compute.openShell(session('shuttle-c1'), { cols: 80, rows: 24 });
    let out = '';
    shell.onData((c) => (out += c.toString()));
    const exited = new Promise<number>((r) => shell.onExit(r));
    const waitOut = async (re: RegExp) => {
      for (let i = 0; i < 100 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, re);
    };
    shell.write('echo marker-$((6*7))\n');
    await waitOut(/marker-42/);
    shell.resize(101, 33);
    await new Promise((r) => setTimeout(r, 300));
    shell.write('stty size\n');
    await waitOut(/33 101/);
    const [info] = await gke.compute.listShells!(session('shuttle-c1'));
    assert.equal(info?.shell_id, shell.shell_id);
    assert.deepEqual([info?.cols, info?.rows, info?.attached], [101, 33, true]);
    // Detach; the shell lingers; reattach gets the scrollback, then live output.
    shell.detach();
    assert.equal((await gke.compute.listShells!(session('shuttle-c1')))[0]?.attached, false);
    const again = await gke.compute.openShell!(session('shuttle-c1'), { cols: 90, rows: 30, attach: shell.shell_id });
    let out2 = '';
    again.onData((c) => (out2 += c.toString()));
    const exited2 = new Promise<number>((r) => again.onExit(r));
    for (let i = 0; i < 50 && !/marker-42/.test(out2); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out2, /marker-42/, 'scrollback replayed on attach');
    await assert.rejects(gke.compute.openShell!(session('shuttle-c1'), { cols: 80, rows: 24, attach: 'no-such-shell' }), (e: unknown) => e instanceof ApiError && e.status === 404);
    again.write('exit 5\n');
    assert.equal(await exited2, 5);
    void exited;
  });

  it('launch failure is loud and carries the pod events', async () => {
    const bad = { ...spec('shuttle-nopvc', [{ resource_id: 'drive-missing', type: 'filestore', name: 'missing', mount_path: '/data', access_mode: 'RW' }]) };
    const fast = await createGkeProviders({ home, kubeconfig: state.kubeconfig, gcsEndpoint: state.gcs, launchTimeoutMs: 4000 });
    await assert.rejects(fast.compute.launch(bad), (e: unknown) => e instanceof ApiError && e.status === 503 && /did not start/.test(e.message) && /persistentvolumeclaim "missing" not found|missing/.test(e.message));
    await assert.rejects(core.readNamespacedPod({ name: 'shuttle-nopvc', namespace: ws.k8s_namespace }), (e: { code?: number }) => e.code === 404, 'the failed pod is removed');
  });

  it('gc finds orphans by label and deletes them', async () => {
    await gke.compute.launch(spec('shuttle-orphan', []));
    const dry = await gke.gc({ workspace_ids: [ws.workspace_id], session_ids: ['shuttle-c1'], resource_ids: [vault.resource_id, 'vault-ro', drive.resource_id] }, true);
    // Other test files share this cluster: look at this workspace's objects only.
    const mine = dry.orphans.filter((o) => o.kind !== 'Bucket' && (o.namespace === ws.k8s_namespace || o.name === ws.k8s_namespace));
    assert.deepEqual(mine.map((o) => o.name), ['shuttle-orphan']);
    const wet = await gke.gc({ workspace_ids: [ws.workspace_id], session_ids: ['shuttle-c1'], resource_ids: [vault.resource_id, 'vault-ro', drive.resource_id] });
    assert.deepEqual(wet.errors, []);
    assert.equal(await gke.compute.isAlive(session('shuttle-orphan')), false);
    assert.equal(await gke.compute.isAlive(session('shuttle-c1')), true);
  });

  it('terminate and delete clean everything up', async () => {
    await gke.compute.terminate(session('shuttle-c1'));
    await gke.compute.terminate(session('shuttle-c1')); // idempotent
    assert.equal(await gke.compute.isAlive(session('shuttle-c1')), false);
    for (let i = 0; i < 100; i++) {
      const gone = await core.readNamespacedPod({ name: 'shuttle-c1', namespace: ws.k8s_namespace }).then(() => false, (e: { code?: number }) => e.code === 404);
      if (gone) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await assert.rejects(gke.compute.execute(session('shuttle-c1'), { command: 'true', timeout_seconds: 5, max_output_bytes: 100 }), (e: unknown) => e instanceof ApiError && e.status === 409);
    await gke.storage.deleteResource(ws, { ...vault, backing_name: bucket });
    assert.equal((await fetch(`${state.gcs}/storage/v1/b/${bucket}`)).status, 404, 'bucket deleted (with its objects)');
    await gke.storage.deleteResource(ws, { ...drive, backing_name: 'scratch' });
    await assert.rejects(core.readNamespacedPersistentVolumeClaim({ name: 'scratch', namespace: ws.k8s_namespace }).then((p) => (p.metadata?.deletionTimestamp ? Promise.reject({ code: 404 }) : p)), (e: { code?: number }) => e.code === 404);
    await gke.storage.deleteWorkspace(ws);
    const ns = await core.readNamespace({ name: ws.k8s_namespace }).catch((e: { code?: number }) => (e.code === 404 ? undefined : Promise.reject(e)));
    assert.ok(!ns || ns.status?.phase === 'Terminating' || !!ns.metadata?.deletionTimestamp, 'namespace deleted or terminating');
  });
});
