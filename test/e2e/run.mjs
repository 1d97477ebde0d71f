// End-to-end tier: the packaged .vsix installed into a fresh code-server, clicked in headless
// Chromium as a new user would, in the dark and the light theme: open the OnMemOS sidebar (the
// extension starts its bundled daemon), create a user, passport and workspace in the admin form,
// create a vault, launch a shuttle, type `echo hello-onmemos` in its terminal and see the output.
// A PNG per step under test-results/e2e/<theme>/. Exit 0 passed, 77 skipped, else failed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, installVsix, launchChromium, requireTools, root, startCodeServer, writeUserSettings } from '../extension/tools.mjs';
import { killShuttles } from '../helpers/shuttles.mjs';

requireTools('e2e');
const t0 = Date.now();
const base = join(root, 'test-results', 'e2e');
rmSync(base, { recursive: true, force: true });
mkdirSync(base, { recursive: true });

const vsix = join(base, 'onmemos.vsix');
execFileSync(process.execPath, [join(root, 'extension', 'build', 'package.mjs'), vsix], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });

const THEMES = [
  { name: 'dark', theme: 'Default Dark Modern', scheme: 'dark' },
  { name: 'light', theme: 'Default Light Modern', scheme: 'light' },
];
const only = process.env.ONMEMOS_E2E_THEME;
const results = [];
for (const t of THEMES.filter((x) => !only || x.name === only)) {
  const started = Date.now();
  try {
    await flow(t);
    results.push([t.name, 'ok', Date.now() - started]);
  } catch (e) {
    console.error(`e2e (${t.name}): ${e instanceof Error ? e.stack : e}`);
    results.push([t.name, 'FAIL', Date.now() - started]);
  }
}
for (const [name, status, ms] of results) console.log(`  ${status === 'ok' ? 'ok  ' : 'FAIL'} ${name} theme: sidebar → admin form → vault → shuttle → terminal (${(ms / 1000).toFixed(1)} s)`);
const failed = results.filter((r) => r[1] !== 'ok').length;
console.log(`e2e: ${((Date.now() - t0) / 1000).toFixed(1)} s, screenshots in ${base}`);
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

