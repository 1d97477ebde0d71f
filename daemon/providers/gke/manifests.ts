// Pure builders for every object the gke provider creates: names, labels, Kubernetes manifests,
// GCS bucket options and IAM members. No I/O here, so each rule is unit-tested on its own
// (test/unit/gke-manifests.test.ts); the cluster tier checks that a real apiserver accepts them.
import { createHash } from 'node:crypto';
import type { V1Namespace, V1PersistentVolumeClaim, V1Pod, V1ServiceAccount, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { badRequest } from '../../errors.js';
import type { LaunchSpec, WorkspaceRef } from '../types.js';

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGER = 'onmemos';
export const L_WORKSPACE = 'onmemos.dev/workspace-id';
export const L_USER = 'onmemos.dev/user-id';
export const L_SESSION = 'onmemos.dev/session-id';
export const L_RESOURCE = 'onmemos.dev/resource-id';
/** Which daemon made an object: a random id kept in that daemon's home (installation.ts). Several
 * daemons may share one cluster and one GCS project; gc only ever touches its own installation's objects. */
export const L_INSTALLATION = 'onmemos.dev/installation-id';
/** The same on buckets (GCS label keys: lowercase, digits, `_` and `-`). */
export const GCS_L_INSTALLATION = 'onmemos-installation';
export const CONTAINER = 'shuttle';
/** The uid/gid the shuttle runs as; gcsfuse mounts are owned by it (mountOptions uid/gid). */
export const SHUTTLE_UID = 1000;
export const SHUTTLE_GID = 1000;
/** Workload Identity's annotation on the KSA (https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity). */
export const WI_ANNOTATION = 'iam.gke.io/gcp-service-account';
/** Without this pod annotation GKE does not inject the gcsfuse sidecar and the CSI mount never happens
 * (https://cloud.google.com/kubernetes-engine/docs/how-to/persistent-volumes/cloud-storage-fuse-csi-driver-ephemeral). */
export const GCSFUSE_ANNOTATION = 'gke-gcsfuse/volumes';
export const GCSFUSE_DRIVER = 'gcsfuse.csi.storage.gke.io';

const shortHash = (s: string, n = 8) => createHash('sha256').update(s).digest('hex').slice(0, n);

/** A Kubernetes label value: <= 63 chars of [A-Za-z0-9-_.], alphanumeric at both ends (or empty). */
export function labelValue(v: string): string {
  let s = v.replace(/[^A-Za-z0-9._-]/g, '-');
  if (s.length > 63) s = s.slice(0, 54) + '-' + shortHash(v);
  return s.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
}

/** A GCS label value: lowercase letters, digits, `_` and `-`, <= 63 chars (https://cloud.google.com/storage/docs/tags-and-labels). */
export function gcsLabelValue(v: string): string {
  return v.toLowerCase().replace(/[^a-z0-9_-]/g, '-').slice(0, 63);
}

export function workspaceLabels(ws: Pick<WorkspaceRef, 'workspace_id' | 'user_id'>, installation: string): Record<string, string> {
  return { [MANAGED_BY]: MANAGER, [L_INSTALLATION]: labelValue(installation), [L_WORKSPACE]: labelValue(ws.workspace_id), [L_USER]: labelValue(ws.user_id) };
}

/** An env value as the kubelet will deliver it. EnvVar.value is not literal: the kubelet expands
 * `$(VAR)` and turns `$$` into `$` (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#environment-variables),
 * so `pa$$word` would arrive as `pa$word`. Doubling every `$` makes it literal, as on the local provider. */
export function literalEnvValue(value: string): string {
  return value.replace(/\$/g, '$$$$');
}

/** A DNS-1123 label from free text: lowercase, a-z0-9-, <= max chars, hash-suffixed when shortened. */
export function dnsLabel(text: string, max = 63): string {
  let s = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  if (s.length > max) s = s.slice(0, max - 9).replace(/-+$/, '') + '-' + shortHash(text);
  return s || 'x' + shortHash(text);
}

/** Names of a workspace's cloud identity when the record does not carry them yet. */
export function identityNames(workspace_id: string, project?: string): { k8s_namespace: string; ksa_name: string; gsa_email: string } {
  const ns = dnsLabel(`onm-${workspace_id}`);
  // A GSA account id is 6-30 chars, [a-z][a-z0-9-]*[a-z0-9] (https://cloud.google.com/iam/docs/service-accounts-create).
  const gsaId = `onm-${dnsLabel(workspace_id, 16)}-${shortHash(workspace_id, 6)}`.replace(/--+/g, '-').slice(0, 30).replace(/-+$/, '');
  return { k8s_namespace: ns, ksa_name: 'onmemos-workspace', gsa_email: project ? `${gsaId}@${project}.iam.gserviceaccount.com` : '' };
}

/** The Workload Identity member a KSA impersonates its GSA as. The seed used `<project>.svc.id.goog[<ksa>]`
 * without the namespace, which matches nothing; the documented form names both. */
export function workloadIdentityMember(project: string, namespace: string, ksa: string): string {
  return `serviceAccount:${project}.svc.id.goog[${namespace}/${ksa}]`;
}

export function namespaceManifest(ws: WorkspaceRef, installation: string): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ws.k8s_namespace, labels: { ...workspaceLabels(ws, installation), 'onmemos.dev/workspace-name': labelValue(ws.name) } },
  };
}

