// The gke provider's decisions that need no cluster: IAM policy merging, exit codes from the exec
// status channel, pod state reading, orphan detection, config resolution, credential-plugin checks.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ApiException, KubeConfig, type V1Namespace, type V1Pod } from '@kubernetes/client-node';
import { ApiError } from '../../daemon/errors.js';
import { podState } from '../../daemon/providers/gke/compute.js';
import { execArgv, exitCodeOf } from '../../daemon/providers/gke/exec.js';
import { findOrphans, type Found } from '../../daemon/providers/gke/gc.js';
import { namespaceRefusal, WI_ROLE, withBinding } from '../../daemon/providers/gke/identity.js';
import { resolveGkeConfig } from '../../daemon/providers/gke/index.js';
import { loadInstallationId } from '../../daemon/providers/gke/installation.js';
import { checkExecPlugin, kubeFailure } from '../../daemon/providers/gke/kube.js';

describe('gke IAM policy merge', () => {
  it('adds the member once and keeps other bindings and the etag', () => {
    const m = 'serviceAccount:p.svc.id.goog[ns/ksa]';
    const base = { etag: 'abc', bindings: [{ role: 'roles/viewer', members: ['user:a@b.c'] }] };
    const { policy, changed } = withBinding(base, WI_ROLE, m);
    assert.equal(changed, true);
    assert.equal(policy.etag, 'abc');
    assert.deepEqual(policy.bindings, [{ role: 'roles/viewer', members: ['user:a@b.c'] }, { role: WI_ROLE, members: [m] }]);
    assert.equal(withBinding(policy, WI_ROLE, m).changed, false);
    const more = withBinding(policy, WI_ROLE, 'serviceAccount:p.svc.id.goog[ns2/ksa]');
    assert.deepEqual(more.policy.bindings![1]!.members, [m, 'serviceAccount:p.svc.id.goog[ns2/ksa]']);
    assert.deepEqual(base.bindings.length, 1, 'input not mutated');
  });
});

describe('gke exec status', () => {
  it('reads the exit code from the channel-3 status', () => {
    assert.deepEqual(exitCodeOf({ status: 'Success' }), { code: 0 });
    assert.equal(exitCodeOf({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } }).code, 3);
    assert.equal(exitCodeOf({ status: 'Failure', message: 'exec: "nope": executable file not found in $PATH' }).code, 127);
    assert.equal(exitCodeOf(undefined).code, 255);
    // kwok's local exec wraps the process error instead of a NonZeroExitCode cause.
    assert.equal(exitCodeOf({ status: 'Failure', reason: 'InternalError', message: 'error executing command in container: cmd wait: /bin/sh -c exit 4: exit status 4' }).code, 4);
    assert.equal(exitCodeOf({ status: 'Failure', message: 'cmd wait: sleep 9: signal: killed' }).code, 137);
  });
  it('wraps the command with env and an in-pod kill at the deadline', () => {
    assert.deepEqual(execArgv('echo hi', 5).slice(0, 2), ['/bin/sh', '-c']);
    assert.deepEqual(execArgv('echo hi', 5).slice(-2), ['5', 'echo hi']);
    const withEnv = execArgv('echo $A', 7, { A: 'x y' });
    assert.deepEqual(withEnv.slice(0, 2), ['env', 'A=x y']);
  });
});

