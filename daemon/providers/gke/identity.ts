// Workspace identity, idempotent: namespace → KSA (annotated with its GSA) → optionally the GSA and
// its Workload Identity binding through the IAM REST API. Every step reports its state, so
// `POST /admin/workspaces/ensure-identity` shows what exists, what was made and what failed.
import type { V1Namespace, V1ServiceAccount } from '@kubernetes/client-node';
import { conflict } from '../../errors.js';
import type { WorkspaceRef } from '../types.js';
import { isConflict, isNotFound, kubeFailure, type Kube } from './kube.js';
import { L_INSTALLATION, L_WORKSPACE, labelValue, MANAGED_BY, MANAGER, namespaceManifest, serviceAccountManifest, WI_ANNOTATION, workloadIdentityMember } from './manifests.js';

export type StepState = 'created' | 'updated' | 'exists' | 'skipped' | 'failed';
export interface Step {
  state: StepState;
  name?: string;
  message?: string;
}
export interface IdentityReport {
  workspace_id: string;
  project: string | null;
  k8s_namespace: string;
  ksa_name: string;
  gsa_email: string;
  /** ready: every step done or deliberately skipped; failed: a step failed. */
  state: 'ready' | 'failed';
  steps: { namespace: Step; service_account: Step; google_service_account: Step; workload_identity_binding: Step };
}

/** A minimal IAM REST caller; GoogleAuth.request (google-auth-library via @google-cloud/storage) fits. */
export type GoogleRequest = <T>(opts: { url: string; method?: 'GET' | 'POST' | 'DELETE'; data?: unknown }) => Promise<{ data: T }>;

export interface IamPolicy {
  bindings?: { role: string; members?: string[] }[];
  etag?: string;
  version?: number;
}

export const WI_ROLE = 'roles/iam.workloadIdentityUser';
const gsaDescription = (ws: WorkspaceRef) => `onmemos workspace ${ws.workspace_id} (user ${ws.user_id})`;
const IAM = 'https://iam.googleapis.com/v1';

/** Add `member` to `role` in a policy (pure); `changed` is false when it was already there. */
export function withBinding(policy: IamPolicy, role: string, member: string): { policy: IamPolicy; changed: boolean } {
  const bindings = (policy.bindings ?? []).map((b) => ({ ...b, members: [...(b.members ?? [])] }));
  const b = bindings.find((x) => x.role === role);
  if (b?.members.includes(member)) return { policy, changed: false };
  if (b) b.members.push(member);
  else bindings.push({ role, members: [member] });
  return { policy: { ...policy, bindings }, changed: true };
}

const httpStatus = (err: unknown): number | undefined => {
  const e = err as { status?: number; code?: number | string; response?: { status?: number } };
  return e?.response?.status ?? e?.status ?? (typeof e?.code === 'number' ? e.code : undefined);
};
const errText = (err: unknown) => {
  const e = err as { message?: string; response?: { data?: { error?: { message?: string } } } };
  return e?.response?.data?.error?.message ?? e?.message ?? String(err);
};

/** Why an existing namespace is not this workspace's to use (pure); undefined when it is. Namespaces
 * made before installation ids existed carry none and are accepted on their workspace label. */
export function namespaceRefusal(have: V1Namespace, ws: Pick<WorkspaceRef, 'workspace_id' | 'k8s_namespace'>, installation: string): string | undefined {
  const labels = have.metadata?.labels ?? {};
  const name = ws.k8s_namespace;
  if (have.metadata?.deletionTimestamp) return `namespace ${name} is being deleted (Terminating since ${new Date(have.metadata.deletionTimestamp).toISOString()}); wait until it is gone, then retry`;
  if (labels[MANAGED_BY] !== MANAGER || labels[L_WORKSPACE] !== labelValue(ws.workspace_id)) {
    return `namespace ${name} already exists and is not workspace ${ws.workspace_id}'s (it lacks the labels ${MANAGED_BY}=${MANAGER} and ${L_WORKSPACE}=${labelValue(ws.workspace_id)}); delete or rename it, or give the workspace another namespace`;
  }
  const owner = labels[L_INSTALLATION];
  if (owner !== undefined && owner !== labelValue(installation)) {
    return `namespace ${name} belongs to another onmemos daemon on this cluster (${L_INSTALLATION}=${owner}); give the workspace another namespace`;
  }
  return undefined;
}

