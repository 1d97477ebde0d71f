// Orphan collection: every object the provider makes carries app.kubernetes.io/managed-by=onmemos
// and the workspace/session/resource ids, so what the daemon's store no longer knows can be found
// and deleted (the `onmemos gc` command or an admin endpoint calls this).
import type { Storage } from '@google-cloud/storage';
import { isNotFound, type Kube } from './kube.js';
import { gcsLabelValue, L_RESOURCE, L_SESSION, L_WORKSPACE, labelValue, MANAGED_BY, MANAGER } from './manifests.js';

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
}

/** Which of the found objects are orphans (pure). A namespace is an orphan when its workspace is gone;
 * a pod when its session is; a PVC or bucket when its resource is (or its workspace). Objects without
 * our manager label are never touched. */
export function findOrphans(objects: Found[], live: LiveSet): Found[] {
  const ws = new Set([...live.workspace_ids].map(labelValue));
  const sessions = new Set([...live.session_ids].map(labelValue));
  const resources = new Set([...live.resource_ids].map(labelValue));
  const gcsWs = new Set([...live.workspace_ids].map(gcsLabelValue));
  const gcsRes = new Set([...live.resource_ids].map(gcsLabelValue));
  return objects.filter((o) => {
    if (o.kind === 'Bucket') {
      if (o.labels['managed-by'] !== MANAGER) return false;
      return !gcsWs.has(o.labels['onmemos-workspace'] ?? '') || !gcsRes.has(o.labels['onmemos-resource'] ?? '');
    }
    if (o.labels[MANAGED_BY] !== MANAGER) return false;
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

export async function gc(kube: Kube, gcs: Storage | undefined, bucketPrefix: string, live: LiveSet, dryRun = false): Promise<GcResult> {
  const selector = `${MANAGED_BY}=${MANAGER}`;
  const [nss, pods, pvcs] = await Promise.all([
    kube.core.listNamespace({ labelSelector: selector }),
    kube.core.listPodForAllNamespaces({ labelSelector: selector }),
    kube.core.listPersistentVolumeClaimForAllNamespaces({ labelSelector: selector }),
  ]);
  const found: Found[] = [
    ...nss.items.map((n) => ({ kind: 'Namespace' as const, name: n.metadata!.name!, labels: n.metadata?.labels ?? {} })),
    ...pods.items.map((p) => ({ kind: 'Pod' as const, namespace: p.metadata!.namespace, name: p.metadata!.name!, labels: p.metadata?.labels ?? {} })),
    ...pvcs.items.map((p) => ({ kind: 'PersistentVolumeClaim' as const, namespace: p.metadata!.namespace, name: p.metadata!.name!, labels: p.metadata?.labels ?? {} })),
  ];
  if (gcs) {
    const [buckets] = await gcs.getBuckets({ prefix: bucketPrefix });
    for (const b of buckets) found.push({ kind: 'Bucket', name: b.name, labels: (b.metadata.labels as Record<string, string>) ?? {} });
  }
  const orphans = findOrphans(found, live);
  // Children of an orphan namespace go with it.
  const doomedNs = new Set(orphans.filter((o) => o.kind === 'Namespace').map((o) => o.name));
  const todo = orphans.filter((o) => !o.namespace || !doomedNs.has(o.namespace));
  const result: GcResult = { dry_run: dryRun, orphans, deleted: 0, errors: [] };
  if (dryRun) return result;
  for (const o of todo) {
    try {
      if (o.kind === 'Namespace') await kube.core.deleteNamespace({ name: o.name });
      else if (o.kind === 'Pod') await kube.core.deleteNamespacedPod({ name: o.name, namespace: o.namespace! });
      else if (o.kind === 'PersistentVolumeClaim') await kube.core.deleteNamespacedPersistentVolumeClaim({ name: o.name, namespace: o.namespace! });
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
