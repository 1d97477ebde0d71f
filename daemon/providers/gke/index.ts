// The gke provider's one entry point: `const gke = await createGkeProviders({...})` gives the
// daemon its compute and storage providers plus the identity and gc operations for admin routes.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Storage } from '@google-cloud/storage';
import type { KubeConfig } from '@kubernetes/client-node';
import type { WorkspaceRef } from '../types.js';
import { GkeComputeProvider } from './compute.js';
import { gc, GC_GRACE_MS, type GcResult, type LiveSet } from './gc.js';
import type { GoogleRequest, IdentityReport } from './identity.js';
import { checkExecPlugin, gkeKubeConfig, Kube, loadKubeConfig } from './kube.js';
import { loadInstallationId } from './installation.js';
import { identityNames } from './manifests.js';
import { GkeStorageProvider } from './storage.js';

export { identityNames } from './manifests.js';
export type { IdentityReport } from './identity.js';

export interface GkeConfig {
  /** The daemon's home (its --home; else ONMEMOS_HOME, else ~/.onmemos): this provider keeps its
   * installation id there (gke-installation-id), the label that tells its objects from another daemon's. */
  home?: string;
  /** gc leaves objects younger than this alone (ONMEMOS_GC_GRACE_S; default 600 s). */
  gcGraceMs?: number;
  /** Path of a kubeconfig; default $KUBECONFIG or ~/.kube/config, current context. */
  kubeconfig?: string;
  /** A context of that kubeconfig instead of the current one. */
  context?: string;
  /** GCP project (GCP_PROJECT): Workload Identity pool, GSAs, buckets. */
  project?: string;
  /** GKE_REGION and GKE_CLUSTER: used when no kubeconfig names the cluster. */
  region?: string;
  cluster?: string;
  /** Where buckets live (ONMEMOS_GCS_LOCATION; default the region, else US). */
  bucketLocation?: string;
  /** Bucket name prefix (ONMEMOS_BUCKET_PREFIX; default "onmemos-"). */
  bucketPrefix?: string;
  /** Drives' storage class (ONMEMOS_STORAGE_CLASS; default "standard-rwx", Filestore basic HDD). */
  storageClass?: string;
  /** Minimum drive size in GiB for a class this provider does not know (ONMEMOS_DRIVE_MIN_GB). */
  driveMinGb?: number;
  /** A GCS API endpoint such as an emulator, e.g. http://127.0.0.1:4443 (ONMEMOS_GCS_ENDPOINT). The storage
   * library also reads STORAGE_EMULATOR_HOST itself, as its full base URL (…/storage/v1), overriding this. */
  gcsEndpoint?: string;
  /** Create GSAs and their Workload Identity bindings (AUTO_PROVISION_IDENTITY). */
  autoProvisionIdentity?: boolean;
  /** Launch gives up after this long without Running (ONMEMOS_LAUNCH_TIMEOUT_S; default 300 s). */
  launchTimeoutMs?: number;
  /** A function or a Logger (daemon/log.ts): events go to its `info`. */
  log?: LogSink;
}

type LogFn = (event: string, fields?: Record<string, unknown>) => void;
export type LogSink = LogFn | { info: LogFn };

export interface GkeProviders {
  compute: GkeComputeProvider;
  storage: GkeStorageProvider;
  /** For POST /admin/workspaces/ensure-identity: each step's state (`options.project` overrides GCP_PROJECT). */
  ensureIdentity(workspace: WorkspaceRef, options?: { project?: string }): Promise<{ state: 'ready' | 'failed'; identity: IdentityReport }>;
  /** Delete managed objects the store no longer knows (dryRun lists them only). */
  gc(live: LiveSet, dryRun?: boolean): Promise<GcResult>;
  /** Names for a new workspace record (k8s_namespace, ksa_name, gsa_email). */
  identityNames(workspace_id: string): { k8s_namespace: string; ksa_name: string; gsa_email: string };
  /** Every apiserver request this process sent (the round-trips benchmark reads it). */
  kube: Kube;
  settings: Required<Pick<GkeConfig, 'bucketLocation' | 'bucketPrefix' | 'storageClass' | 'autoProvisionIdentity' | 'launchTimeoutMs' | 'gcGraceMs'>> & {
    project?: string;
    server?: string;
    /** This daemon's installation id, a label on everything it creates. */
    installation: string;
  };
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v);
const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));

