// `npm run package`: a .vsix of the extension with the bundled daemon. The bundles come from
// esbuild.mjs --production; node-pty (native, loaded only by the daemon's supervisor) is copied
// next to them so the daemon runs from the installed extension. The native module makes the
// package platform-specific, so it is marked with this machine's target (e.g. linux-x64).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = process.argv[2] ?? join(root, 'onmemos.vsix');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run(process.execPath, [join(root, 'scripts', 'ensure.mjs')]);
run(process.execPath, [join(root, 'esbuild.mjs'), '--production']);

const src = join(root, 'node_modules', 'node-pty');
const dst = join(root, 'dist', 'node_modules', 'node-pty');
rmSync(dst, { recursive: true, force: true });
mkdirSync(join(dst, 'lib'), { recursive: true });
mkdirSync(join(dst, 'build', 'Release'), { recursive: true });
copyFileSync(join(src, 'package.json'), join(dst, 'package.json'));
for (const f of readdirSync(join(src, 'lib'))) if (f.endsWith('.js') && !f.endsWith('.test.js')) copyFileSync(join(src, 'lib', f), join(dst, 'lib', f));
for (const f of ['pty.node', 'spawn-helper']) {
  const p = join(src, 'build', 'Release', f);
  if (existsSync(p)) copyFileSync(p, join(dst, 'build', 'Release', f));
}
if (!existsSync(join(dst, 'build', 'Release', 'pty.node'))) throw new Error('node-pty is not built (node_modules/node-pty/build/Release/pty.node); run npm ci');

const target = `${process.platform === 'win32' ? 'win32' : process.platform}-${process.arch}`;
run(process.execPath, [join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--skip-license', '--allow-missing-repository', '--target', target, '--out', out]);
console.log(`package: ${out} (${target}) ${(statSync(out).size / 1024).toFixed(1)} KB`);