describe('gke pod state', () => {
  const pod = (status: V1Pod['status'], nodeName?: string): V1Pod => ({ spec: { containers: [], nodeName }, status });
  it('running only when the container runs', () => {
    assert.equal(podState(pod({ phase: 'Running', containerStatuses: [{ name: 'shuttle', image: '', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] })).running, true);
    assert.equal(podState(pod({ phase: 'Pending' })).running, false);
  });
  it('image pull errors and failed pods are fatal at once', () => {
    const s = podState(pod({ phase: 'Pending', containerStatuses: [{ name: 'shuttle', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'no such image' } } }] }));
    assert.match(s.fatal!, /ImagePullBackOff: no such image/);
    assert.match(podState(pod({ phase: 'Failed', reason: 'DeadlineExceeded' })).fatal!, /DeadlineExceeded/);
  });
  it('reads the shuttle container by name, not the first status (sidecars sort before it)', () => {
    const st = (name: string, state: object) => ({ name, image: '', imageID: '', ready: false, restartCount: 0, state });
    // The kubelet sorts statuses by name: gke-gcsfuse-sidecar and istio-proxy come before shuttle.
    const dead = pod({ phase: 'Running', containerStatuses: [st('gke-gcsfuse-sidecar', { running: {} }), st('istio-proxy', { running: {} }), st('shuttle', { terminated: { exitCode: 1, reason: 'Error' } })] });
    const s = podState(dead);
    assert.equal(s.running, false);
    assert.match(s.fatal ?? '', /shuttle ended: Error \(exit code 1\)/);
    const pulling = pod({ phase: 'Pending', containerStatuses: [st('gke-gcsfuse-sidecar', { running: {} }), st('shuttle', { waiting: { reason: 'ErrImagePull', message: 'nope' } })] });
    assert.match(podState(pulling).fatal ?? '', /ErrImagePull: nope/);
    const starting = pod({ phase: 'Running', containerStatuses: [st('gke-gcsfuse-sidecar', { running: {} }), st('shuttle', { waiting: { reason: 'ContainerCreating' } })] });
    assert.equal(podState(starting).running, false);
    const up = pod({ phase: 'Running', containerStatuses: [st('gke-gcsfuse-sidecar', { running: {} }), st('shuttle', { running: {} })] });
    assert.equal(podState(up).running, true);
    assert.equal(podState(pod({ phase: 'Running', containerStatuses: [st('gke-gcsfuse-sidecar', { running: {} })] })).running, false, 'no shuttle status yet');
  });
  it('says why it waits', () => {
    assert.match(podState(pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', message: '0/1 nodes are available' }] })).message, /0\/1 nodes/);
    assert.match(podState(pod({ phase: 'Pending' }, 'node-1')).message, /scheduled on node-1/);
  });
});

describe('gke orphans', () => {
  const INST = 'aaaa1111bbbb2222cccc';
  const OTHER = 'ffff9999eeee8888dddd';
  const now = Date.parse('2030-01-01T12:00:00Z');
  const old = new Date(now - 3600_000).toISOString();
  const mb = { 'app.kubernetes.io/managed-by': 'onmemos', 'onmemos.dev/installation-id': INST };
  const gb = { 'managed-by': 'onmemos', 'onmemos-installation': INST };
  const scope = { installation: INST, graceMs: 600_000, now };
  const objs: Found[] = [
    { kind: 'Namespace', name: 'onm-ws-live', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-live' }, created: old },
    { kind: 'Namespace', name: 'onm-ws-gone', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-gone' }, created: old },
    { kind: 'Namespace', name: 'kube-system', labels: {}, created: old },
    { kind: 'Pod', namespace: 'onm-ws-live', name: 'shuttle-a', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-live', 'onmemos.dev/session-id': 'shuttle-a' }, created: old },
    { kind: 'Pod', namespace: 'onm-ws-live', name: 'shuttle-old', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-live', 'onmemos.dev/session-id': 'shuttle-old' }, created: old },
    { kind: 'Pod', namespace: 'onm-ws-live', name: 'not-ours', labels: { 'onmemos.dev/session-id': 'x' }, created: old },
    { kind: 'PersistentVolumeClaim', namespace: 'onm-ws-live', name: 'keep', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-live', 'onmemos.dev/resource-id': 'drive-1' }, created: old },
    { kind: 'PersistentVolumeClaim', namespace: 'onm-ws-live', name: 'drop', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-live', 'onmemos.dev/resource-id': 'drive-9' }, created: old },
    { kind: 'Bucket', name: 'onmemos-a', labels: { ...gb, 'onmemos-workspace': 'ws-live', 'onmemos-resource': 'vault-1' }, created: old },
    { kind: 'Bucket', name: 'onmemos-b', labels: { ...gb, 'onmemos-workspace': 'ws-live', 'onmemos-resource': 'vault-2' }, created: old },
    { kind: 'Bucket', name: 'someone-else', labels: {}, created: old },
  ];
  const live = { workspace_ids: ['ws-live'], session_ids: ['shuttle-a'], resource_ids: ['drive-1', 'vault-1'] };
  it('finds what the store no longer knows, and only managed objects', () => {
    assert.deepEqual(findOrphans(objs, live, scope).map((o) => o.name).sort(), ['drop', 'onm-ws-gone', 'onmemos-b', 'shuttle-old']);
  });
  it("never another installation's objects, nor unlabelled ones made before installation ids", () => {
    const other = { 'app.kubernetes.io/managed-by': 'onmemos', 'onmemos.dev/installation-id': OTHER };
    const legacy = { 'app.kubernetes.io/managed-by': 'onmemos' };
    const theirs: Found[] = [
      { kind: 'Namespace', name: 'onm-ws-theirs', labels: { ...other, 'onmemos.dev/workspace-id': 'ws-theirs' }, created: old },
      { kind: 'Pod', namespace: 'onm-ws-theirs', name: 'shuttle-t', labels: { ...other, 'onmemos.dev/workspace-id': 'ws-theirs', 'onmemos.dev/session-id': 'shuttle-t' }, created: old },
      { kind: 'Namespace', name: 'onm-ws-legacy', labels: { ...legacy, 'onmemos.dev/workspace-id': 'ws-legacy' }, created: old },
      { kind: 'PersistentVolumeClaim', namespace: 'onm-ws-legacy', name: 'pvc', labels: { ...legacy, 'onmemos.dev/workspace-id': 'ws-legacy', 'onmemos.dev/resource-id': 'd' }, created: old },
      { kind: 'Bucket', name: 'onmemos-t', labels: { 'managed-by': 'onmemos', 'onmemos-installation': OTHER, 'onmemos-workspace': 'ws-theirs', 'onmemos-resource': 'v' }, created: old },
      { kind: 'Bucket', name: 'onmemos-legacy', labels: { 'managed-by': 'onmemos', 'onmemos-workspace': 'ws-legacy', 'onmemos-resource': 'v' }, created: old },
    ];
    assert.deepEqual(findOrphans(theirs, live, scope), []);
  });
  it('leaves objects younger than the grace period, or of unknown age, alone', () => {
    const young = new Date(now - 60_000).toISOString();
    const fresh: Found[] = [
      { kind: 'Pod', namespace: 'onm-ws-live', name: 'shuttle-starting', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-live', 'onmemos.dev/session-id': 'shuttle-starting' }, created: young },
      { kind: 'Namespace', name: 'onm-ws-new', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-new' }, created: young },
      { kind: 'Bucket', name: 'onmemos-new', labels: { ...gb, 'onmemos-workspace': 'ws-new', 'onmemos-resource': 'v' }, created: young },
      { kind: 'Namespace', name: 'onm-ws-undated', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-undated' } },
    ];
    assert.deepEqual(findOrphans(fresh, live, scope), []);
    assert.deepEqual(findOrphans(fresh.slice(0, 3), live, { ...scope, now: now + 600_000 }).map((o) => o.name), ['shuttle-starting', 'onm-ws-new', 'onmemos-new']);
  });
});

describe('gke apiserver refusals', () => {
  const refusal = (code: number, reason: string, message: string) =>
    kubeFailure('creating pod onm-ws-1/shuttle-1', new ApiException(code, 'HTTP-Code: ' + code, JSON.stringify({ kind: 'Status', status: 'Failure', reason, message, code }), {}));
  it('4xx become typed answers with the apiserver\'s message, never a bare client exception', () => {
    const quota = refusal(403, 'Forbidden', 'pods "shuttle-1" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0');
    assert.ok(quota instanceof ApiError);
    assert.equal(quota.status, 409);
    assert.match(quota.message, /exceeded quota: q/);
    assert.match(quota.message, /ResourceQuota/);
    const term = refusal(403, 'Forbidden', 'pods "shuttle-1" is forbidden: unable to create new content in namespace onm-ws-1 because it is being terminated');
    assert.equal((term as ApiError).status, 409);
    assert.match(term.message, /being deleted; wait/);
    const rbac = refusal(403, 'Forbidden', 'pods is forbidden: User "daemon" cannot create resource "pods" in API group "" in the namespace "onm-ws-1"');
    assert.equal((rbac as ApiError).status, 403);
    assert.match(rbac.message, /RBAC/);
    const psa = refusal(403, 'Forbidden', 'pods "shuttle-1" is forbidden: violates PodSecurity "restricted:latest": seccompProfile');
    assert.equal((psa as ApiError).status, 403);
    assert.match(psa.message, /admission policy/);
    assert.equal((refusal(422, 'Invalid', 'Pod "x" is invalid: spec.containers[0].env[0].name: Invalid value') as ApiError).status, 400);
    assert.equal((refusal(409, 'AlreadyExists', 'pods "x" already exists') as ApiError).status, 409);
    assert.deepEqual((refusal(409, 'AlreadyExists', 'pods "x" already exists') as ApiError).details, { kubernetes: { code: 409, reason: 'AlreadyExists', message: 'pods "x" already exists' } });
  });
  it('5xx, 429 and transport failures stay a 503', () => {
    assert.equal((refusal(500, 'InternalError', 'etcd timeout') as ApiError).status, 503);
    assert.equal((refusal(429, 'TooManyRequests', 'slow down') as ApiError).status, 503);
    assert.equal((kubeFailure('listing pods', new Error('connect ECONNREFUSED 127.0.0.1:6443')) as ApiError).status, 503);
  });
});

describe('gke namespace ownership', () => {
  const INST = 'aaaa1111bbbb2222cccc';
  const w = { workspace_id: 'ws-1', k8s_namespace: 'onm-ws-1' };
  const ns = (labels: Record<string, string>, deletionTimestamp?: Date): V1Namespace => ({ metadata: { name: 'onm-ws-1', labels, deletionTimestamp } });
  const mine = { 'app.kubernetes.io/managed-by': 'onmemos', 'onmemos.dev/workspace-id': 'ws-1', 'onmemos.dev/installation-id': INST };
  it('accepts its own namespace and one made before installation ids', () => {
    assert.equal(namespaceRefusal(ns(mine), w, INST), undefined);
    assert.equal(namespaceRefusal(ns({ 'app.kubernetes.io/managed-by': 'onmemos', 'onmemos.dev/workspace-id': 'ws-1' }), w, INST), undefined);
  });
  it('refuses a stranger, another workspace, another daemon, or one being deleted', () => {
    assert.match(namespaceRefusal(ns({}), w, INST) ?? '', /not workspace ws-1's/);
    assert.match(namespaceRefusal(ns({ ...mine, 'onmemos.dev/workspace-id': 'ws-2' }), w, INST) ?? '', /not workspace ws-1's/);
    assert.match(namespaceRefusal(ns({ ...mine, 'onmemos.dev/installation-id': 'other' }), w, INST) ?? '', /another onmemos daemon/);
    assert.match(namespaceRefusal(ns(mine, new Date()), w, INST) ?? '', /being deleted/);
  });
});

describe('gke config', () => {
  it('defaults and environment', () => {
    const r = resolveGkeConfig({}, {});
    assert.equal(r.storageClass, 'standard-rwx');
    assert.equal(r.bucketPrefix, 'onmemos-');
    assert.equal(r.bucketLocation, 'US');
    assert.equal(r.autoProvisionIdentity, false);
    assert.equal(r.launchTimeoutMs, 300_000);
    const e = resolveGkeConfig({}, { GCP_PROJECT: 'p', GKE_REGION: 'europe-west1', ONMEMOS_GCS_ENDPOINT: 'http://127.0.0.1:4443', AUTO_PROVISION_IDENTITY: 'true', ONMEMOS_STORAGE_CLASS: 'nfs' });
    assert.equal(e.bucketLocation, 'europe-west1');
    assert.equal(e.gcsEndpoint, 'http://127.0.0.1:4443');
    assert.equal(e.autoProvisionIdentity, true);
    assert.equal(e.storageClass, 'nfs');
    assert.equal(resolveGkeConfig({ storageClass: 'x' }, { ONMEMOS_STORAGE_CLASS: 'nfs' }).storageClass, 'x');
  });
});

describe('gke installation id', () => {
  it('made once in the home (0600, a valid label value), then read back; a damaged file is a clear error', () => {
    const home = join(mkdtempSync(join(tmpdir(), 'gke-home-')), 'nested');
    const id = loadInstallationId(home);
    assert.match(id, /^[a-z0-9]{16,40}$/);
    assert.equal(statSync(join(home, 'gke-installation-id')).mode & 0o777, 0o600);
    assert.equal(loadInstallationId(home), id);
    assert.equal(readFileSync(join(home, 'gke-installation-id'), 'utf8').trim(), id);
    assert.notEqual(loadInstallationId(mkdtempSync(join(tmpdir(), 'gke-home-'))), id);
    writeFileSync(join(home, 'gke-installation-id'), 'Not An Id!\n');
    assert.throws(() => loadInstallationId(home), (e: unknown) => e instanceof ApiError && e.status === 503 && /installation id/.test(e.message));
  });
  it('home and gc grace from config, else the environment, else the defaults', () => {
    assert.equal(resolveGkeConfig({ home: '/srv/onm' }, { ONMEMOS_HOME: '/x' }).home, '/srv/onm');
    assert.equal(resolveGkeConfig({}, { ONMEMOS_HOME: '/x' }).home, '/x');
    assert.equal(resolveGkeConfig({}, {}).gcGraceMs, 600_000);
    assert.equal(resolveGkeConfig({}, { ONMEMOS_GC_GRACE_S: '30' }).gcGraceMs, 30_000);
  });
});

describe('gke credential plugin', () => {
  const kcWith = (command: string) => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
      users: [{ name: 'u', exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command } }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return kc;
  };
  it('a missing gke-gcloud-auth-plugin is a 503 saying how to install it', () => {
    const old = process.env.PATH;
    process.env.PATH = mkdtempSync(join(tmpdir(), 'empty-path-'));
    try {
      assert.throws(() => checkExecPlugin(kcWith('gke-gcloud-auth-plugin')), (e: unknown) => e instanceof ApiError && e.status === 503 && /gcloud components install gke-gcloud-auth-plugin/.test(e.message));
    } finally {
      process.env.PATH = old;
    }
  });
  it('a present plugin passes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plugin-'));
    const p = join(dir, 'my-plugin');
    writeFileSync(p, '#!/bin/sh\n');
    chmodSync(p, 0o755);
    assert.doesNotThrow(() => checkExecPlugin(kcWith(p)));
  });
});
