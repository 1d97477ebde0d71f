// The cluster tier (scripts/test.mjs runs it): the gke provider against a real kube-apiserver
// (+ etcd, controller-manager, scheduler, kwok) and fake-gcs-server, started here and stopped by pid.
// Exit 0 = passed, 77 = skipped (tools missing, not CI), anything else = failed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, stopCluster, toolPaths } from './cluster.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

const tools = toolPaths();
if (tools.missing) {
  const line = `cluster tier: ${tools.missing} — build them with \`bash test/cluster/tools.sh build\` (needs Go >= 1.26 and the Go module proxy; ~25 min cold on 2 cores, cached by version)`;
  if (process.env.CI === 'true') {
    console.error(`FAILED ${line}`);
    process.exit(1);
  }
  console.error(`\n!!!!! SKIPPED ${line}\n`);
  process.exit(77);
}

const dir = mkdtempSync(join(tmpdir(), 'onmemos-cluster-'));
let stopping;
const stop = () => (stopping ??= stopCluster(dir, { keep: !!process.env.ONMEMOS_KEEP_CLUSTER }));
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => stop().finally(() => process.exit(130)));

let code = 1;
try {
  const state = await startCluster(dir);
  const files = readdirSync(here).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join(here, f));
  // The storage library would take STORAGE_EMULATOR_HOST over our endpoint.
  delete process.env.STORAGE_EMULATOR_HOST;
  code = await new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files], {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        ONMEMOS_TEST: '1',
        ONMEMOS_CLUSTER_STATE: join(dir, 'cluster.json'),
        // Keep the user's kubeconfig and Google credentials out of the tests.
        KUBECONFIG: state.kubeconfig,
        ONMEMOS_GCS_ENDPOINT: state.gcs,
      },
    });
    // A hung test must not hang CI: the whole tier gets 15 minutes.
    const limit = setTimeout(() => {
      console.error('cluster tier: tests still running after 15 min, killing them');
      child.kill('SIGKILL');
    }, 15 * 60_000);
    child.on('exit', (c, sig) => {
      clearTimeout(limit);
      resolve(sig ? 1 : c ?? 1);
    });
  });
} catch (err) {
  console.error(err.message);
  code = 1;
} finally {
  await stop();
}
process.exit(code);
