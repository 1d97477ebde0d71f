// Make the checkout runnable: install dependencies when missing or stale, build when
// dist/ is missing or older than any source file. Used by `npm start`, `npm test`, `npm run bench`.
// Only node builtins here: this runs before node_modules exists.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function mtime(path) {
  try { return statSync(path).mtimeMs; } catch { return 0; }
}

function newest(dir) {
  let max = 0;
  if (!existsSync(dir)) return 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) max = Math.max(max, newest(p));
    else if (/\.(ts|mts|tsx|css|json)$/.test(entry.name)) max = Math.max(max, mtime(p));
  }
  return max;
}

// Installed = node_modules was made from exactly this package-lock.json (content hash, not mtimes:
// a checkout or an edit of package.json alone must not trigger a reinstall).
export function ensureInstalled({ quiet = false } = {}) {
  const marker = join(root, 'node_modules', '.onmemos-lock-hash');
  const lock = join(root, 'package-lock.json');
  const hash = createHash('sha256').update(existsSync(lock) ? readFileSync(lock) : '').digest('hex');
  let installed = '';
  try { installed = readFileSync(marker, 'utf8').trim(); } catch { /* not installed */ }
  if (installed === hash && existsSync(join(root, 'node_modules', '.bin'))) return false;
  if (!quiet) console.error('onmemos: installing dependencies (npm ci)…');
  execFileSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  writeFileSync(marker, hash + '\n');
  return true;
}

export function ensureBuilt({ force = false, quiet = false } = {}) {
  const bundle = join(root, 'dist', 'daemon.js');
  const sources = Math.max(
    ...['daemon', 'extension', 'webview', 'media'].map((d) => newest(join(root, d))),
    mtime(join(root, 'esbuild.mjs')), mtime(join(root, 'package.json')),
  );
  if (!force && existsSync(bundle) && mtime(bundle) >= sources) return false;
  if (!quiet) console.error('onmemos: building dist/ (esbuild)…');
  execFileSync(process.execPath, [join(root, 'esbuild.mjs')], { cwd: root, stdio: 'inherit' });
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureInstalled();
  ensureBuilt({ force: process.argv.includes('--force') });
}
