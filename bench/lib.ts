// Shared bits of the benchmarks: timing, percentiles and the one table `npm run bench` prints.
export interface Row {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  baseline_unit?: string;
  /** value / baseline (or baseline / value when higher is better: see `better`) */
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
