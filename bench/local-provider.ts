// The local provider without the HTTP layer, each figure against a baseline measured in this run:
//  - provider execute `true`               /  a bare `bash -c true` spawn                    (target <= 1.5)
//  - launch + execute + terminate (warm)   /  a bare bwrap sandbox running `bash -c true`    (target <= 2.0)
//  - the same cold (no warm supervisor), and both in the unshare fallback mode, for information.
// Run: node --import tsx bench/local-provider.ts   (bench/index.ts collects `run`).
import { rmSync } from 'node:fs';
import { LocalComputeProvider } from '../daemon/providers/local';
import type { SessionRef } from '../daemon/providers/types';
import { ensureSupervisorBuilt, mount, spec, tempHome } from '../test/integration/local-provider.fixture';
import { BARE_BWRAP, median, printTable, spawnOk, timeMany, type Row } from './lib';

const BARE_UNSHARE = ['--user', '--map-root-user', '--mount', '--pid', '--fork', '--mount-proc', 'bash', '-c', 'true'];

async function modeRows(mode: 'bwrap' | 'unshare', bareBash: number): Promise<Row[]> {
  const rows: Row[] = [];
  const home = tempHome();
  const warm = new LocalComputeProvider({ home, sandbox: mode, poolSize: 1 });
  const cold = new LocalComputeProvider({ home, sandbox: mode, poolSize: 0 });
  try {
    await warm.warm();
    const bare = median(await timeMany(20, () => (mode === 'bwrap' ? spawnOk('bwrap', BARE_BWRAP) : spawnOk('unshare', BARE_UNSHARE))));
    const bareName = mode === 'bwrap' ? 'bare bwrap bash -c true' : 'bare unshare bash -c true';

    const s = spec([mount('bench-vault', '/workspace')]);
    await warm.launch(s);
    const exec = await timeMany(60, () => warm.execute(s, { command: 'true', timeout_seconds: 10, max_output_bytes: 1 << 16 }), 5);
    await warm.terminate(s);
    rows.push({ name: `local ${mode}: execute \`true\` / bare bash spawn`, value: median(exec), unit: 'ms', baseline: bareBash,
      ratio: median(exec) / bareBash, target: mode === 'bwrap' ? '<= 1.5' : undefined });

    const launches: number[] = [];
    const terminates: number[] = [];
    const cycle = async (p: LocalComputeProvider, waitWarm: boolean) => {
      if (waitWarm) await p.warm(); // the pool refills between launches (not timed): human-paced launches
      const x: SessionRef & ReturnType<typeof spec> = spec([mount('bench-vault', '/workspace')]);
      const t0 = performance.now();
      await p.launch(x);
      const t1 = performance.now();
      await p.execute(x, { command: 'true', timeout_seconds: 10, max_output_bytes: 1 << 16 });
      const t2 = performance.now();
      await p.terminate(x);
      launches.push(t1 - t0);
      terminates.push(performance.now() - t2);
      return performance.now() - t0;
    };
    const warmCycles: number[] = [];
    for (let i = 0; i < 17; i++) warmCycles.push(await cycle(warm, true));
    const w = median(warmCycles.slice(2));
    rows.push({ name: `local ${mode}: launch+execute+terminate (warm pool) / ${bareName}`, value: w, unit: 'ms', baseline: bare,
      ratio: w / bare, target: mode === 'bwrap' ? '<= 2.0' : undefined,
      note: `launch ${median(launches.slice(2)).toFixed(1)} ms, terminate ${median(terminates.slice(2)).toFixed(1)} ms` });

    launches.length = 0;
    terminates.length = 0;
    const coldCycles: number[] = [];
    for (let i = 0; i < 8; i++) coldCycles.push(await cycle(cold, false));
    const c = median(coldCycles.slice(1));
    rows.push({ name: `local ${mode}: launch+execute+terminate (cold supervisor) / ${bareName}`, value: c, unit: 'ms', baseline: bare,
      ratio: c / bare, note: `launch ${median(launches.slice(1)).toFixed(1)} ms` });
  } finally {
    await warm.close();
    await cold.close();
    rmSync(home, { recursive: true, force: true });
  }
  return rows;
}

export async function run(): Promise<Row[]> {
  ensureSupervisorBuilt();
  const bareBash = median(await timeMany(60, () => spawnOk('bash', ['-c', 'true']), 5));
  const rows: Row[] = [];
  for (const mode of ['bwrap', 'unshare'] as const) {
    try {
      rows.push(...(await modeRows(mode, bareBash)));
    } catch (e) {
      console.error(`bench local ${mode}: skipped (${(e as Error).message})`);
    }
  }
  return rows;
}

if (require.main === module || process.argv[1]?.endsWith('local-provider.ts')) {
  run().then(printTable, (e) => { console.error(e); process.exit(1); });
}
