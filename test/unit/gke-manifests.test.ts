// The gke provider's pure manifest builders: what GKE needs from each object, checked field by field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../daemon/errors.js';
import {
  bucketName,
  bucketOptions,
  dnsLabel,
  GCSFUSE_ANNOTATION,
  identityNames,
  labelValue,
  literalEnvValue,
  namespaceManifest,
  podManifest,
  pvcManifest,
  serviceAccountManifest,
  validateDriveSize,
  workloadIdentityMember,
} from '../../daemon/providers/gke/manifests.js';
import type { LaunchSpec, MountSpec, WorkspaceRef } from '../../daemon/providers/types.js';

const INST = 'a1b2c3d4e5f6a7b8c9d0';
const ws: WorkspaceRef = {
  workspace_id: 'ws-abc12',
  user_id: 'user_42',
  name: 'My Project',
  k8s_namespace: 'onm-ws-abc12',
  ksa_name: 'onmemos-shuttle',
  gsa_email: 'onm-123@proj.iam.gserviceaccount.com',
};

function launch(mounts: MountSpec[], over: Partial<LaunchSpec> = {}): LaunchSpec {
  return {
    session_id: 'shuttle-1a2b3c',
    sandbox_name: 'shuttle-1a2b3c',
    namespace: ws.k8s_namespace,
    workspace: ws,
    template: { id: 'python', name: 'Python', image: 'python:3.12-slim', cpu: '500m', memory: '1Gi', description: '' },
    env: { FOO: 'bar' },
    mounts,
    ttl_minutes: 30,
    expires_at: '2030-01-01T00:00:00.000Z',
    ...over,
  };
}
const vault = (id: string, path: string, mode: 'RW' | 'RO' = 'RW'): MountSpec => ({ resource_id: id, type: 'bucket', name: `v-${id}`, mount_path: path, access_mode: mode });
const drive = (id: string, path: string): MountSpec => ({ resource_id: id, type: 'filestore', name: `d-${id}`, mount_path: path, access_mode: 'RW' });

