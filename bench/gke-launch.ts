// Launch cost on the gke provider with a warm workspace, against the cluster tier's real apiserver
// (kwok nodes): apiserver round trips per launch (target <= 3) and launch latency as a ratio to one
// plain apiserver round trip measured in the same run. Run: node --import tsx bench/gke-launch.ts
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGkeProviders } from '../daemon/providers/gke/index.js';
import type { LaunchSpec, WorkspaceRef } from '../daemon/providers/types.js';

interface ClusterModule {
  toolPaths(): { missing?: string };
  startCluster(dir: string): Promise<{ kubeconfig: string; gcs: string }>;
  stopCluster(dir: string): Promise<number>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const cluster = (await import(join(__dirname, '..', 'test', 'cluster', 'cluster.mjs'))) as ClusterModule;
  const missing = cluster.toolPaths().missing;
  if (missing) {
    console.log(`gke-launch: skipped, ${missing} (bash test/cluster/tools.sh build)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'onmemos-bench-'));
  try {
    const state = await cluster.startCluster(dir);
    const gke = await createGkeProviders({ home: dir, kubeconfig: state.kubeconfig, gcsEndpoint: state.gcs, launchTimeoutMs: 60_000 });
    const ws: WorkspaceRef = { workspace_id: 'ws-bench', user_id: 'user_bench', name: 'bench', k8s_namespace: 'onm-ws-bench', ksa_name: 'onmemos-shuttle', gsa_email: '' };
    await gke.ensureIdentity(ws);
    const rtt: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      await gke.kube.core.getAPIResources();
      rtt.push(performance.now() - t);
    }
    const trips: number[] = [];
    const ms: number[] = [];
    for (let i = 0; i < 10; i++) {
      const id = `shuttle-bench-${i}`;
      const spec: LaunchSpec = {
        session_id: id, sandbox_name: id, namespace: ws.k8s_namespace, workspace: ws,
        template: { id: 't', name: 't', image: 'busybox', cpu: '100m', memory: '128Mi', description: '' },
        env: {}, mounts: [], ttl_minutes: 10, expires_at: new Date(Date.now() + 600_000).toISOString(),
      };
      gke.kube.requests.reset();
      const t = performance.now();
      await gke.compute.launch(spec);
      ms.push(performance.now() - t);
      trips.push(gke.kube.requests.count);
      await gke.compute.terminate(spec);
    }
    const rt = median(rtt);
    console.log(`gke launch, warm workspace, 10 launches on kube-apiserver + kwok:`);
    console.log(`  round trips per launch: median ${median(trips)}, max ${Math.max(...trips)} (target <= 3)`);
    console.log(`  launch ${median(ms).toFixed(1)} ms median = ${(median(ms) / rt).toFixed(1)}x one apiserver round trip (${rt.toFixed(2)} ms)`);
  } finally {
    await cluster.stopCluster(dir);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
