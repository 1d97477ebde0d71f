// Start and stop the cluster tier's real servers on loopback:
//   etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok (nodes, kubelets, exec),
//   wired by `kwokctl create cluster --runtime binary` from local binaries (it generates the PKI and
//   the kubeconfig), and fake-gcs-server. Everything is stopped by pid, also on failure.
//
//   node test/cluster/cluster.mjs start DIR    prints the state file path (DIR/cluster.json)
//   node test/cluster/cluster.mjs stop DIR
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const CLUSTER = 'onmemos';

/** Paths of the built tools (tools.sh env); null when some are missing. */
export function toolPaths() {
  try {
    execFileSync('bash', [join(here, 'tools.sh'), 'check'], { stdio: 'pipe' });
  } catch (err) {
    return { missing: String(err.stdout || err.message).trim() };
  }
  const out = execFileSync('bash', [join(here, 'tools.sh'), 'env'], { encoding: 'utf8' });
  return Object.fromEntries(out.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeoutMs) {
    try {
      if (await fn()) return;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`${what} not ready after ${timeoutMs / 1000} s${last ? `: ${last.message}` : ''}`);
}

function pidFiles(dir) {
  const dirs = [join(dir, 'pids'), join(dir, 'kwok', 'clusters', CLUSTER, 'pids')];
  return dirs.filter(existsSync).flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.pid')).map((f) => join(d, f)));
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Stop every process the tier started, by the pids it recorded: TERM, then KILL after 5 s. */
export async function stopCluster(dir, { keep = false } = {}) {
  const pids = pidFiles(dir)
    .map((f) => Number(readFileSync(f, 'utf8').trim()))
    .filter((p) => Number.isInteger(p) && p > 1);
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
  const t0 = Date.now();
  while (pids.some(alive) && Date.now() - t0 < 5000) await sleep(100);
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return pids.length;
}

function kwokConfig(execDir) {
  // kwok runs `exec` into any managed pod as a local process on this host (its ClusterExec
  // resource); the apiserver proxies the stream to kwok exactly as to a kubelet.
  return `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options: {}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: onmemos-local-exec
spec:
  execs:
  - local:
      workDir: ${execDir}
`;
}

/** A Node kwok plays (kwok-controller --manage-all-nodes). Room for many shuttles. */
const nodeManifest = (name) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' }, labels: { type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' } },
  status: {
    allocatable: { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '1Ti' },
    capacity: { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '1Ti' },
  },
});

