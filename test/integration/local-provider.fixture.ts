// Shared by the local provider's integration tests and bench/local-provider.ts: build
// dist/supervisor.js when missing or stale (only that bundle: the rest of the daemon may be
// mid-edit), make temp homes and launch specs.
import { buildSync } from 'esbuild';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { LaunchSpec, MountSpec } from '../../daemon/providers/types';

export const ROOT = join(dirname(__filename), '..', '..');
export const SUPERVISOR = join(ROOT, 'dist', 'supervisor.js');

function newest(dir: string): number {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}

export function ensureSupervisorBuilt(): string {
  const src = Math.max(newest(join(ROOT, 'daemon', 'supervisor')), newest(join(ROOT, 'daemon', 'providers', 'local')));
  if (existsSync(SUPERVISOR) && statSync(SUPERVISOR).mtimeMs >= src) return SUPERVISOR;
  const tmp = `${SUPERVISOR}.${process.pid}.tmp`;
  buildSync({
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning',
    external: ['node-pty'], entryPoints: [join(ROOT, 'daemon', 'supervisor', 'main.ts')], outfile: tmp,
  });
  renameSync(tmp, SUPERVISOR);
  renameSync(`${tmp}.map`, `${SUPERVISOR}.map`);
  return SUPERVISOR;
}

export function tempHome(): string {
  // Short: Unix socket paths are limited to 107 bytes.
  return mkdtempSync(join(tmpdir(), 'omh-'));
}

let counter = 0;
export function spec(mounts: MountSpec[] = [], extra: Partial<LaunchSpec> = {}): LaunchSpec {
  const n = `${process.pid}-${++counter}`;
  return {
    session_id: `sess-${n}`, sandbox_name: `shuttle-${n}`, namespace: 'ws-test',
    workspace: { workspace_id: 'ws-1', user_id: 'u-1', name: 'test', k8s_namespace: 'ws-test', ksa_name: 'ksa', gsa_email: 'gsa@example.com' },
    template: { id: 'python', name: 'Python', image: 'python:3.11', cpu: '500m', memory: '1Gi', description: '' },
    env: {}, mounts, ttl_minutes: 60, expires_at: new Date(Date.now() + 3600_000).toISOString(), ...extra,
  };
}

export function mount(resource_id: string, mount_path: string, access_mode: 'RW' | 'RO' = 'RW', type: 'bucket' | 'filestore' = 'bucket'): MountSpec {
  return { resource_id, type, name: resource_id, mount_path, access_mode };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The process runs (a zombie does not count: its supervisor has not reaped it yet). */
export function pidAlive(pid: number): boolean {
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

/** Poll until `check` holds (a process ending takes the kernel and its supervisor a moment), or fail. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} (within ${ms} ms)`);
    await sleep(20);
  }
}

/**
 * A throwaway "daemon": a Node process that runs `body` with `p`, a LocalComputeProvider on `home`
 * (`poolSize` idle supervisors), and exits 1 if it throws. stdout is piped, stderr inherited.
 */
export function providerProcess(home: string, poolSize: number, body: string): ChildProcessByStdio<null, Readable, null> {
  const script = `
    const { LocalComputeProvider } = require(${JSON.stringify(join(ROOT, 'daemon/providers/local'))});
    (async () => {
      const p = new LocalComputeProvider({ home: ${JSON.stringify(home)}, poolSize: ${poolSize} });
      ${body}
    })().catch((e) => { console.error(e); process.exit(1); });`;
  return spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
}

/**
 * Host pids of the agents whose sandboxes were set up under `home` (their mount table names it).
 * A child the agent is forking (a shell for the login pool) has its name until it execs: not counted.
 */
export function agentsUnder(home: string): number[] {
  const found = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'onmemos-agent' && readFileSync(`/proc/${pid}/mountinfo`, 'utf8').includes(home);
    } catch { return false; }
  });
  const parent = (pid: number) => { try { return Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]); } catch { return 0; } };
  return found.filter((pid) => !found.includes(parent(pid)));
}
