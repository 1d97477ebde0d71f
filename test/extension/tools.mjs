// Shared by the extension-host and e2e tiers: where the tools are (TESTING.md: code-server from npm
// on Node 24, Chromium from Debian, cached by version by .ci/setup-extension.sh), and how to start a
// real daemon, a real code-server and a headless Chromium — and stop each by its pid.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CODE_SERVER_VERSION = '4.139.1';
export const TOOLS = process.env.ONMEMOS_TOOLS || join(homedir(), '.cache', 'onmemos-tools');

export function toolPaths() {
  const nodeDir = join(TOOLS, 'node-24', 'node_modules', 'node');
  return {
    node24: join(nodeDir, 'bin', 'node'),
    codeServer: join(TOOLS, `code-server-${CODE_SERVER_VERSION}`, 'bin', 'code-server'),
    chromium: process.env.ONMEMOS_CHROMIUM || '/usr/bin/chromium',
  };
}

// Exit 77 with one loud line when a tool is missing locally; with CI=true that is a failure.
export function requireTools(tier) {
  const p = toolPaths();
  const missing = [];
  if (!existsSync(p.node24)) missing.push('Node 24');
  if (!existsSync(p.codeServer)) missing.push(`code-server ${CODE_SERVER_VERSION}`);
  if (!existsSync(p.chromium)) missing.push('chromium');
  if (!missing.length) return p;
  const line = `!!! ${tier} tier needs ${missing.join(', ')}: run \`bash .ci/setup-extension.sh\` (apt chromium + libkrb5-dev, Node 24 and code-server cached in ${TOOLS})`;
  if (process.env.CI === 'true') { console.error(`FAILED: ${line}`); process.exit(1); }
  console.error(`SKIPPED ${line}`);
  process.exit(77);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

function killGroup(proc, signal = 'SIGTERM') {
  if (!proc?.pid || proc.exitCode !== null || proc.signalCode !== null) return;
  try { process.kill(-proc.pid, signal); } catch { try { proc.kill(signal); } catch { /* gone */ } }
}

async function stopProc(proc, graceMs = 5000) {
  if (!proc?.pid || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  killGroup(proc, 'SIGTERM');
  const t = setTimeout(() => killGroup(proc, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

// A real daemon on port 0 with its own home: `onmemos daemon ready admin=… public=…`.
export async function startDaemon(home, logFile) {
  mkdirSync(home, { recursive: true });
  const env = { ...process.env };
  delete env.ONMEMOS_INTERNAL_API_KEY; // the daemon generates <home>/admin.key, as for a user
  const proc = spawn(process.execPath, [join(root, 'dist', 'daemon.js'), '--home', home, '--admin-port', '0', '--public-port', '0'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
  let out = '';
  const log = (d) => { out += d; if (logFile) writeFileSync(logFile, out); };
  proc.stderr.on('data', log);
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon not ready in 30 s:\n${out}`)), 30_000);
    proc.stdout.on('data', (d) => {
      log(d);
      const m = /onmemos daemon ready admin=(\S+) public=(\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ admin: m[1], public: m[2] }); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`daemon exited (${code}) before ready:\n${out}`)); });
  });
  const adminKey = readFileSync(join(home, 'admin.key'), 'utf8').trim();
  return { ...ready, adminKey, home, proc, stop: () => stopProc(proc, 10_000) };
}

export function writeUserSettings(userDataDir, settings) {
  const dir = join(userDataDir, 'User');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'security.workspace.trust.enabled': false,
    'terminal.integrated.gpuAcceleration': 'off',
    'chat.disableAIFeatures': true,
    'git.openRepositoryInParentFolders': 'never',
    ...settings,
  }, null, 2));
  // Machine-scoped settings (onmemos.adminUrl, onmemos.daemon.*) of an extension running on the
  // server side (code-server, a remote) are read from the machine's settings, not the user's.
  const machine = join(userDataDir, 'Machine');
  mkdirSync(machine, { recursive: true });
  writeFileSync(join(machine, 'settings.json'), JSON.stringify(settings, null, 2));
}

// code-server on Node 24, configuration and data kept inside `dir` (never the user's home).
export async function startCodeServer({ dir, userDataDir, extensionsDir, folder, smokeDriver = false, env = {}, logFile }) {
  const { node24, codeServer } = toolPaths();
  const port = await freePort();
  const args = [codeServer, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override', '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  if (smokeDriver) args.push('--vscode-option', 'enable-smoke-test-driver');
  args.push(folder);
  const proc = spawn(node24, args, {
    detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env, ...env,
      PATH: `${dirname(node24)}:${process.env.PATH}`,
      XDG_CONFIG_HOME: join(dir, 'xdg-config'), XDG_DATA_HOME: join(dir, 'xdg-data'), XDG_CACHE_HOME: join(dir, 'xdg-cache'),
    },
  });
  let out = '';
  const log = (d) => { out += d; if (logFile) writeFileSync(logFile, out); };
  proc.stdout.on('data', log);
  proc.stderr.on('data', log);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`code-server exited (${proc.exitCode}):\n${out}`);
    try { if ((await fetch(`${url}/healthz`)).ok) break; } catch { /* not yet */ }
    if (Date.now() > deadline) { await stopProc(proc); throw new Error(`code-server did not answer /healthz in 60 s:\n${out}`); }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, port, proc, output: () => out, stop: () => stopProc(proc) };
}

export async function installVsix({ dir, userDataDir, extensionsDir, vsix }) {
  const { node24, codeServer } = toolPaths();
  const proc = spawn(node24, [codeServer, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix, '--force'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: `${dirname(node24)}:${process.env.PATH}`, XDG_CONFIG_HOME: join(dir, 'xdg-config'), XDG_DATA_HOME: join(dir, 'xdg-data') },
  });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const code = await new Promise((r) => proc.once('exit', r));
  if (code !== 0 || !/successfully installed/i.test(out)) throw new Error(`installing ${vsix} failed (${code}):\n${out}`);
}

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export async function launchChromium(userDataDir, { colorScheme = 'dark', viewport = { width: 1440, height: 900 } } = {}) {
  const { chromium } = await import('playwright-core');
  const { chromium: exe } = toolPaths();
  mkdirSync(userDataDir, { recursive: true });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: exe, headless: true, args: CHROMIUM_FLAGS, viewport, colorScheme,
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  return context;
}
