// Orphan collection: every object the provider makes carries app.kubernetes.io/managed-by=onmemos,
// this daemon's installation id and the workspace/session/resource ids, so what the daemon's store
// no longer knows can be found and deleted (the `onmemos gc` command or an admin endpoint calls this).
//
// Only this installation's objects are ever candidates: several daemons may share one cluster and
// one GCS project, and an object another daemon made is not in this daemon's store but is not an
// orphan. Objects made before installation ids existed carry no installation label and are never
// collected; delete those by hand. Objects younger than the grace period are never collected either,
// so gc cannot race a create in flight (a pod made before its session record is written).
import type { Storage } from '@google-cloud/storage';
import { isNotFound, type Kube } from './kube.js';
import { GCS_L_INSTALLATION, gcsLabelValue, L_INSTALLATION, L_RESOURCE, L_SESSION, L_WORKSPACE, labelValue, MANAGED_BY, MANAGER } from './manifests.js';

/** Default grace period: nothing younger is collected. */
export const GC_GRACE_MS = 10 * 60_000;

/** What the daemon's store says is alive. */
export interface LiveSet {
  workspace_ids: Iterable<string>;
  session_ids: Iterable<string>;
  resource_ids: Iterable<string>;
}

export interface Found {
  kind: 'Namespace' | 'Pod' | 'PersistentVolumeClaim' | 'Bucket';
  namespace?: string;
  name: string;
  labels: Record<string, string>;
  /** creationTimestamp (Kubernetes) or timeCreated (GCS), ISO 8601; unknown means never collected. */
  created?: string;
  /** Kubernetes uid: the delete names it, so a same-named object made since the list is never hit. */
  uid?: string;
}

export interface GcScope {
  /** This daemon's installation id: only objects labelled with it are candidates. */
  installation: string;
  /** Objects younger than this are left alone. */
  graceMs: number;
  /** Clock, for tests. */
  now?: number;
}

/** Which of the found objects are orphans (pure). A namespace is an orphan when its workspace is gone;
 * a pod when its session is; a PVC or bucket when its resource is (or its workspace). Objects without
 * our manager label and this installation's id, and objects younger than the grace period (or of
 * unknown age), are never touched. */
export function findOrphans(objects: Found[], live: LiveSet, scope: GcScope): Found[] {
  const now = scope.now ?? Date.now();
  const oldEnough = (o: Found) => {
    const t = o.created ? Date.parse(o.created) : NaN;
    return Number.isFinite(t) && now - t >= scope.graceMs;
  };
  const ws = new Set([...live.workspace_ids].map(labelValue));
  const sessions = new Set([...live.session_ids].map(labelValue));
  const resources = new Set([...live.resource_ids].map(labelValue));
  const gcsWs = new Set([...live.workspace_ids].map(gcsLabelValue));
  const gcsRes = new Set([...live.resource_ids].map(gcsLabelValue));
  return objects.filter((o) => {
    if (!oldEnough(o)) return false;
    if (o.kind === 'Bucket') {
      if (o.labels['managed-by'] !== MANAGER || o.labels[GCS_L_INSTALLATION] !== gcsLabelValue(scope.installation)) return false;
      return !gcsWs.has(o.labels['onmemos-workspace'] ?? '') || !gcsRes.has(o.labels['onmemos-resource'] ?? '');
    }
    if (o.labels[MANAGED_BY] !== MANAGER || o.labels[L_INSTALLATION] !== labelValue(scope.installation)) return false;
    if (!ws.has(o.labels[L_WORKSPACE] ?? '')) return true;
    if (o.kind === 'Pod') return !sessions.has(o.labels[L_SESSION] ?? '');
    if (o.kind === 'PersistentVolumeClaim') return !resources.has(o.labels[L_RESOURCE] ?? '');
    return false;
  });
}

export interface GcResult {
  dry_run: boolean;
  orphans: Found[];
  deleted: number;
  errors: string[];
}

const iso = (t: Date | string | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

export async function gc(kube: Kube, gcs: Storage | undefined, bucketPrefix: string, live: LiveSet, scope: GcScope, dryRun = false): Promise<GcResult> {
  const selector = `${MANAGED_BY}=${MANAGER},${L_INSTALLATION}=${labelValue(scope.installation)}`;
  const [nss, pods, pvcs] = await Promise.all([
    kube.core.listNamespace({ labelSelector: selector }),
    kube.core.listPodForAllNamespaces({ labelSelector: selector }),
    kube.core.listPersistentVolumeClaimForAllNamespaces({ labelSelector: selector }),
  ]);
  const found: Found[] = [
    ...nss.items.map((n) => ({ kind: 'Namespace' as const, name: n.metadata!.name!, labels: n.metadata?.labels ?? {}, created: iso(n.metadata?.creationTimestamp), uid: n.metadata?.uid })),
    ...pods.items.map((p) => ({ kind: 'Pod' as const, namespace: p.metadata!.namespace, name: p.metadata!.name!, labels: p.metadata?.labels ?? {}, created: iso(p.metadata?.creationTimestamp), uid: p.metadata?.uid })),
    ...pvcs.items.map((p) => ({ kind: 'PersistentVolumeClaim' as const, namespace: p.metadata!.namespace, name: p.metadata!.name!, labels: p.metadata?.labels ?? {}, created: iso(p.metadata?.creationTimestamp), uid: p.metadata?.uid })),
  ];
  if (gcs) {
    const [buckets] = await gcs.getBuckets({ prefix: bucketPrefix });
    for (const b of buckets) found.push({ kind: 'Bucket', name: b.name, labels: (b.metadata.labels as Record<string, string>) ?? {}, created: b.metadata.timeCreated });
  }
  const orphans = findOrphans(found, live, scope);
  // Children of an orphan namespace go with it.
  const doomedNs = new Set(orphans.filter((o) => o.kind === 'Namespace').map((o) => o.name));
  const todo = orphans.filter((o) => !o.namespace || !doomedNs.has(o.namespace));
  const result: GcResult = { dry_run: dryRun, orphans, deleted: 0, errors: [] };
  if (dryRun) return result;
  for (const o of todo) {
    const body = o.uid ? { preconditions: { uid: o.uid } } : undefined;
    try {
      if (o.kind === 'Namespace') await kube.core.deleteNamespace({ name: o.name, body });
      else if (o.kind === 'Pod') await kube.core.deleteNamespacedPod({ name: o.name, namespace: o.namespace!, body });
      else if (o.kind === 'PersistentVolumeClaim') await kube.core.deleteNamespacedPersistentVolumeClaim({ name: o.name, namespace: o.namespace!, body });
      else {
        await gcs!.bucket(o.name).deleteFiles({ force: true });
        await gcs!.bucket(o.name).delete();
      }
      result.deleted++;
    } catch (err) {
      if (!isNotFound(err) && (err as { code?: number }).code !== 404) result.errors.push(`${o.kind} ${o.namespace ? o.namespace + '/' : ''}${o.name}: ${(err as Error).message}`);
    }
  }
  return result;
}