async function flow({ name, theme, scheme }) {
  const dir = join(base, name);
  const shots = dir;
  const userDataDir = join(dir, 'user-data');
  const extensionsDir = join(dir, 'extensions');
  const folder = join(dir, 'project');
  const home = join(dir, 'onmemos-home');
  for (const d of [userDataDir, extensionsDir, folder]) mkdirSync(d, { recursive: true });
  const [adminPort, publicPort] = [await freePort(), await freePort()];
  writeUserSettings(userDataDir, {
    'workbench.colorTheme': theme,
    'window.autoDetectColorScheme': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'onmemos.adminUrl': `http://127.0.0.1:${adminPort}`,
    'onmemos.publicUrl': `http://127.0.0.1:${publicPort}`,
    'onmemos.daemon.home': home,
    'onmemos.daemon.autoStart': true,
    'onmemos.pollIntervalSeconds': 2,
  });
  await installVsix({ dir, userDataDir, extensionsDir, vsix });
  const server = await startCodeServer({ dir, userDataDir, extensionsDir, folder, logFile: join(dir, 'code-server.log') });
  const browser = await launchChromium(join(dir, 'chromium'), { colorScheme: scheme });
  const page = browser.pages()[0] ?? await browser.newPage();
  let step = 0;
  const shot = async (label) => { await page.waitForTimeout(400); await page.screenshot({ path: join(shots, `${String(++step).padStart(2, '0')}-${label}.png`) }); };
  try {
    await page.goto(`${server.url}/?folder=${encodeURIComponent(folder)}`);
    await page.locator('.part.activitybar [aria-label*="OnMemOS"]').first().waitFor({ timeout: 60_000 });
    await shot('workbench');

    // 1. Open the sidebar: the extension activates, finds no daemon and starts its bundled one.
    await page.locator('.part.activitybar [aria-label*="OnMemOS"]').first().click();
    const welcome = page.locator('.welcome-view-content');
    await welcome.getByText('Set your passport', { exact: false }).first().waitFor({ timeout: 60_000 });
    if (!existsSync(join(home, 'admin.key'))) throw new Error('the extension did not start its daemon (no admin.key in the daemon home)');
    await shot('sidebar-no-passport');

    // 2. The welcome button opens the admin forms; the adopted admin key is already set.
    await welcome.getByRole('button', { name: 'Open Admin Forms' }).first().click();
    const form = page.frameLocator('iframe.webview').frameLocator('iframe#active-frame');
    await form.getByText('admin key set').waitFor({ timeout: 30_000 });
    await shot('admin-forms');

    await form.locator('#user-email input').fill(`ada-${name}@example.com`);
    await form.locator('#user-name input').fill('Ada Lovelace');
    await form.locator('#create-user').click();
    await form.getByText(`User ada-${name}@example.com is ready`).waitFor({ timeout: 15_000 });
    await shot('user-created');

    await form.locator('#passport-name input').fill('laptop');
    await form.locator('#create-passport').click();
    await form.locator('#passport-secret').waitFor({ timeout: 15_000 });
    await shot('passport-created-shown-once');
    await form.locator('#use-passport').click();
    await form.getByText('This window now uses the new passport').waitFor({ timeout: 15_000 });

    await form.locator('#workspace-name input').fill('demo');
    await form.locator('#create-workspace').click();
    await form.getByText('Workspace “demo” created').waitFor({ timeout: 15_000 });
    await form.locator('#credits-amount input').fill('250');
    await form.locator('#add-credits').click();
    await form.getByText('250 credits added').waitFor({ timeout: 15_000 });
    await shot('workspace-created');

    // 3. Back in the sidebar: the workspace is listed; create a vault from the Vaults welcome button.
    const sidebar = page.locator('.part.sidebar');
    await sidebar.locator('.monaco-list-row', { hasText: 'demo' }).first().waitFor({ timeout: 20_000 });
    await sidebar.getByRole('button', { name: 'Create Vault' }).first().click();
    const quick = page.locator('.quick-input-widget');
    await quick.locator('input').first().waitFor({ state: 'visible' });
    await quick.locator('input').first().fill('notes');
    await shot('create-vault-name');
    await quick.locator('input').first().press('Enter');
    await page.waitForTimeout(300);
    await quick.locator('input').first().press('Enter'); // mount path: the default /workspace
    await sidebar.locator('.monaco-list-row', { hasText: 'notes' }).first().waitFor({ timeout: 20_000 });
    await shot('vault-created');

    // 4. Launch a shuttle from the Shuttles welcome button: vault (defaults), time to live.
    await sidebar.getByRole('button', { name: 'Launch Shuttle' }).first().click();
    await quick.getByText('Workspace defaults').first().waitFor();
    await shot('launch-pick-vault');
    await quick.locator('input').first().press('Enter');
    await quick.getByText('1 hour').first().waitFor();
    await quick.getByText('1 hour').first().click();
    const terminal = page.locator('.terminal-wrapper .xterm-rows, .xterm .xterm-rows').first();
    await terminal.waitFor({ timeout: 60_000 });
    await sidebar.locator('.monaco-list-row', { hasText: 'running' }).first().waitFor({ timeout: 30_000 });
    await shot('shuttle-running-terminal-open');

    // 5. Type in the shuttle's terminal and see the output.
    await page.waitForFunction(() => /\$|#/.test(document.querySelector('.xterm-rows')?.textContent ?? ''), null, { timeout: 30_000 });
    await page.locator('.xterm').first().click();
    await page.keyboard.type('echo hello-onmemos');
    await page.keyboard.press('Enter');
    await terminalLine(page, 'hello-onmemos');
    await shot('terminal-hello-onmemos');

    // 6. Reload the window (a page reload in code-server): the terminal comes back attached to the
    // same shell, its scrollback shown, and it still takes input.
    const marker = `before-reload-${Math.random().toString(36).slice(2, 10)}`;
    await page.keyboard.type(`echo ${marker}`);
    await page.keyboard.press('Enter');
    await terminalLine(page, marker);
    await page.reload();
    await page.locator('.part.activitybar [aria-label*="OnMemOS"]').first().waitFor({ timeout: 60_000 });
    // Activation is lazy: the restored OnMemOS sidebar activates the extension; open it if the
    // window came back without it (clicking an open container's icon would close it).
    const opened = await page.locator('.part.activitybar .action-item.checked [aria-label*="OnMemOS"]').first()
      .waitFor({ timeout: 15_000 }).then(() => true, () => false);
    if (!opened) await page.locator('.part.activitybar [aria-label*="OnMemOS"]').first().click();
    await terminalLine(page, marker, 60_000); // only the reattached shell's scrollback holds the marker
    await shot('reloaded-terminal-reattached-scrollback');
    await page.locator('.xterm:visible').first().click();
    await page.keyboard.type('echo after-reload');
    await page.keyboard.press('Enter');
    await terminalLine(page, 'after-reload');
    await shot('reloaded-terminal-after-reload');

    // 7. A terminal from the "OnMemOS Shuttle" profile: pick the running shuttle; the new terminal
    // is a fresh shell in it (none of the first terminal's output) and runs a command.
    await page.keyboard.press('F1');
    await quick.locator('input').first().fill('>Terminal: Create New Terminal (With Profile)');
    await quick.locator('.monaco-list-row', { hasText: 'Create New Terminal (With Profile)' }).first().click();
    await quick.locator('.monaco-list-row', { hasText: 'OnMemOS Shuttle' }).first().waitFor({ timeout: 15_000 });
    await shot('terminal-profile-pick');
    await quick.locator('.monaco-list-row', { hasText: 'OnMemOS Shuttle' }).first().click();
    await quick.getByText('OnMemOS Shuttle terminal', { exact: true }).waitFor({ timeout: 15_000 });
    const running = quick.locator('.monaco-list-row').filter({ hasNotText: 'Launch a new shuttle' }).first();
    await running.waitFor({ timeout: 15_000 });
    await shot('terminal-profile-pick-shuttle');
    await running.click();
    // A second OnMemOS terminal, and it is the one on screen (nobody clicks its tab): a fresh shell
    // with a prompt and none of the first terminal's output.
    await page.waitForFunction(() => [...document.querySelectorAll('.terminal-tabs-entry')].filter((e) => /OnMemOS/.test(e.textContent ?? '')).length === 2, null, { timeout: 30_000 });
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('.xterm-rows')].filter((r) => r.offsetParent !== null).flatMap((r) => [...r.children].map((d) => d.textContent?.trim() ?? ''));
      return rows.some((t) => /[$#]$/.test(t)) && !rows.includes('hello-onmemos');
    }, null, { timeout: 15_000 }).catch(async (e) => { throw new Error(`the profile's terminal is not the one on screen with a fresh shell: ${JSON.stringify((await visibleTerminalRows(page)).filter(Boolean))}`, { cause: e }); });
    await page.locator('.xterm:visible').first().click();
    await page.keyboard.type('echo "from-profile-$((6*7))"');
    await page.keyboard.press('Enter');
    await terminalLine(page, 'from-profile-42');
    await shot('terminal-from-profile');

    // 8. Stop the daemon from the command palette: the views say so and offer to start it again.
    const pid = JSON.parse(readFileSync(join(home, 'daemon.lock'), 'utf8')).pid;
    await page.keyboard.press('F1');
    await quick.locator('input').first().fill('>OnMemOS: Stop Daemon');
    await quick.locator('.monaco-list-row', { hasText: 'Stop Daemon' }).first().waitFor();
    await quick.locator('input').first().press('Enter');
    await sidebar.getByRole('button', { name: 'Start Daemon' }).first().waitFor({ timeout: 20_000 });
    // The views turn as soon as the daemon stops answering; the command ends when its process is gone.
    await page.locator('.notifications-toasts').getByText('OnMemOS daemon stopped.').first().waitFor({ timeout: 20_000 });
    if (alive(pid)) throw new Error(`the daemon (pid ${pid}) still runs after OnMemOS: Stop Daemon`);
    await shot('daemon-stopped');
  } catch (e) {
    await page.screenshot({ path: join(shots, `FAILED-after-${String(step).padStart(2, '0')}.png`) }).catch(() => {});
    throw e;
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
    stopDaemon(home);
    // Shuttles (and warm pool members) outlive their daemon on purpose: end this run's.
    killShuttles(home);
  }
}

