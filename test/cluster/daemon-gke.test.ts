// The real daemon with --provider gke against the cluster tier's kube-apiserver + kwok and
// fake-gcs-server: the seed SDK's flow, checked through the API and read back from the servers.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { OnMemOSApiError, PTY_SUBPROTOCOL } from '../../daemon/client';
import { openWs } from '../helpers/ws';
import { newUser, removeHome, startDaemon, tempHome, type RunningDaemon } from '../helpers/daemon';

const state = JSON.parse(readFileSync(process.env.ONMEMOS_CLUSTER_STATE!, 'utf8')) as { kubeconfig: string; gcs: string };
const kc = new KubeConfig();
kc.loadFromFile(state.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);

let d: RunningDaemon;
before(async () => {
  // A pre-made RWX volume for the drive (no Filestore provisioner here); the class is shared with the
  // provider test, the volume is this file's own.
  await kc.makeApiClient((await import('@kubernetes/client-node')).StorageV1Api)
    .createStorageClass({ body: { metadata: { name: 'standard-rwx' }, provisioner: 'filestore.csi.storage.gke.io', volumeBindingMode: 'Immediate' } })
    .catch((e: { code?: number }) => { if (e.code !== 409) throw e; });
  await core.createPersistentVolume({
    body: { metadata: { name: 'test-filestore-daemon' }, spec: { capacity: { storage: '1Ti' }, accessModes: ['ReadWriteMany'], storageClassName: 'standard-rwx', nfs: { server: '127.0.0.1', path: '/daemon' } } },
  }).catch((e: { code?: number }) => { if (e.code !== 409) throw e; });
  const home = tempHome();
  d = await startDaemon({
    home,
    args: ['--provider', 'gke'],
    // No ONMEMOS_HOME: the provider gets the daemon's --home, where it keeps its installation id.
    env: { ONMEMOS_HOME: '', KUBECONFIG: state.kubeconfig, ONMEMOS_GCS_ENDPOINT: state.gcs, GCP_PROJECT: 'test-proj', ONMEMOS_LAUNCH_TIMEOUT_S: '60' },
    timeoutMs: 60_000,
  });
  assert.ok(existsSync(join(home, 'gke-installation-id')), 'the provider keeps its installation id in the daemon\'s home');
});
after(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
});