export function serviceAccountManifest(ws: WorkspaceRef, installation: string): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: ws.ksa_name,
      namespace: ws.k8s_namespace,
      labels: workspaceLabels(ws, installation),
      annotations: ws.gsa_email ? { [WI_ANNOTATION]: ws.gsa_email } : {},
    },
  };
}

/** A globally unique, valid bucket name: prefix + vault name + a hash of the workspace and resource ids.
 * Bucket names: 3-63 chars, lowercase, digits, `-`, `_`, `.`, alphanumeric at both ends, never starting
 * with "goog" (https://cloud.google.com/storage/docs/buckets#naming). */
export function bucketName(prefix: string, ws: Pick<WorkspaceRef, 'workspace_id'>, resource: { resource_id: string; name: string }): string {
  const suffix = '-' + shortHash(`${ws.workspace_id}/${resource.resource_id}`, 10);
  const p = prefix.toLowerCase().replace(/[^a-z0-9_.-]/g, '-');
  const room = 63 - suffix.length - p.length;
  if (room < 3) throw badRequest(`bucket name prefix "${prefix}" is too long (at most ${63 - suffix.length - 3} characters)`);
  let name = `${p}${resource.name.slice(0, room)}`.replace(/[-_.]+$/, '') + suffix;
  if (/^goog/.test(name) || !/^[a-z0-9]/.test(name)) name = 'b' + name.slice(1);
  return name;
}

export function bucketOptions(ws: Pick<WorkspaceRef, 'workspace_id' | 'user_id'>, resourceId: string, location: string, installation: string) {
  return {
    location,
    // Uniform bucket-level access: IAM only, no per-object ACLs (https://cloud.google.com/storage/docs/uniform-bucket-level-access).
    iamConfiguration: { uniformBucketLevelAccess: { enabled: true }, publicAccessPrevention: 'enforced' },
    labels: {
      'managed-by': MANAGER,
      [GCS_L_INSTALLATION]: gcsLabelValue(installation),
      'onmemos-workspace': gcsLabelValue(ws.workspace_id),
      'onmemos-user': gcsLabelValue(ws.user_id),
      'onmemos-resource': gcsLabelValue(resourceId),
    },
  };
}

/** Smallest size each GKE Filestore storage class provisions, GiB
 * (https://cloud.google.com/filestore/docs/service-tiers, https://cloud.google.com/kubernetes-engine/docs/how-to/persistent-volumes/filestore-csi-driver). */
export const CLASS_MIN_GB: Record<string, { min: number; what: string }> = {
  'standard-rwx': { min: 1024, what: 'Filestore basic HDD starts at 1 TiB' },
  'premium-rwx': { min: 2560, what: 'Filestore basic SSD starts at 2.5 TiB' },
  'zonal-rwx': { min: 1024, what: 'Filestore zonal starts at 1 TiB' },
  'enterprise-rwx': { min: 1024, what: 'Filestore enterprise starts at 1 TiB' },
  'enterprise-multishare-rwx': { min: 10, what: 'Filestore multishare volumes start at 10 GiB' },
};

/** Reject a drive smaller than its class provisions: a clear 400, never a silent round-up. */
export function validateDriveSize(sizeGb: number, storageClass: string, minOverride?: number): void {
  if (!Number.isInteger(sizeGb) || sizeGb < 1) throw badRequest(`size_gb must be a positive whole number of GiB, got ${sizeGb}`);
  const known = CLASS_MIN_GB[storageClass];
  const min = minOverride ?? known?.min ?? 1;
  if (sizeGb < min) {
    const why = minOverride !== undefined || !known ? `storage class "${storageClass}" is configured with a minimum of ${min} GiB` : `${known.what} (storage class "${storageClass}")`;
    throw badRequest(`a drive of ${sizeGb} GiB is too small: ${why}; ask for size_gb >= ${min}`, { size_gb: sizeGb, storage_class: storageClass, min_size_gb: min });
  }
}

