// The load run of bench/load.ts, shorter: 50 concurrent pty shells streaming output plus 16 API
// writers for 15 s against one real daemon. Zero errors anywhere, every shell streamed on schedule,
// and the daemon's memory stays bounded. (Latencies are reported, never asserted: the box is shared.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLoad } from '../../bench/load';

test('50 shells streaming + 16 API writers for 15 s: zero errors, every shell on schedule, daemon RSS bounded', { timeout: 240_000 }, async () => {
  const r = await runLoad({ shells: 50, writers: 16, seconds: 15, baselineSeconds: 5 });
  console.log(`# load: p50 ${r.load.p50.toFixed(1)} ms, p99 ${r.load.p99.toFixed(1)} ms (writers alone: ${r.baseline.p50.toFixed(1)} / ${r.baseline.p99.toFixed(1)} ms); ` +
    `${r.load.writes} writes; RSS start ${r.rss.start.toFixed(0)} / peak ${r.rss.peak.toFixed(0)} / end ${r.rss.end.toFixed(0)} MiB`);
  assert.deepEqual(r.baseline.errors, []);
  assert.deepEqual(r.load.errors, []);
  assert.deepEqual(r.shellErrors, []);
  assert.ok(r.load.writes > 16 * 15, `only ${r.load.writes} writes in 15 s`);
  for (const [i, t] of r.ticks.entries()) assert.ok(t >= r.expectedTicks, `shell ${i} printed ${t} lines, expected at least ${r.expectedTicks}`);
  // bounded: 50 shells' streams must not pile up in the daemon
  assert.ok(r.rss.peak - r.rss.start < 200, `RSS grew from ${r.rss.start.toFixed(0)} to ${r.rss.peak.toFixed(0)} MiB`);
  assert.ok(r.rss.end - r.rss.start < 120, `RSS after the shells closed: ${r.rss.end.toFixed(0)} MiB (start ${r.rss.start.toFixed(0)})`);
});
