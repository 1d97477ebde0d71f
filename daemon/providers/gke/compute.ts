// ComputeProvider on GKE: a shuttle is a pod in its workspace's namespace. Launch = create + one
// watch until Running (2 apiserver round trips with a warm workspace); failures report the pod's
// events; execute and shells go through the exec API.
import type { V1Pod } from '@kubernetes/client-node';
import { conflict, providerUnavailable } from '../../errors.js';
import type { ComputeProvider, ExecOptions, ExecResult, LaunchSpec, Progress, SessionRef, ShellInfo, ShellStream } from '../types.js';
import { runExec } from './exec.js';
import { isConflict, isNotFound, kubeMessage, kubeFailure, type Kube } from './kube.js';
import { bucketName, CONTAINER, L_SESSION, labelValue, podManifest, type PodStorage } from './manifests.js';
import { ShellRegistry } from './shell.js';

export interface GkeComputeOptions {
  kube: Kube;
  bucketPrefix: string;
  /** This daemon's installation id (installation.ts), a label on every pod. */
  installation: string;
  /** How long launch waits for Running before failing with the pod's events. */
  launchTimeoutMs: number;
  log: (event: string, fields?: Record<string, unknown>) => void;
}

/** Waiting reasons that never fix themselves: fail now instead of at the timeout. */
const FATAL_WAITING = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/** What a pod's status says, for progress lines and the launch decision (pure). */
export function podState(pod: V1Pod): { running: boolean; fatal?: string; message: string } {
  const phase = pod.status?.phase ?? 'Pending';
  // The shuttle's own container by name: statuses are sorted by name, so a sidecar GKE injects
  // (gke-gcsfuse-sidecar, istio-proxy) can come first and run while the shuttle is dead.
  const cs = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  if (phase === 'Failed' || phase === 'Succeeded') return { running: false, fatal: `pod ${phase.toLowerCase()}: ${pod.status?.reason ?? ''} ${pod.status?.message ?? ''}`.trim(), message: phase };
  // restartPolicy Never: an ended shuttle container never comes back, even while a sidecar keeps the pod Running.
  const ended = cs?.state?.terminated;
  if (ended) {
    const why = `container ${CONTAINER} ended: ${ended.reason ?? 'terminated'} (exit code ${ended.exitCode})${ended.message ? ` ${ended.message}` : ''}`;
    return { running: false, fatal: why, message: why };
  }
  if (cs?.state?.waiting?.reason && FATAL_WAITING.has(cs.state.waiting.reason)) {
    return { running: false, fatal: `${cs.state.waiting.reason}: ${cs.state.waiting.message ?? ''}`.trim(), message: cs.state.waiting.reason };
  }
  if (phase === 'Running' && cs?.state?.running) return { running: true, message: 'running' };
  const unsched = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unsched) return { running: false, message: `waiting for a node: ${unsched.message ?? unsched.reason ?? ''}`.trim() };
  if (cs?.state?.waiting?.reason) return { running: false, message: `container ${cs.state.waiting.reason}` };
  if (pod.spec?.nodeName) return { running: false, message: `scheduled on ${pod.spec.nodeName}, starting` };
  return { running: false, message: `pod ${phase.toLowerCase()}` };
}

export class GkeComputeProvider implements ComputeProvider {
  readonly name = 'gke' as const;
  private readonly shells: ShellRegistry;

  constructor(private readonly o: GkeComputeOptions) {
    this.shells = new ShellRegistry(o.kube);
  }

  async check(): Promise<void> {
    try {
      await this.o.kube.core.getAPIResources();
    } catch (err) {
      throw providerUnavailable(`the Kubernetes API at ${this.o.kube.kc.getCurrentCluster()?.server} does not answer: ${kubeMessage(err)}`);
    }
  }