export async function startCluster(dir, { log = (m) => console.error(`[cluster] ${m}`) } = {}) {
  const tools = toolPaths();
  if (tools.missing) throw Object.assign(new Error(tools.missing), { missingTools: true });
  const t0 = Date.now();
  rmSync(dir, { recursive: true, force: true });
  for (const d of ['pids', 'logs', 'exec-root', 'kwok', 'gcs', 'home']) mkdirSync(join(dir, d), { recursive: true });
  const [api, etcd, etcdPeer, kwok, kcm, sched, gcs] = await Promise.all(Array.from({ length: 7 }, freePort));
  writeFileSync(join(dir, 'kwokctl.yaml'), kwokConfig(join(dir, 'exec-root')));
  // The apiserver's own audit log, one entry per request as it arrives: the ground truth the
  // round-trips-per-launch measurement is checked against.
  writeFileSync(join(dir, 'audit-policy.yaml'), 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [ResponseStarted, ResponseComplete, Panic]\nrules:\n- level: Metadata\n');
  const kubeconfig = join(dir, 'kwok', 'clusters', CLUSTER, 'kubeconfig.yaml');
  try {
    // fake-gcs-server first: it is quick and independent.
    const gcsLog = openSync(join(dir, 'logs', 'fake-gcs-server.log'), 'a');
    const g = spawn(tools.ONMEMOS_FAKE_GCS, ['-scheme', 'http', '-host', '127.0.0.1', '-port', String(gcs), '-external-url', `http://127.0.0.1:${gcs}`, '-backend', 'memory', '-log-level', 'warn'], {
      detached: true,
      stdio: ['ignore', gcsLog, gcsLog],
    });
    writeFileSync(join(dir, 'pids', 'fake-gcs-server.pid'), String(g.pid));
    g.unref();

    const loop = '127.0.0.1';
    const args = [
      '-c', join(dir, 'kwokctl.yaml'), '--name', CLUSTER, 'create', 'cluster', '--runtime', 'binary',
      '--kube-apiserver-binary', tools.ONMEMOS_KUBE_APISERVER,
      '--kube-controller-manager-binary', tools.ONMEMOS_KUBE_CONTROLLER_MANAGER,
      '--kube-scheduler-binary', tools.ONMEMOS_KUBE_SCHEDULER,
      '--etcd-binary', tools.ONMEMOS_ETCD,
      '--kwok-controller-binary', tools.ONMEMOS_KWOK,
      '--kubeconfig', join(dir, 'kubeconfig-merged.yaml'),
      '--kube-audit-policy', join(dir, 'audit-policy.yaml'),
      '--kube-apiserver-port', String(api), '--etcd-port', String(etcd), '--controller-port', String(kwok),
      '--kube-controller-manager-port', String(kcm), '--kube-scheduler-port', String(sched),
      // Loopback only: kwokctl binds 0.0.0.0 by default; the last flag wins.
      '--extra-args', `kube-apiserver=bind-address=${loop}`,
      '--extra-args', `kube-controller-manager=bind-address=${loop}`,
      '--extra-args', `kube-scheduler=bind-address=${loop}`,
      '--extra-args', `kwok-controller=server-address=${loop}:${kwok}`,
      '--extra-args', `etcd=listen-client-urls=http://${loop}:${etcd}`,
      '--extra-args', `etcd=advertise-client-urls=http://${loop}:${etcd}`,
      '--extra-args', `etcd=listen-peer-urls=http://${loop}:${etcdPeer}`,
      '--extra-args', `etcd=initial-advertise-peer-urls=http://${loop}:${etcdPeer}`,
      '--extra-args', `etcd=initial-cluster=node0=http://${loop}:${etcdPeer}`,
      '--wait', '90s',
    ];
    log(`kwokctl create cluster (apiserver https://127.0.0.1:${api})`);
    execFileSync(tools.ONMEMOS_KWOKCTL, args, {
      // HOME inside the run dir: kwokctl would otherwise leave ~/.kube/cache behind in the user's home.
      env: { ...process.env, HOME: join(dir, 'home'), KWOK_WORKDIR: join(dir, 'kwok'), KWOK_KUBE_VERSION: `v${tools.ONMEMOS_K8S_VERSION}` },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 180_000,
    });
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await waitFor('kube-apiserver', async () => (await core.listNamespace()).items.length > 0, 60_000);
    await core.createNode({ body: nodeManifest('kwok-node-0') }).catch((err) => {
      if (err.code !== 409) throw err;
    });
    await waitFor('the kwok node', async () => (await core.readNode({ name: 'kwok-node-0' })).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), 60_000);
    await waitFor('the default service account', async () => !!(await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' })), 60_000);
    await waitFor('fake-gcs-server', async () => (await fetch(`http://127.0.0.1:${gcs}/storage/v1/b?project=test`)).ok, 30_000);
    const state = { dir, kubeconfig, apiserver: `https://127.0.0.1:${api}`, gcs: `http://127.0.0.1:${gcs}`, kwok_port: kwok, exec_root: join(dir, 'exec-root'), audit_log: join(dir, 'kwok', 'clusters', CLUSTER, 'logs', 'audit.log'), started_ms: Date.now() - t0 };
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify(state, null, 2));
    log(`up in ${(state.started_ms / 1000).toFixed(1)} s: ${state.apiserver}, gcs ${state.gcs}`);
    return state;
  } catch (err) {
    const logs = join(dir, 'kwok', 'clusters', CLUSTER, 'logs');
    const tails = existsSync(logs)
      ? readdirSync(logs).map((f) => `--- ${f}\n${readFileSync(join(logs, f), 'utf8').split('\n').slice(-15).join('\n')}`).join('\n')
      : '';
    const stderr = err.stderr ? `\n${String(err.stderr).slice(-3000)}` : '';
    await stopCluster(dir, { keep: true });
    throw new Error(`cluster start failed: ${err.message}${stderr}\n${tails}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [cmd, dir] = process.argv.slice(2);
  if (!dir || !['start', 'stop'].includes(cmd)) {
    console.error('usage: cluster.mjs start|stop DIR');
    process.exit(2);
  }
  if (cmd === 'start') {
    const onSignal = () => stopCluster(dir).finally(() => process.exit(130));
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    startCluster(dir).then(
      (s) => console.log(join(s.dir, 'cluster.json')),
      (err) => {
        console.error(err.message);
        process.exit(1);
      },
    );
  } else {
    stopCluster(dir).then((n) => console.error(`[cluster] stopped ${n} processes`));
  }
}
