#!/usr/bin/env node
// A `vscodeExecutablePath` for @vscode/test-electron's runTests: accepts the arguments runTests
// gives a desktop VS Code and runs the same extension tests in code-server instead, driven by
// headless Chromium (TESTING.md). code-server ignores --extensionDevelopmentPath; what works is the
// smoke-test driver's `payload` URL parameter, and the page function codeAutomationExit(code)
// receives the result. Exit code = the tests' exit code.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launchChromium, startCodeServer } from './tools.mjs';

function parse(argv) {
  const opts = {};
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const eq = a.indexOf('=');
    if (eq > 0) opts[a.slice(2, eq)] = a.slice(eq + 1);
    else if (['user-data-dir', 'extensions-dir'].includes(a.slice(2))) opts[a.slice(2)] = argv[++i];
    else opts[a.slice(2)] = true;
  }
  return { opts, positional };
}

const { opts, positional } = parse(process.argv.slice(2));
const dev = resolve(opts.extensionDevelopmentPath);
const tests = resolve(opts.extensionTestsPath);
const folder = resolve(positional[0] ?? process.cwd());
const dir = resolve(process.env.ONMEMOS_SHIM_DIR ?? join(opts['user-data-dir'], '..'));
const userDataDir = resolve(opts['user-data-dir'] ?? join(dir, 'user-data'));
const extensionsDir = resolve(opts['extensions-dir'] ?? join(dir, 'extensions'));
const timeoutMs = Number(process.env.ONMEMOS_SHIM_TIMEOUT_MS ?? 300_000);
mkdirSync(extensionsDir, { recursive: true });

let server;
let browser;
let code = 1;
try {
  server = await startCodeServer({ dir, userDataDir, extensionsDir, folder, smokeDriver: true, logFile: join(dir, 'code-server.log') });
  const remote = (p) => `vscode-remote://127.0.0.1:${server.port}${p}`;
  const payload = JSON.stringify([['extensionDevelopmentPath', remote(dev)], ['extensionTestsPath', remote(tests)]]);
  browser = await launchChromium(join(dir, 'chromium'));
  const page = browser.pages()[0] ?? await browser.newPage();
  const done = new Promise((r) => page.exposeFunction('codeAutomationExit', (c) => { r(Number(c)); }));
  page.on('console', (m) => { if (m.type() === 'error' && process.env.ONMEMOS_SHIM_VERBOSE) console.error(`[browser] ${m.text()}`); });
  await page.goto(`${server.url}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(payload)}`);
  code = await Promise.race([done, new Promise((r) => setTimeout(() => r(124), timeoutMs))]);
  if (code === 124) {
    console.error(`shim: the extension tests did not finish within ${timeoutMs / 1000} s`);
    await page.screenshot({ path: join(dir, 'timeout.png') }).catch(() => {});
  }
} catch (e) {
  console.error(`shim: ${e instanceof Error ? e.stack : e}`);
  code = 1;
} finally {
  await browser?.close().catch(() => {});
  await server?.stop();
}
process.exit(code);