  async launch(spec: LaunchSpec, progress: Progress = () => {}): Promise<void> {
    const storage: PodStorage = { buckets: {}, claims: {} };
    for (const m of spec.mounts) {
      if (m.type === 'bucket') storage.buckets[m.resource_id] = bucketName(this.o.bucketPrefix, spec.workspace, m);
      else storage.claims[m.resource_id] = m.name;
    }
    const body = podManifest(spec, storage, this.o.installation);
    const ns = spec.namespace;
    const name = spec.sandbox_name;
    let created: V1Pod;
    try {
      created = await this.o.kube.core.createNamespacedPod({ namespace: ns, body });
      progress(`pod ${ns}/${name} created`);
    } catch (err) {
      if (!isConflict(err)) throw kubeFailure(`creating pod ${ns}/${name}`, err);
      created = await this.o.kube.core.readNamespacedPod({ name, namespace: ns }).catch((e: unknown) => Promise.reject(kubeFailure(`reading pod ${ns}/${name}`, e)));
      if (created.metadata?.labels?.[L_SESSION] !== labelValue(spec.session_id)) throw conflict(`pod ${ns}/${name} already exists for another session`);
      progress(`pod ${ns}/${name} already exists`);
    }
    this.o.log('gke.pod.created', { namespace: ns, pod: name, session_id: spec.session_id });
    const first = podState(created);
    if (first.running) return;
    try {
      await this.waitRunning(ns, name, created.metadata?.resourceVersion, progress);
    } catch (err) {
      const events = await this.podEvents(ns, name);
      // Never leave a half-started pod behind: the session is reported failed and the pod goes.
      await this.terminate(spec).catch(() => {});
      throw providerUnavailable(`shuttle pod ${ns}/${name} did not start: ${(err as Error).message}${events ? `\npod events:\n${events}` : ''}`, {
        namespace: ns,
        pod: name,
        events: events.split('\n').filter(Boolean),
      });
    }
  }

  /** One watch from the creation's resourceVersion, so no event between create and watch is lost. */
  private waitRunning(ns: string, name: string, resourceVersion: string | undefined, progress: Progress): Promise<void> {
    return new Promise((resolve, reject) => {
      let last = '';
      let done = false;
      let abort: AbortController | undefined;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        abort?.abort();
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => finish(new Error(`not Running after ${Math.round(this.o.launchTimeoutMs / 1000)} s (last state: ${last || 'pending'})`)), this.o.launchTimeoutMs);
      this.o.kube
        .watch(
          `/api/v1/namespaces/${ns}/pods`,
          { fieldSelector: `metadata.name=${name}`, resourceVersion, allowWatchBookmarks: false },
          (type: string, pod: V1Pod) => {
            if (type === 'DELETED') return finish(new Error('the pod was deleted while starting'));
            if (type === 'ERROR') return; // e.g. resourceVersion too old; the done callback reports it
            const s = podState(pod);
            if (s.message !== last) progress((last = s.message));
            if (s.fatal) finish(new Error(s.fatal));
            else if (s.running) finish();
          },
          (err: unknown) => {
            if (!done) finish(new Error(err ? `watch ended: ${kubeMessage(err)}` : 'watch closed by the apiserver before the pod ran'));
          },
        )
        .then((a) => {
          abort = a;
          if (done) a.abort();
        }, (err) => finish(new Error(`cannot watch the pod: ${kubeMessage(err)}`)));
    });
  }

  /** The pod's events, oldest first, one per line: what the scheduler and kubelet said. */
  async podEvents(ns: string, name: string): Promise<string> {
    try {
      const list = await this.o.kube.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name}` });
      return list.items
        .sort((a, b) => String(a.lastTimestamp ?? a.eventTime ?? '').localeCompare(String(b.lastTimestamp ?? b.eventTime ?? '')))
        .map((e) => `${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ''}`)
        .join('\n');
    } catch (err) {
      return `(events unavailable: ${kubeMessage(err)})`;
    }
  }

  execute(session: SessionRef, options: ExecOptions): Promise<ExecResult> {
    return runExec(this.o.kube, session, options);
  }

  async terminate(session: SessionRef): Promise<void> {
    this.shells.closeAll(session);
    try {
      await this.o.kube.core.deleteNamespacedPod({ name: session.sandbox_name, namespace: session.namespace });
      this.o.log('gke.pod.deleted', { namespace: session.namespace, pod: session.sandbox_name });
    } catch (err) {
      if (!isNotFound(err)) throw kubeFailure(`deleting pod ${session.namespace}/${session.sandbox_name}`, err);
    }
  }

  async isAlive(session: SessionRef): Promise<boolean> {
    try {
      const pod = await this.o.kube.core.readNamespacedPod({ name: session.sandbox_name, namespace: session.namespace });
      return !pod.metadata?.deletionTimestamp && podState(pod).running;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw kubeFailure(`reading pod ${session.namespace}/${session.sandbox_name}`, err);
    }
  }

  openShell(session: SessionRef, options: { cols: number; rows: number; attach?: string }): Promise<ShellStream> {
    return this.shells.open(session, options);
  }

  async listShells(session: SessionRef): Promise<ShellInfo[]> {
    return this.shells.list(session);
  }

  async close(): Promise<void> {
    this.shells.closeAll();
  }
}