test('daemon --provider gke: workspace, vault, drive, session as a pod, execute, terminate, delete', async (t) => {
  let ok = false;
  t.after(() => {
    if (!ok || process.env.ONMEMOS_SHOW_LOGS) console.error(`--- daemon log\n${d.logs.slice(-40).join('\n')}`);
  });
  const { client, workspace, passport } = await newUser(d);
  const ns = workspace.k8s_namespace;
  const nsObj = await core.readNamespace({ name: ns });
  assert.equal(nsObj.metadata?.labels?.['app.kubernetes.io/managed-by'], 'onmemos');
  const sa = await core.readNamespacedServiceAccount({ name: workspace.ksa_name, namespace: ns });
  assert.equal(sa.metadata?.annotations?.['iam.gke.io/gcp-service-account'], workspace.gsa_email);

  const identity = await d.admin.ensureIdentity(workspace.workspace_id);
  assert.ok(JSON.stringify(identity).includes('"namespace"'), JSON.stringify(identity));

  const vault = await client.createVault({ workspace_id: workspace.workspace_id, name: 'project' });
  await assert.rejects(client.createDrive({ workspace_id: workspace.workspace_id, name: 'tiny', size_gb: 10 }), (e: unknown) => e instanceof OnMemOSApiError && e.status === 400 && /1 TiB/.test(e.message));
  const drive = await client.createDrive({ workspace_id: workspace.workspace_id, name: 'datasets', size_gb: 1024 });
  const buckets = (await (await fetch(`${state.gcs}/storage/v1/b?project=test-proj`)).json()) as { items?: { name: string }[] };
  assert.ok(buckets.items?.some((b) => b.name.startsWith('onmemos-project-')), JSON.stringify(buckets));
  for (let i = 0; i < 120 && (await core.readNamespacedPersistentVolumeClaim({ name: 'datasets', namespace: ns })).status?.phase !== 'Bound'; i++) await new Promise((r) => setTimeout(r, 250));

  const s = await client.createSession({ workspace_id: workspace.workspace_id, vault_id: vault.resource_id, drive_id: drive.resource_id, ttl_minutes: 15 });
  assert.equal(s.status, 'running');
  assert.equal(s.provider, 'gke');
  const pod = await core.readNamespacedPod({ name: s.pod_name, namespace: ns });
  assert.equal(pod.status?.phase, 'Running');
  assert.equal(pod.metadata?.annotations?.['gke-gcsfuse/volumes'], 'true');
  assert.equal(pod.spec?.activeDeadlineSeconds, 900);
  assert.ok(pod.spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === 'datasets'));

  const r = await client.executeSeedStyle(s.id, 'echo through-the-daemon; exit 7');
  assert.equal(r.stdout, 'through-the-daemon\n');
  assert.equal(r.returncode, 7);

  // A terminal through the daemon's WebSocket, over the pod's exec stream with a tty.
  const sh = await openWs(`${d.publicUrl.replace(/^http/, 'ws')}/v1/sessions/${s.id}/shell`, { protocols: [PTY_SUBPROTOCOL], headers: { authorization: `Bearer ${passport}` } });
  await sh.waitFor(() => sh.messages.some((m) => m.type === 'hello'), 'hello');
  sh.send(JSON.stringify({ type: 'resize', cols: 111, rows: 37 }));
  await new Promise((r) => setTimeout(r, 300));
  sh.send(Buffer.from('echo pty-$((40+2)); stty size\r'));
  await sh.waitForOutput('pty-42');
  await sh.waitForOutput('37 111');
  sh.send(Buffer.from('exit 4\r'));
  await sh.waitFor(() => sh.messages.some((m) => m.type === 'exit'), 'exit');
  assert.equal(sh.messages.find((m) => m.type === 'exit').code, 4);

  // An orphan: a pod carrying our owner labels that no live record owns. gc finds it (dry run by default), then deletes it.
  const gcUrl = `${d.adminUrl}/admin/v1/admin/gc`;
  const headers = { 'x-api-key': d.adminKey, 'content-type': 'application/json' };
  const clean = await (await fetch(gcUrl, { method: 'POST', headers })).json() as { dry_run: boolean; orphans: unknown[] };
  assert.equal(clean.dry_run, true);
  assert.equal(clean.orphans.length, 0, `live objects reported as orphans: ${JSON.stringify(clean.orphans)}`);

  await client.terminateSession(s.id);
  await assert.rejects(core.readNamespacedPod({ name: s.pod_name, namespace: ns }).then((p) => (p.metadata?.deletionTimestamp ? Promise.reject({ code: 404 }) : p)), (e: { code?: number }) => e.code === 404);
  await client.deleteStorage(vault.resource_id);
  const after = (await (await fetch(`${state.gcs}/storage/v1/b?project=test-proj`)).json()) as { items?: { name: string }[] };
  assert.ok(!after.items?.some((b) => b.name.startsWith('onmemos-project-')), 'bucket deleted');
  await client.deleteStorage(drive.resource_id);
  await d.admin.deleteWorkspace(workspace.workspace_id);
  ok = true;
});

test('daemon --provider gke: a namespace at its ResourceQuota makes launch a 409 with the apiserver\'s reason, not a 500', async () => {
  const { client, workspace } = await newUser(d);
  const ns = workspace.k8s_namespace;
  await core.createNamespacedResourceQuota({ namespace: ns, body: { metadata: { name: 'no-pods' }, spec: { hard: { pods: '0' } } } });
  // The quota controller fills in status.hard; until it has, admission refuses with "status unknown" (also a quota refusal).
  for (let i = 0; i < 40 && !(await core.readNamespacedResourceQuota({ name: 'no-pods', namespace: ns })).status?.hard; i++) await new Promise((r) => setTimeout(r, 250));
  const err = await client.createSession({ workspace_id: workspace.workspace_id, ttl_minutes: 5 }).then(
    () => assert.fail('launch succeeded in a namespace allowed no pods'),
    (e: unknown) => e as OnMemOSApiError,
  );
  assert.ok(err instanceof OnMemOSApiError, String(err));
  assert.equal(err.status, 409, err.message);
  assert.match(err.message, /quota/);
  assert.match(err.message, /no-pods/, "the apiserver's own message names the quota");
  await core.deleteNamespacedResourceQuota({ name: 'no-pods', namespace: ns });
  await d.admin.deleteWorkspace(workspace.workspace_id);
});