export function pvcManifest(ws: WorkspaceRef, resource: { resource_id: string; name: string; size_gb: number }, storageClass: string, installation: string): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: resource.name, namespace: ws.k8s_namespace, labels: { ...workspaceLabels(ws, installation), [L_RESOURCE]: labelValue(resource.resource_id) } },
    spec: {
      // Filestore is NFS: many pods on many nodes mount one drive (ReadWriteMany).
      accessModes: ['ReadWriteMany'],
      storageClassName: storageClass,
      resources: { requests: { storage: `${resource.size_gb}Gi` } },
    },
  };
}

/** The drive's PVC name and the bucket names the pod mounts, resolved by the caller. */
export interface PodStorage {
  /** resource_id → bucket name, for each attached vault. */
  buckets: Record<string, string>;
  /** resource_id → PVC name, for each attached drive. */
  claims: Record<string, string>;
}

/** PID 1 that ends promptly on SIGTERM; the session's lifetime is activeDeadlineSeconds, not a sleep. */
const KEEPALIVE = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

export function podManifest(spec: LaunchSpec, storage: PodStorage, installation: string): V1Pod {
  const ws = spec.workspace;
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  let vaults = 0;
  spec.mounts.forEach((m, i) => {
    const name = `${m.type === 'bucket' ? 'vault' : 'drive'}-${i}`;
    const readOnly = m.access_mode === 'RO';
    if (m.type === 'bucket') {
      const bucket = storage.buckets[m.resource_id];
      if (!bucket) throw badRequest(`vault ${m.resource_id} has no bucket`);
      vaults++;
      // CSI ephemeral volume: the bucket is mounted by the gcsfuse sidecar; implicit-dirs shows
      // prefixes made by other tools as directories; uid/gid make the files the shuttle user's
      // (https://cloud.google.com/kubernetes-engine/docs/how-to/persistent-volumes/cloud-storage-fuse-csi-driver-ephemeral).
      volumes.push({
        name,
        csi: {
          driver: GCSFUSE_DRIVER,
          readOnly,
          volumeAttributes: { bucketName: bucket, mountOptions: `implicit-dirs,uid=${SHUTTLE_UID},gid=${SHUTTLE_GID}` },
        },
      });
    } else {
      const claimName = storage.claims[m.resource_id];
      if (!claimName) throw badRequest(`drive ${m.resource_id} has no volume claim`);
      volumes.push({ name, persistentVolumeClaim: { claimName, readOnly } });
    }
    mounts.push({ name, mountPath: m.mount_path, readOnly });
  });
  const resources = { cpu: spec.template.cpu, memory: spec.template.memory };
  const ttlSeconds = Math.max(60, Math.round(spec.ttl_minutes * 60));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: spec.sandbox_name,
      namespace: spec.namespace,
      labels: { ...workspaceLabels(ws, installation), [L_SESSION]: labelValue(spec.session_id) },
      annotations: {
        ...(vaults ? { [GCSFUSE_ANNOTATION]: 'true' } : {}),
        'onmemos.dev/expires-at': spec.expires_at,
        'onmemos.dev/template': spec.template.id,
      },
    },
    spec: {
      serviceAccountName: ws.ksa_name,
      // The shuttle runs the user's code: no Kubernetes API token in it. Workload Identity gets
      // Google tokens from the metadata server and the gcsfuse CSI driver gets its own through the
      // CSIDriver's tokenRequests, so neither needs the mounted KSA token.
      automountServiceAccountToken: false,
      // No *_SERVICE_HOST/_PORT variables for every Service in the namespace.
      enableServiceLinks: false,
      restartPolicy: 'Never',
      // The TTL is enforced by the kubelet even if the daemon is down.
      activeDeadlineSeconds: ttlSeconds,
      terminationGracePeriodSeconds: 5,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: SHUTTLE_UID,
        runAsGroup: SHUTTLE_GID,
        fsGroup: SHUTTLE_GID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: CONTAINER,
          image: spec.template.image,
          command: ['/bin/sh', '-c', KEEPALIVE],
          env: Object.entries({
            ...Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, literalEnvValue(v)])),
            ONMEMOS_SESSION_ID: literalEnvValue(spec.session_id),
            ONMEMOS_WORKSPACE_ID: literalEnvValue(ws.workspace_id),
          }).map(([name, value]) => ({ name, value })),
          // Autopilot bills and schedules by requests; set them explicitly with limits equal
          // (https://cloud.google.com/kubernetes-engine/docs/concepts/autopilot-resource-requests).
          resources: { requests: resources, limits: resources },
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true },
          volumeMounts: mounts,
          stdin: true,
        },
      ],
      volumes,
    },
  };
}
