// StorageProvider on GKE: the workspace identity (identity.ts), vaults as GCS buckets and drives as
// ReadWriteMany PersistentVolumeClaims (Filestore CSI on GKE).
import type { Storage } from '@google-cloud/storage';
import { conflict, providerUnavailable } from '../../errors.js';
import type { StorageProvider, StorageType, WorkspaceRef } from '../types.js';
import { deleteIdentity, ensureIdentity, withBinding, type GoogleRequest, type IamPolicy, type IdentityReport } from './identity.js';
import { isConflict, isNotFound, kubeMessage, kubeFailure, type Kube } from './kube.js';
import { bucketName, bucketOptions, L_RESOURCE, labelValue, pvcManifest, validateDriveSize } from './manifests.js';

export interface GkeStorageOptions {
  kube: Kube;
  gcs: Storage;
  request?: GoogleRequest;
  project?: string;
  autoProvision: boolean;
  bucketLocation: string;
  bucketPrefix: string;
  /** This daemon's installation id (installation.ts), a label on buckets and claims. */
  installation: string;
  storageClass: string;
  /** Override the storage class's minimum drive size (GiB). */
  driveMinGb?: number;
  log: (event: string, fields?: Record<string, unknown>) => void;
}

/** The role the workspace's GSA gets on each of its buckets (read, write, delete objects). */
export const BUCKET_ROLE = 'roles/storage.objectUser';

const gcsStatus = (err: unknown) => (err as { code?: number }).code;

export class GkeStorageProvider implements StorageProvider {
  constructor(private readonly o: GkeStorageOptions) {}

  ensureWorkspace(ws: WorkspaceRef): Promise<Record<string, unknown>> {
    return this.ensureIdentity(ws) as unknown as Promise<Record<string, unknown>>;
  }

  ensureIdentity(ws: WorkspaceRef, project = this.o.project): Promise<IdentityReport> {
    const { kube, request, autoProvision, installation } = this.o;
    return ensureIdentity({ kube, request, project, autoProvision, installation }, ws);
  }

  async deleteWorkspace(ws: WorkspaceRef): Promise<void> {
    const { kube, request, project, autoProvision, installation } = this.o;
    await deleteIdentity({ kube, request, project, autoProvision, installation }, ws);
  }

  async createResource(ws: WorkspaceRef, r: { resource_id: string; name: string; type: StorageType; size_gb: number }): Promise<{ backing_name: string }> {
    return r.type === 'bucket' ? this.createBucket(ws, r) : this.createDrive(ws, r);
  }

  async deleteResource(ws: WorkspaceRef, r: { resource_id: string; name: string; type: StorageType; backing_name: string }): Promise<void> {
    if (r.type === 'bucket') return this.deleteBucket(r.backing_name || bucketName(this.o.bucketPrefix, ws, r));
    try {
      await this.o.kube.core.deleteNamespacedPersistentVolumeClaim({ name: r.backing_name || r.name, namespace: ws.k8s_namespace });
    } catch (err) {
      if (!isNotFound(err)) throw kubeFailure(`deleting drive ${r.name}`, err);
    }
    this.o.log('gke.drive.deleted', { namespace: ws.k8s_namespace, pvc: r.backing_name || r.name });
  }

  private async createBucket(ws: WorkspaceRef, r: { resource_id: string; name: string }): Promise<{ backing_name: string }> {
    const name = bucketName(this.o.bucketPrefix, ws, r);
    const bucket = this.o.gcs.bucket(name);
    try {
      await this.o.gcs.createBucket(name, bucketOptions(ws, r.resource_id, this.o.bucketLocation, this.o.installation));
      this.o.log('gke.vault.created', { bucket: name, location: this.o.bucketLocation });
    } catch (err) {
      if (gcsStatus(err) !== 409) throw providerUnavailable(`cannot create bucket ${name}: ${(err as Error).message}`);
      // Idempotent: the name embeds a hash of workspace and resource ids, so a 409 is our own
      // bucket from an earlier try, unless its labels say otherwise.
      const [meta] = await bucket.getMetadata().catch(() => [{} as { labels?: Record<string, string> }]);
      const owner = meta.labels?.['onmemos-resource'];
      if (owner && owner !== bucketOptions(ws, r.resource_id, '', this.o.installation).labels['onmemos-resource']) {
        throw conflict(`bucket ${name} already exists and belongs to another vault`);
      }
    }
    if (this.o.autoProvision && ws.gsa_email) await this.grantBucket(name, ws.gsa_email);
    return { backing_name: name };
  }

  /** Give the workspace's GSA object access to its bucket (uniform bucket-level access: IAM only). */
  private async grantBucket(name: string, gsa: string): Promise<void> {
    const iam = this.o.gcs.bucket(name).iam;
    const [policy] = await iam.getPolicy({ requestedPolicyVersion: 3 });
    const { policy: next, changed } = withBinding(policy as IamPolicy, BUCKET_ROLE, `serviceAccount:${gsa}`);
    if (changed) await iam.setPolicy(next as Parameters<typeof iam.setPolicy>[0]);
  }

  private async deleteBucket(name: string): Promise<void> {
    const bucket = this.o.gcs.bucket(name);
    try {
      // A bucket must be empty before it can be deleted.
      await bucket.deleteFiles({ force: true });
      await bucket.delete();
      this.o.log('gke.vault.deleted', { bucket: name });
    } catch (err) {
      if (gcsStatus(err) !== 404) throw providerUnavailable(`cannot delete bucket ${name}: ${(err as Error).message}`);
    }
  }

  private async createDrive(ws: WorkspaceRef, r: { resource_id: string; name: string; size_gb: number }): Promise<{ backing_name: string }> {
    validateDriveSize(r.size_gb, this.o.storageClass, this.o.driveMinGb);
    const body = pvcManifest(ws, r, this.o.storageClass, this.o.installation);
    try {
      await this.o.kube.core.createNamespacedPersistentVolumeClaim({ namespace: ws.k8s_namespace, body });
      this.o.log('gke.drive.created', { namespace: ws.k8s_namespace, pvc: r.name, storage_class: this.o.storageClass, size_gb: r.size_gb });
    } catch (err) {
      if (isNotFound(err)) throw providerUnavailable(`namespace ${ws.k8s_namespace} does not exist: ensure the workspace identity first (${kubeMessage(err)})`);
      if (!isConflict(err)) throw kubeFailure(`creating drive ${r.name}`, err);
      const have = await this.o.kube.core
        .readNamespacedPersistentVolumeClaim({ name: r.name, namespace: ws.k8s_namespace })
        .catch((e: unknown) => Promise.reject(kubeFailure(`reading drive ${r.name}`, e)));
      if (have.metadata?.labels?.[L_RESOURCE] !== labelValue(r.resource_id)) {
        throw conflict(`a volume claim named ${r.name} already exists in ${ws.k8s_namespace} for another drive`);
      }
    }
    return { backing_name: r.name };
  }
}
