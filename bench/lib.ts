// Shared bits of the benchmarks: timing, percentiles, baselines and the one table `npm run bench` prints.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Run a program to completion (the bare baselines); rejects on a non-zero exit. */
export const spawnOk = (cmd: string, args: string[]) => new Promise<void>((res, rej) => {
  const p = spawn(cmd, args, { stdio: 'ignore' });
  p.on('exit', (code) => (code === 0 ? res() : rej(new Error(`${cmd} exited ${code}`))));
  p.on('error', rej);
});

/** A bare bubblewrap sandbox running `bash -c true`: the launch benchmarks' baseline. */
export const BARE_BWRAP = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp',
  '--unshare-pid', '--unshare-user', '--die-with-parent', 'bash', '-c', 'true'];

/** Resident memory of a process, MiB. */
export const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
export interface Row {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  baseline_unit?: string;
  /** value / baseline; the target says which way is better (<= for times, >= for rates) */
  ratio: number;
  target?: string;
  note?: string;
}

export const median = (xs: number[]) => quantile(xs, 0.5);
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

export async function timeMany(n: number, fn: () => Promise<unknown>, warmup = 3): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));

export function printTable(rows: Row[]) {
  const lines = [
    ['benchmark', 'value', 'baseline', 'ratio', 'target', 'note'],
    ...rows.map((r) => [r.name, `${fmt(r.value)} ${r.unit}`, `${fmt(r.baseline)} ${r.baseline_unit ?? r.unit}`, fmt(r.ratio), r.target ?? '', r.note ?? '']),
  ];
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const out = lines.map((l) => '| ' + l.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |');
  out.splice(1, 0, '| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |');
  console.log(out.join('\n'));
}