export async function ensureNamespaceAndKsa(kube: Kube, ws: WorkspaceRef, installation: string): Promise<{ namespace: Step; service_account: Step }> {
  let namespace: Step;
  try {
    await kube.core.createNamespace({ body: namespaceManifest(ws, installation) });
    namespace = { state: 'created', name: ws.k8s_namespace };
  } catch (err) {
    if (!isConflict(err)) throw kubeFailure(`creating namespace ${ws.k8s_namespace}`, err);
    // A 409 says a namespace of that name exists, not that it is ours or usable.
    const have = await kube.core.readNamespace({ name: ws.k8s_namespace }).catch((e: unknown) => Promise.reject(kubeFailure(`reading namespace ${ws.k8s_namespace}`, e)));
    const refusal = namespaceRefusal(have, ws, installation);
    if (refusal) throw conflict(refusal, { namespace: ws.k8s_namespace });
    namespace = { state: 'exists', name: ws.k8s_namespace };
  }
  let service_account: Step;
  const want = serviceAccountManifest(ws, installation);
  try {
    await kube.core.createNamespacedServiceAccount({ namespace: ws.k8s_namespace, body: want });
    service_account = { state: 'created', name: ws.ksa_name };
  } catch (err) {
    if (!isConflict(err)) throw kubeFailure(`creating service account ${ws.k8s_namespace}/${ws.ksa_name}`, err);
    // Converge: a rerun with a different GSA re-annotates the existing KSA.
    const have: V1ServiceAccount = await kube.core
      .readNamespacedServiceAccount({ name: ws.ksa_name, namespace: ws.k8s_namespace })
      .catch((e: unknown) => Promise.reject(kubeFailure(`reading service account ${ws.k8s_namespace}/${ws.ksa_name}`, e)));
    const current = have.metadata?.annotations?.[WI_ANNOTATION] ?? '';
    if (current === (ws.gsa_email ?? '')) service_account = { state: 'exists', name: ws.ksa_name };
    else {
      have.metadata = { ...have.metadata, labels: { ...have.metadata?.labels, ...want.metadata!.labels }, annotations: { ...have.metadata?.annotations, ...want.metadata!.annotations } };
      await kube.core
        .replaceNamespacedServiceAccount({ name: ws.ksa_name, namespace: ws.k8s_namespace, body: have })
        .catch((e: unknown) => Promise.reject(kubeFailure(`updating service account ${ws.k8s_namespace}/${ws.ksa_name}`, e)));
      service_account = { state: 'updated', name: ws.ksa_name, message: `annotation ${WI_ANNOTATION}: "${current}" -> "${ws.gsa_email}"` };
    }
  }
  return { namespace, service_account };
}

export async function ensureGsa(request: GoogleRequest, project: string, email: string, ws: WorkspaceRef): Promise<Step> {
  const url = `${IAM}/projects/${project}/serviceAccounts/${encodeURIComponent(email)}`;
  try {
    await request({ url });
    return { state: 'exists', name: email };
  } catch (err) {
    if (httpStatus(err) !== 404) return { state: 'failed', name: email, message: `IAM get: ${errText(err)}` };
  }
  try {
    await request({
      url: `${IAM}/projects/${project}/serviceAccounts`,
      method: 'POST',
      data: {
        accountId: email.split('@')[0],
        serviceAccount: { displayName: `onmemos ${ws.name}`.slice(0, 100), description: gsaDescription(ws) },
      },
    });
    return { state: 'created', name: email };
  } catch (err) {
    if (httpStatus(err) === 409) return { state: 'exists', name: email };
    return { state: 'failed', name: email, message: `IAM create: ${errText(err)}` };
  }
}

/** Grant the KSA `roles/iam.workloadIdentityUser` on the GSA
 * (https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity#kubernetes-sa-to-iam). */