describe('gke names and labels', () => {
  it('label values are valid Kubernetes label values', () => {
    for (const v of ['user_42', 'a@b.c', '-x-', 'x'.repeat(100), 'Ws.Name_1']) {
      const l = labelValue(v);
      assert.ok(l.length <= 63, l);
      assert.match(l, /^([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?$/, l);
    }
    assert.equal(labelValue('user_42'), 'user_42');
    assert.notEqual(labelValue('x'.repeat(100)), labelValue('x'.repeat(99) + 'y'));
  });

  it('DNS labels are lowercase, <= 63, and distinct when shortened', () => {
    assert.equal(dnsLabel('Hello_World'), 'hello-world');
    const a = dnsLabel('a'.repeat(80) + '1');
    const b = dnsLabel('a'.repeat(80) + '2');
    assert.ok(a.length <= 63 && b.length <= 63);
    assert.notEqual(a, b);
  });

  it('identity names: valid namespace and a GSA id of 6-30 chars', () => {
    const n = identityNames('ws-abc12', 'my-proj');
    assert.match(n.k8s_namespace, /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
    const id = n.gsa_email.split('@')[0]!;
    assert.match(id, /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/);
    assert.ok(n.gsa_email.endsWith('@my-proj.iam.gserviceaccount.com'));
    assert.equal(identityNames('ws-abc12').gsa_email, '');
  });

  it('the Workload Identity member names the namespace and the KSA', () => {
    assert.equal(workloadIdentityMember('proj', 'onm-ws-1', 'onmemos-shuttle'), 'serviceAccount:proj.svc.id.goog[onm-ws-1/onmemos-shuttle]');
  });
});

describe('gke namespace and KSA', () => {
  it('namespace carries the manager, workspace and user labels', () => {
    const ns = namespaceManifest(ws, INST);
    assert.equal(ns.metadata?.name, 'onm-ws-abc12');
    assert.equal(ns.metadata?.labels?.['app.kubernetes.io/managed-by'], 'onmemos');
    assert.equal(ns.metadata?.labels?.['onmemos.dev/workspace-id'], 'ws-abc12');
    assert.equal(ns.metadata?.labels?.['onmemos.dev/user-id'], 'user_42');
    assert.equal(ns.metadata?.labels?.['onmemos.dev/installation-id'], INST);
  });
  it('KSA is annotated with its GSA, and not when there is none', () => {
    const sa = serviceAccountManifest(ws, INST);
    assert.equal(sa.metadata?.annotations?.['iam.gke.io/gcp-service-account'], ws.gsa_email);
    assert.equal(sa.metadata?.namespace, ws.k8s_namespace);
    assert.equal(sa.metadata?.labels?.['onmemos.dev/installation-id'], INST);
    assert.deepEqual(serviceAccountManifest({ ...ws, gsa_email: '' }, INST).metadata?.annotations, {});
  });
});

describe('gke buckets', () => {
  it('bucket names are valid, prefixed, unique per workspace+resource', () => {
    const a = bucketName('onmemos-', ws, { resource_id: 'vault-1', name: 'data' });
    const b = bucketName('onmemos-', { workspace_id: 'ws-other' }, { resource_id: 'vault-1', name: 'data' });
    assert.ok(a.startsWith('onmemos-data-'));
    assert.notEqual(a, b);
    const long = bucketName('Team.Prefix-', ws, { resource_id: 'r', name: 'x'.repeat(63) });
    assert.ok(long.length <= 63, long);
    assert.match(long, /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/);
    assert.ok(!bucketName('goog-', ws, { resource_id: 'r', name: 'abc' }).startsWith('goog'));
    assert.throws(() => bucketName('p'.repeat(60), ws, { resource_id: 'r', name: 'abc' }), ApiError);
  });
  it('bucket options: uniform access, location, lowercase labels', () => {
    const o = bucketOptions(ws, 'Vault-1', 'europe-west1', INST);
    assert.equal(o.location, 'europe-west1');
    assert.equal(o.iamConfiguration.uniformBucketLevelAccess.enabled, true);
    assert.deepEqual(o.labels, { 'managed-by': 'onmemos', 'onmemos-installation': INST, 'onmemos-workspace': 'ws-abc12', 'onmemos-user': 'user_42', 'onmemos-resource': 'vault-1' });
  });
});

describe('gke drives', () => {
  it('a drive below the Filestore minimum is a 400 that says why, never rounded', () => {
    const err = (() => {
      try {
        validateDriveSize(100, 'standard-rwx');
      } catch (e) {
        return e as ApiError;
      }
    })();
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 400);
    assert.match(err.message, /1 TiB/);
    assert.match(err.message, /size_gb >= 1024/);
    assert.doesNotThrow(() => validateDriveSize(1024, 'standard-rwx'));
    assert.throws(() => validateDriveSize(2048, 'premium-rwx'), /2\.5 TiB/);
    assert.doesNotThrow(() => validateDriveSize(10, 'enterprise-multishare-rwx'));
    assert.doesNotThrow(() => validateDriveSize(1, 'my-nfs'));
    assert.throws(() => validateDriveSize(5, 'my-nfs', 50), /configured with a minimum of 50 GiB/);
    assert.throws(() => validateDriveSize(1.5, 'my-nfs'), /whole number/);
  });
  it('PVC is ReadWriteMany with the class and the size in GiB', () => {
    const pvc = pvcManifest(ws, { resource_id: 'drive-1', name: 'scratch', size_gb: 1024 }, 'standard-rwx', INST);
    assert.deepEqual(pvc.spec?.accessModes, ['ReadWriteMany']);
    assert.equal(pvc.spec?.storageClassName, 'standard-rwx');
    assert.equal(pvc.spec?.resources?.requests?.storage, '1024Gi');
    assert.equal(pvc.metadata?.labels?.['onmemos.dev/resource-id'], 'drive-1');
    assert.equal(pvc.metadata?.labels?.['onmemos.dev/installation-id'], INST);
  });
});

describe('gke pod', () => {
  const storage = { buckets: { v1: 'onmemos-a-1', v2: 'onmemos-b-2' }, claims: { d1: 'scratch' } };

  it('every vault is a gcsfuse CSI volume and the annotation is set (also for extra vaults)', () => {
    const pod = podManifest(launch([vault('v1', '/workspace'), vault('v2', '/ref', 'RO'), drive('d1', '/data')]), storage, INST);
    assert.equal(pod.metadata?.annotations?.[GCSFUSE_ANNOTATION], 'true');
    const vols = pod.spec!.volumes!;
    assert.equal(vols.length, 3);
    assert.equal(vols[0]!.csi?.driver, 'gcsfuse.csi.storage.gke.io');
    assert.equal(vols[0]!.csi?.volumeAttributes?.bucketName, 'onmemos-a-1');
    assert.equal(vols[0]!.csi?.volumeAttributes?.mountOptions, 'implicit-dirs,uid=1000,gid=1000');
    assert.equal(vols[0]!.csi?.readOnly, false);
    assert.equal(vols[1]!.csi?.volumeAttributes?.bucketName, 'onmemos-b-2');
    assert.equal(vols[1]!.csi?.readOnly, true);
    assert.deepEqual(vols[2]!.persistentVolumeClaim, { claimName: 'scratch', readOnly: false });
    const mounts = pod.spec!.containers[0]!.volumeMounts!;
    assert.deepEqual(mounts.map((m) => [m.mountPath, m.readOnly]), [['/workspace', false], ['/ref', true], ['/data', false]]);
  });

  it('no vault, no gcsfuse annotation', () => {
    const pod = podManifest(launch([drive('d1', '/data')]), storage, INST);
    assert.equal(pod.metadata?.annotations?.[GCSFUSE_ANNOTATION], undefined);
  });

  it('requests set explicitly, non-root, KSA, TTL as activeDeadlineSeconds, labels', () => {
    const pod = podManifest(launch([], { ttl_minutes: 45 }), storage, INST);
    const c = pod.spec!.containers[0]!;
    assert.deepEqual(c.resources?.requests, { cpu: '500m', memory: '1Gi' });
    assert.deepEqual(c.resources?.limits, { cpu: '500m', memory: '1Gi' });
    assert.equal(c.image, 'python:3.12-slim');
    assert.equal(pod.spec!.securityContext?.runAsNonRoot, true);
    assert.equal(pod.spec!.securityContext?.runAsUser, 1000);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(pod.spec!.serviceAccountName, 'onmemos-shuttle');
    assert.equal(pod.spec!.activeDeadlineSeconds, 2700);
    assert.equal(pod.spec!.restartPolicy, 'Never');
    assert.ok(!c.command!.join(' ').includes('sleep 2700'), 'the TTL is not a hidden sleep');
    assert.equal(pod.metadata?.labels?.['onmemos.dev/session-id'], 'shuttle-1a2b3c');
    assert.equal(pod.metadata?.labels?.['app.kubernetes.io/managed-by'], 'onmemos');
    assert.deepEqual(c.env?.find((e) => e.name === 'FOO'), { name: 'FOO', value: 'bar' });
    assert.equal(pod.metadata?.labels?.['onmemos.dev/installation-id'], INST);
  });

  it('no Kubernetes API token and no service links in the shuttle', () => {
    const pod = podManifest(launch([vault('v1', '/workspace')]), storage, INST);
    assert.equal(pod.spec!.automountServiceAccountToken, false);
    assert.equal(pod.spec!.enableServiceLinks, false);
    // Workload Identity still needs the KSA itself.
    assert.equal(pod.spec!.serviceAccountName, 'onmemos-shuttle');
  });

  it('user env values arrive literally: $ is escaped against the kubelet expanding $(VAR) and $$', () => {
    const env = { PASSWORD: 'pa$$word', REF: '$(HOME)/x', PLAIN: 'no dollars', TRAIL: 'cost: 5$', EMPTY: '' };
    const pod = podManifest(launch([], { env }), storage, INST);
    const got = Object.fromEntries(pod.spec!.containers[0]!.env!.map((e) => [e.name, e.value]));
    assert.equal(got.PASSWORD, 'pa$$$$word');
    assert.equal(got.REF, '$$(HOME)/x');
    assert.equal(got.PLAIN, 'no dollars');
    assert.equal(got.TRAIL, 'cost: 5$$');
    assert.equal(got.EMPTY, '');
    // What the kubelet delivers (its expansion rules: $$ -> $, $(VAR) -> VAR's value) is the input.
    const kubelet = (v: string, vars: Record<string, string>) => v.replace(/\$(\$|\(([A-Za-z_][A-Za-z0-9_]*)\))/g, (m, _a, name) => (name === undefined ? '$' : (vars[name] ?? m)));
    for (const [k, v] of Object.entries(env)) assert.equal(kubelet(got[k]!, { HOME: '/home/x' }), v, k);
    assert.equal(literalEnvValue('a$b'), 'a$$b');
  });

  it('a mount without its backing store is refused, not silently dropped', () => {
    assert.throws(() => podManifest(launch([vault('missing', '/w')]), storage, INST), ApiError);
    assert.throws(() => podManifest(launch([drive('missing', '/d')]), storage, INST), ApiError);
  });
});
