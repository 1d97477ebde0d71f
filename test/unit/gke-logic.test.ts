// The gke provider's decisions that need no cluster: IAM policy merging, exit codes from the exec
// status channel, pod state reading, orphan detection, config resolution, credential-plugin checks.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { ApiError } from '../../daemon/errors.js';
import { podState } from '../../daemon/providers/gke/compute.js';
import { execArgv, exitCodeOf } from '../../daemon/providers/gke/exec.js';
import { findOrphans, type Found } from '../../daemon/providers/gke/gc.js';
import { WI_ROLE, withBinding } from '../../daemon/providers/gke/identity.js';
import { resolveGkeConfig } from '../../daemon/providers/gke/index.js';
import { checkExecPlugin } from '../../daemon/providers/gke/kube.js';

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
    assert.equal(podState(pod({ phase: 'Running', containerStatuses: [{ name: 's', image: '', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] })).running, true);
    assert.equal(podState(pod({ phase: 'Pending' })).running, false);
  });
  it('image pull errors and failed pods are fatal at once', () => {
    const s = podState(pod({ phase: 'Pending', containerStatuses: [{ name: 's', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'no such image' } } }] }));
    assert.match(s.fatal!, /ImagePullBackOff: no such image/);
    assert.match(podState(pod({ phase: 'Failed', reason: 'DeadlineExceeded' })).fatal!, /DeadlineExceeded/);
  });
  it('says why it waits', () => {
    assert.match(podState(pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', message: '0/1 nodes are available' }] })).message, /0\/1 nodes/);
    assert.match(podState(pod({ phase: 'Pending' }, 'node-1')).message, /scheduled on node-1/);
  });
});

describe('gke orphans', () => {
  const mb = { 'app.kubernetes.io/managed-by': 'onmemos' };
  const objs: Found[] = [
    { kind: 'Namespace', name: 'onm-ws-live', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-live' } },
    { kind: 'Namespace', name: 'onm-ws-gone', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-gone' } },
    { kind: 'Namespace', name: 'kube-system', labels: {} },
    { kind: 'Pod', namespace: 'onm-ws-live', name: 'shuttle-a', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-live', 'onmemos.dev/session-id': 'shuttle-a' } },
    { kind: 'Pod', namespace: 'onm-ws-live', name: 'shuttle-old', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-live', 'onmemos.dev/session-id': 'shuttle-old' } },
    { kind: 'Pod', namespace: 'onm-ws-live', name: 'not-ours', labels: { 'onmemos.dev/session-id': 'x' } },
    { kind: 'PersistentVolumeClaim', namespace: 'onm-ws-live', name: 'keep', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-live', 'onmemos.dev/resource-id': 'drive-1' } },
    { kind: 'PersistentVolumeClaim', namespace: 'onm-ws-live', name: 'drop', labels: { ...mb, 'onmemos.dev/workspace-id': 'ws-live', 'onmemos.dev/resource-id': 'drive-9' } },
    { kind: 'Bucket', name: 'onmemos-a', labels: { 'managed-by': 'onmemos', 'onmemos-workspace': 'ws-live', 'onmemos-resource': 'vault-1' } },
    { kind: 'Bucket', name: 'onmemos-b', labels: { 'managed-by': 'onmemos', 'onmemos-workspace': 'ws-live', 'onmemos-resource': 'vault-2' } },
    { kind: 'Bucket', name: 'someone-else', labels: {} },
  ];
  it('finds what the store no longer knows, and only managed objects', () => {
    const orphans = findOrphans(objs, { workspace_ids: ['ws-live'], session_ids: ['shuttle-a'], resource_ids: ['drive-1', 'vault-1'] });
    assert.deepEqual(orphans.map((o) => o.name).sort(), ['drop', 'onm-ws-gone', 'onmemos-b', 'shuttle-old']);
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
