// Extension-host tier: mocha inside a real VS Code extension host (code-server, TESTING.md), driven
// by @vscode/test-electron's runTests through code-server-shim.mjs, against a real daemon on port 0.
// Exit 0 passed, 77 skipped (tools missing locally), else failed.
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { requireTools, root, startDaemon, writeUserSettings } from './tools.mjs';

// ONMEMOS_VSCODE_EXECUTABLE: a desktop VS Code (or Insiders) binary to run the same tests in;
// without it, code-server through the shim.
const desktop = process.env.ONMEMOS_VSCODE_EXECUTABLE;
if (!desktop) requireTools('extension-host');
const { runTests } = await import('@vscode/test-electron');

const t0 = Date.now();
const dir = join(root, 'test-results', 'extension-host');
rmSync(dir, { recursive: true, force: true });
const out = join(dir, 'out');
for (const d of ['workspace', 'user-data', 'extensions', out]) mkdirSync(join(dir, d), { recursive: true });
if (!existsSync(join(root, 'dist', 'extension.js')) || !existsSync(join(root, 'dist', 'daemon.js'))) {
  console.error('extension-host: dist/ is not built (npm run build)');
  process.exit(1);
}

await build({
  entryPoints: { index: join(root, 'test/extension/suite/index.ts'), suites: join(root, 'test/extension/suite/suites.ts') },
  outdir: out, bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'inline',
  external: ['vscode', 'mocha'], logLevel: 'warning',
});

const daemon = await startDaemon(join(dir, 'daemon-home'), join(dir, 'daemon.log'));
console.log(`extension-host: daemon admin=${daemon.admin} public=${daemon.public}`);
const results = join(dir, 'results.txt');
let code = 1;
try {
  writeUserSettings(join(dir, 'user-data'), {
    'onmemos.adminUrl': daemon.admin,
    'onmemos.publicUrl': daemon.public,
    'onmemos.daemon.autoStart': false,
    'onmemos.pollIntervalSeconds': 1,
  });
  code = await runTests({
    vscodeExecutablePath: desktop || join(root, 'test/extension/code-server-shim.mjs'),
    extensionDevelopmentPath: root,
    extensionTestsPath: join(out, 'index.js'),
    launchArgs: [join(dir, 'workspace'), `--user-data-dir=${join(dir, 'user-data')}`, `--extensions-dir=${join(dir, 'extensions')}`],
    extensionTestsEnv: {
      ONMEMOS_SHIM_DIR: dir,
      ONMEMOS_EXT_RESULTS: results,
      ONMEMOS_EXT_METRICS: join(dir, 'metrics.txt'),
      ONMEMOS_TEST_ADMIN_URL: daemon.admin,
      ONMEMOS_TEST_PUBLIC_URL: daemon.public,
      ONMEMOS_TEST_ADMIN_KEY: daemon.adminKey,
    },
  }).catch((e) => { console.error(`extension-host: ${e?.message ?? e}`); return 1; });
} finally {
  await daemon.stop();
}

const text = existsSync(results) ? readFileSync(results, 'utf8') : '';
if (existsSync(join(dir, 'metrics.txt'))) process.stdout.write(`extension-host: ${readFileSync(join(dir, 'metrics.txt'), 'utf8')}`);
process.stdout.write(text);
const summary = /(\d+) passed, (\d+) failed/.exec(text);
if (!summary) {
  console.error(`extension-host: no results were written (exit ${code}); see ${dir}/code-server.log and the shim output above`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
console.log(`extension-host: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(code === 0 && summary[2] === '0' && summary[1] !== '0' ? 0 : 1);
