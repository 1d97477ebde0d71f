// One build script, one context per program (STYLE.md):
//   daemon:     node, cjs  -> dist/daemon.js      (node-pty stays external: native)
//   supervisor: node, cjs  -> dist/supervisor.js  (the per-shuttle process of the local provider)
//   gke:        node, cjs  -> dist/gke.js         (the gke provider, required at run time only with --provider gke)
//   extension:  node, cjs  -> dist/extension.js   (vscode external)      [when extension/ exists]
//   webview:    browser    -> dist/webview.js                            [when webview/ exists]
// Source maps are written next to the bundles and excluded from the package.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  minify: production,
  logLevel: 'warning',
  external: ['node-pty'],
};

const contexts = [
  { ...node, entryPoints: { daemon: 'daemon/main.ts' }, outdir: 'dist' },
];
if (existsSync('daemon/providers/gke/index.ts')) {
  contexts.push({ ...node, entryPoints: { gke: 'daemon/providers/gke/index.ts' }, outdir: 'dist' });
}
if (existsSync('daemon/supervisor/main.ts')) {
  contexts.push({ ...node, entryPoints: { supervisor: 'daemon/supervisor/main.ts' }, outdir: 'dist' });
}
if (existsSync('extension/extension.ts')) {
  contexts.push({ ...node, entryPoints: { extension: 'extension/extension.ts' }, outdir: 'dist', external: ['vscode'] });
}
if (existsSync('webview/main.ts')) {
  contexts.push({
    bundle: true, platform: 'browser', target: 'es2022', format: 'esm', sourcemap: true, minify: production,
    logLevel: 'warning', entryPoints: { webview: 'webview/main.ts' }, outdir: 'dist',
  });
}

if (watch) {
  for (const options of contexts) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
  }
} else {
  await Promise.all(contexts.map((options) => esbuild.build(options)));
}