// The text rows of the terminal on screen (hidden terminal instances have no offsetParent).
function visibleTerminalRows(page) {
  return page.evaluate(() => [...document.querySelectorAll('.xterm-rows')].filter((r) => r.offsetParent !== null)
    .flatMap((r) => [...r.children].map((d) => d.textContent?.trim() ?? '')));
}

// Waits for a row of the terminal on screen whose whole text is `text`: a command's output line,
// not the line that typed it.
async function terminalLine(page, text, timeout = 30_000) {
  await page.waitForFunction((t) => [...document.querySelectorAll('.xterm-rows')].filter((r) => r.offsetParent !== null)
    .some((r) => [...r.children].some((d) => d.textContent?.trim() === t)), text, { timeout });
}

// A zombie (exited, not yet reaped by whoever inherited it) counts as gone.
function alive(pid) {
  try { process.kill(pid, 0); } catch { return false; }
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return true; }
}

// The extension started the daemon detached (it outlives windows on purpose): stop it by the pid
// in its home's lock file.
function stopDaemon(home) {
  const lock = join(home, 'daemon.lock');
  if (!existsSync(lock)) return;
  try {
    const { pid } = JSON.parse(readFileSync(lock, 'utf8'));
    if (pid) process.kill(pid, 'SIGTERM');
  } catch { /* already gone */ }
}
