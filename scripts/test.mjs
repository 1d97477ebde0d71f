// `npm test`: install what is missing, build, type-check, then run every test tier.
//   npm test                 all tiers
//   npm test -- unit integration   only those tiers
// A tier with its own runner (test/<tier>/run.mjs) decides whether its tools are present:
// exit 0 = passed, 77 = skipped (it printed one loud line saying what to install), else failed.
// With CI=true a runner must never skip: a missing tool is a failure.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInstalled, ensureBuilt } from './ensure.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ALL = ['unit', 'integration', 'fuzz', 'extension', 'e2e', 'cluster'];
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const tiers = wanted.length ? wanted.filter((t) => t !== 'typecheck') : ALL;

ensureInstalled();
ensureBuilt();

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []);
}

const results = [];
const started = Date.now();

if (!wanted.length || wanted.includes('typecheck')) {
  console.log('\n=== typecheck (tsc --noEmit)');
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', root], { stdio: 'inherit' });
  results.push(['typecheck', r.status === 0 ? 'passed' : 'FAILED']);
}

for (const tier of tiers) {
  const t0 = Date.now();
  const dir = join(root, 'test', tier);
  const runner = join(dir, 'run.mjs');
  let status;
  console.log(`\n=== ${tier}`);
  if (existsSync(runner)) {
    const r = spawnSync(process.execPath, [runner], { stdio: 'inherit', cwd: root });
    status = r.status === 0 ? 'passed' : r.status === 77 ? 'SKIPPED' : 'FAILED';
  } else {
    const list = files(dir);
    if (!list.length) { results.push([tier, 'no tests']); continue; }
    const r = spawnSync(process.execPath, [
      '--import', 'tsx', '--test', '--test-reporter=spec',
      `--test-concurrency=${tier === 'unit' ? 4 : 2}`, ...list,
    ], { stdio: 'inherit', cwd: root, env: { ...process.env, ONMEMOS_TEST: '1' } });
    status = r.status === 0 ? 'passed' : 'FAILED';
  }
  results.push([tier, `${status} (${((Date.now() - t0) / 1000).toFixed(1)} s)`]);
}

console.log(`\n=== summary (${((Date.now() - started) / 1000).toFixed(1)} s)`);
for (const [tier, status] of results) console.log(`  ${tier.padEnd(12)} ${status}`);
const failed = results.some(([, s]) => s.startsWith('FAILED') || (process.env.CI === 'true' && s.startsWith('SKIPPED')));
process.exit(failed ? 1 : 0);