export async function ensureWiBinding(request: GoogleRequest, project: string, email: string, ws: WorkspaceRef): Promise<Step> {
  const member = workloadIdentityMember(project, ws.k8s_namespace, ws.ksa_name);
  const resource = `${IAM}/projects/${project}/serviceAccounts/${encodeURIComponent(email)}`;
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { data } = await request<IamPolicy>({ url: `${resource}:getIamPolicy`, method: 'POST' });
      const { policy, changed } = withBinding(data, WI_ROLE, member);
      if (!changed) return { state: 'exists', name: member };
      try {
        await request({ url: `${resource}:setIamPolicy`, method: 'POST', data: { policy } });
        return { state: 'created', name: member };
      } catch (err) {
        if (httpStatus(err) !== 409) throw err; // 409 = etag moved on: read again
      }
    }
    return { state: 'failed', name: member, message: 'IAM policy kept changing under us (etag conflicts)' };
  } catch (err) {
    return { state: 'failed', name: member, message: `IAM policy: ${errText(err)}` };
  }
}

export interface IdentityDeps {
  kube: Kube;
  /** This daemon's installation id (installation.ts), a label on what it creates. */
  installation: string;
  request?: GoogleRequest;
  project?: string;
  autoProvision: boolean;
}

export async function ensureIdentity(deps: IdentityDeps, ws: WorkspaceRef): Promise<IdentityReport> {
  const { namespace, service_account } = await ensureNamespaceAndKsa(deps.kube, ws, deps.installation);
  let google_service_account: Step;
  let workload_identity_binding: Step;
  if (!deps.autoProvision) {
    const why = 'AUTO_PROVISION_IDENTITY is off: create the GSA and its binding yourself (README, GKE setup)';
    google_service_account = { state: 'skipped', name: ws.gsa_email || undefined, message: why };
    workload_identity_binding = { state: 'skipped', message: why };
  } else if (!deps.project || !ws.gsa_email || !deps.request) {
    const why = !deps.project ? 'no GCP project configured (GCP_PROJECT)' : !ws.gsa_email ? 'the workspace has no gsa_email' : 'no Google credentials';
    google_service_account = { state: 'failed', message: why };
    workload_identity_binding = { state: 'failed', message: why };
  } else {
    google_service_account = await ensureGsa(deps.request, deps.project, ws.gsa_email, ws);
    workload_identity_binding =
      google_service_account.state === 'failed'
        ? { state: 'failed', message: 'the Google service account is not there' }
        : await ensureWiBinding(deps.request, deps.project, ws.gsa_email, ws);
  }
  const steps = { namespace, service_account, google_service_account, workload_identity_binding };
  return {
    workspace_id: ws.workspace_id,
    project: deps.project ?? null,
    k8s_namespace: ws.k8s_namespace,
    ksa_name: ws.ksa_name,
    gsa_email: ws.gsa_email,
    state: Object.values(steps).some((s) => s.state === 'failed') ? 'failed' : 'ready',
    steps,
  };
}

/** Delete what ensureIdentity made: the namespace (its pods, PVCs and KSA go with it) and, when we
 * provision identities, the GSA. Missing objects are fine (idempotent). */
export async function deleteIdentity(deps: IdentityDeps, ws: WorkspaceRef): Promise<void> {
  try {
    await deps.kube.core.deleteNamespace({ name: ws.k8s_namespace });
  } catch (err) {
    if (!isNotFound(err)) throw kubeFailure(`deleting namespace ${ws.k8s_namespace}`, err);
  }
  if (deps.autoProvision && deps.request && deps.project && ws.gsa_email) {
    const url = `${IAM}/projects/${deps.project}/serviceAccounts/${encodeURIComponent(ws.gsa_email)}`;
    try {
      // Only a GSA this provider made for this workspace (its description says so); never one an admin brought.
      const { data } = await deps.request<{ description?: string }>({ url });
      if (data.description === gsaDescription(ws)) await deps.request({ url, method: 'DELETE' });
    } catch (err) {
      if (httpStatus(err) !== 404) throw err;
    }
  }
}
