// Kubernetes client wiring: kubeconfig (current context) or a GKE cluster looked up by
// GKE_CLUSTER/GKE_REGION/GCP_PROJECT, exec-credential plugins checked up front, and a request
// counter on every API call, watch and exec (the round-trips-per-launch measurement).
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import {
  ApiException,
  CoreV1Api,
  createConfiguration,
  Exec,
  KubeConfig,
  ServerConfiguration,
  StorageV1Api,
  Watch,
  type Configuration,
} from '@kubernetes/client-node';
import { ApiError, providerUnavailable } from '../../errors.js';

export interface KubeSource {
  kubeconfig?: string;
  context?: string;
  project?: string;
  region?: string;
  cluster?: string;
}

/** Look up an executable on PATH (or check an explicit path). */
export function findExecutable(cmd: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates = isAbsolute(cmd) || cmd.includes('/') ? [cmd] : path.split(delimiter).filter(Boolean).map((d) => join(d, cmd));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

const PLUGIN_HINTS: Record<string, string> = {
  'gke-gcloud-auth-plugin':
    'install it with `gcloud components install gke-gcloud-auth-plugin` or `apt-get install google-cloud-cli-gke-gcloud-auth-plugin` ' +
    '(https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin)',
};

/** Fail early and clearly when the current user's exec-credential plugin is not installed:
 * without this the client only reports `spawn ENOENT` on the first request. */
export function checkExecPlugin(kc: KubeConfig): void {
  const exec = kc.getCurrentUser()?.exec as { command?: string } | undefined;
  if (!exec?.command) return;
  if (!findExecutable(exec.command)) {
    const base = exec.command.split('/').pop() ?? exec.command;
    throw providerUnavailable(
      `the kubeconfig user "${kc.getCurrentUser()?.name}" needs the credential plugin "${exec.command}", which is not on PATH: ` +
        (PLUGIN_HINTS[base] ?? 'install it or choose another context'),
    );
  }
}

/** A kubeconfig for a GKE cluster found through the GKE API (what `gcloud container clusters get-credentials` writes). */
export async function gkeKubeConfig(project: string, region: string, cluster: string, token: () => Promise<string>): Promise<KubeConfig> {
  const url = `https://container.googleapis.com/v1/projects/${project}/locations/${region}/clusters/${cluster}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${await token()}` } });
  if (!res.ok) throw providerUnavailable(`cannot read GKE cluster ${project}/${region}/${cluster}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  const c = (await res.json()) as { endpoint: string; masterAuth: { clusterCaCertificate: string } };
  const name = `gke_${project}_${region}_${cluster}`;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name, server: `https://${c.endpoint}`, caData: c.masterAuth.clusterCaCertificate, skipTLSVerify: false }],
    users: [{ name, exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'gke-gcloud-auth-plugin', provideClusterInfo: true, interactiveMode: 'Never' } }],
    contexts: [{ name, cluster: name, user: name }],
    currentContext: name,
  });
  return kc;
}

export function loadKubeConfig(src: KubeSource): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (src.kubeconfig) kc.loadFromFile(src.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw providerUnavailable(`cannot load kubeconfig ${src.kubeconfig ?? '(default)'}: ${(err as Error).message}`);
  }
  if (src.context) kc.setCurrentContext(src.context);
  if (!kc.getCurrentCluster()) throw providerUnavailable('no Kubernetes cluster configured: set KUBECONFIG (current context) or GKE_CLUSTER, GKE_REGION and GCP_PROJECT');
  return kc;
}

/** Every request the provider sends to the apiserver, counted by verb and path. */
export class RequestLog {
  count = 0;
  readonly entries: string[] = [];
  add(what: string) {
    this.count++;
    if (this.entries.length < 1000) this.entries.push(what);
  }
  reset() {
    this.count = 0;
    this.entries.length = 0;
  }
}

export class Kube {
  readonly core: CoreV1Api;
  readonly storage: StorageV1Api;
  readonly requests = new RequestLog();
  private readonly execer: Exec;
  private readonly watcher: Watch;