/** Resolve config against the environment (explicit values win). Pure. */
export function resolveGkeConfig(c: GkeConfig, env: NodeJS.ProcessEnv = process.env) {
  const project = c.project ?? env.GCP_PROJECT ?? undefined;
  const region = c.region ?? env.GKE_REGION ?? undefined;
  const cluster = c.cluster ?? env.GKE_CLUSTER ?? undefined;
  return {
    home: resolve(c.home ?? env.ONMEMOS_HOME ?? join(homedir(), '.onmemos')),
    gcGraceMs: c.gcGraceMs ?? (num(env.ONMEMOS_GC_GRACE_S) ?? GC_GRACE_MS / 1000) * 1000,
    kubeconfig: c.kubeconfig,
    context: c.context,
    project,
    region,
    cluster,
    bucketLocation: c.bucketLocation ?? env.ONMEMOS_GCS_LOCATION ?? region ?? 'US',
    bucketPrefix: c.bucketPrefix ?? env.ONMEMOS_BUCKET_PREFIX ?? 'onmemos-',
    storageClass: c.storageClass ?? env.ONMEMOS_STORAGE_CLASS ?? 'standard-rwx',
    driveMinGb: c.driveMinGb ?? num(env.ONMEMOS_DRIVE_MIN_GB),
    gcsEndpoint: c.gcsEndpoint ?? env.ONMEMOS_GCS_ENDPOINT ?? undefined,
    autoProvisionIdentity: c.autoProvisionIdentity ?? truthy(env.AUTO_PROVISION_IDENTITY),
    launchTimeoutMs: c.launchTimeoutMs ?? (num(env.ONMEMOS_LAUNCH_TIMEOUT_S) ?? 300) * 1000,
  };
}

async function kubeConfigFor(r: ReturnType<typeof resolveGkeConfig>, gcs: Storage): Promise<KubeConfig> {
  const gkeName = r.project && r.region && r.cluster ? `gke_${r.project}_${r.region}_${r.cluster}` : undefined;
  let kc: KubeConfig | undefined;
  try {
    kc = loadKubeConfig({ kubeconfig: r.kubeconfig, context: r.context });
    // GKE_CLUSTER names a cluster: use its context when the kubeconfig has it (as get-credentials names it).
    if (gkeName && !r.context && kc.getContexts().some((x) => x.name === gkeName)) kc.setCurrentContext(gkeName);
    else if (gkeName && !r.context && kc.getCurrentContext() !== gkeName && !r.kubeconfig) kc = undefined;
  } catch (err) {
    if (!gkeName) throw err;
  }
  if (!kc) kc = await gkeKubeConfig(r.project!, r.region!, r.cluster!, async () => (await gcs.authClient.getAccessToken()) ?? '');
  checkExecPlugin(kc);
  return kc;
}

export async function createGkeProviders(config: GkeConfig = {}): Promise<GkeProviders> {
  const r = resolveGkeConfig(config);
  const installation = loadInstallationId(r.home);
  const sink = config.log;
  const log: LogFn = !sink ? () => {} : typeof sink === 'function' ? sink : (e, f) => sink.info(e, f);
  const gcs = new Storage({ projectId: r.project, ...(r.gcsEndpoint ? { apiEndpoint: r.gcsEndpoint } : {}) });
  const kube = new Kube(await kubeConfigFor(r, gcs));
  // IAM REST through the same Google credentials the storage client uses (ADC / Workload Identity).
  const request: GoogleRequest = (opts) => gcs.authClient.request(opts) as never;
  const storage = new GkeStorageProvider({
    kube,
    gcs,
    request,
    project: r.project,
    autoProvision: r.autoProvisionIdentity,
    bucketLocation: r.bucketLocation,
    bucketPrefix: r.bucketPrefix,
    installation,
    storageClass: r.storageClass,
    driveMinGb: r.driveMinGb,
    log,
  });
  const compute = new GkeComputeProvider({ kube, bucketPrefix: r.bucketPrefix, installation, launchTimeoutMs: r.launchTimeoutMs, log });
  log('gke.configured', { server: kube.kc.getCurrentCluster()?.server, project: r.project, storage_class: r.storageClass, installation, gcs: r.gcsEndpoint ?? 'google' });
  return {
    compute,
    storage,
    ensureIdentity: async (ws, options) => {
      const identity = await storage.ensureIdentity(ws, options?.project);
      return { state: identity.state, identity };
    },
    gc: (live, dryRun) => gc(kube, gcs, r.bucketPrefix, live, { installation, graceMs: r.gcGraceMs }, dryRun),
    identityNames: (id) => identityNames(id, r.project),
    kube,
    settings: {
      bucketLocation: r.bucketLocation,
      bucketPrefix: r.bucketPrefix,
      storageClass: r.storageClass,
      autoProvisionIdentity: r.autoProvisionIdentity,
      launchTimeoutMs: r.launchTimeoutMs,
      gcGraceMs: r.gcGraceMs,
      installation,
      project: r.project,
      server: kube.kc.getCurrentCluster()?.server,
    },
  };
}