  constructor(readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw providerUnavailable('kubeconfig has no current cluster');
    const log = this.requests;
    const config: Configuration = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [
        {
          pre: async (ctx) => {
            log.add(`${ctx.getHttpMethod()} ${new URL(ctx.getUrl()).pathname}`);
            return ctx;
          },
          post: async (ctx) => ctx,
        },
      ],
    });
    this.core = new CoreV1Api(config);
    this.storage = new StorageV1Api(config);
    this.execer = new Exec(kc);
    this.watcher = new Watch(kc);
  }

  exec(...args: Parameters<Exec['exec']>): ReturnType<Exec['exec']> {
    this.requests.add(`EXEC /api/v1/namespaces/${args[0]}/pods/${args[1]}/exec`);
    return this.execer.exec(...args);
  }

  watch(...args: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    this.requests.add(`WATCH ${args[0]}`);
    return this.watcher.watch(...args);
  }
}

export const statusOf = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);
export const isNotFound = (err: unknown) => statusOf(err) === 404;
export const isConflict = (err: unknown) => statusOf(err) === 409;

/** The apiserver's Status from an ApiException body (its reason and message), when there is one. */
function apiStatus(err: ApiException<unknown>): { reason?: string; message?: string } {
  try {
    const parsed = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    if (parsed && typeof parsed === 'object') {
      const { reason, message } = parsed as { reason?: unknown; message?: unknown };
      return { reason: typeof reason === 'string' ? reason : undefined, message: typeof message === 'string' ? message : undefined };
    }
  } catch {
    /* not JSON */
  }
  return {};
}

/** The apiserver's own message from an ApiException body, for error reports. */
export function kubeMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const { message } = apiStatus(err);
    return `HTTP ${err.code}: ${message ?? String(err.body).slice(0, 300)}`;
  }
  const e = err as { code?: string; message?: string };
  if (e?.code === 'ENOENT' || /ENOENT/.test(e?.message ?? '')) return `credential plugin missing: ${e.message}`;
  return e?.message ?? String(err);
}

/** A failed apiserver call as the daemon's typed error. The apiserver's refusals (4xx) say what is
 * wrong with this request and become 4xx answers with its message: a quota or a namespace being
 * deleted is a 409, an admission or RBAC denial a 403, an invalid object a 400. Transport failures
 * (apiserver down, TLS, credential plugin) and 5xx become a 503 the operator can act on. */
export function kubeFailure(what: string, err: unknown): Error {
  const code = statusOf(err);
  if (code === undefined || code >= 500 || code === 429 || code === 401) {
    return providerUnavailable(`Kubernetes API unavailable while ${what}: ${kubeMessage(err)}`);
  }
  const { reason, message = String((err as ApiException<unknown>).body).slice(0, 300) } = apiStatus(err as ApiException<unknown>);
  const details = { kubernetes: { code, reason, message } };
  const says = `the Kubernetes API refused ${what}: ${message}`;
  if (code === 403) {
    if (/quota/i.test(message)) {
      return new ApiError(409, 'conflict', `${says} — the workspace's namespace is at its ResourceQuota: end a shuttle or remove storage in it, or ask the cluster admin to raise the quota`, details);
    }
    if (/being terminated|is terminating/i.test(message)) {
      return new ApiError(409, 'conflict', `${says} — the namespace is being deleted; wait until it is gone, then retry`, details);
    }
    if (/cannot \w+ resource/i.test(message)) {
      return new ApiError(403, 'forbidden', `${says} — the daemon's Kubernetes identity lacks this RBAC permission; the cluster admin must grant it`, details);
    }
    return new ApiError(403, 'forbidden', `${says} — a cluster admission policy denied it; change the request or ask the cluster admin`, details);
  }
  if (code === 400 || code === 422) return new ApiError(400, 'invalid_request', says, details);
  if (code === 404) return new ApiError(404, 'not_found', says, details);
  if (code === 409 || code === 410) return new ApiError(409, 'conflict', says, details);
  return new ApiError(400, 'invalid_request', says, details);
}
